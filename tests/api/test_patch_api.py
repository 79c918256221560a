"""PATCH: both media types, every rule of reference 3.3."""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.helpers import ADMIN, ALICE, BOB, PATCH20, PATCH21, body, create, patch


@pytest.fixture
def image(api: Any) -> dict[str, Any]:
    return create(api, ALICE, name="orig", disk_format="raw", container_format="bare", extra="e")


def test_v21_replace_add_remove(api: Any, image: dict[str, Any]) -> None:
    resp = patch(api, ALICE, image["id"], [
        {"op": "replace", "path": "/name", "value": "new"},
        {"op": "add", "path": "/k", "value": "v"},
        {"op": "add", "path": "/extra", "value": "overwritten"},
        {"op": "remove", "path": "/k"},
        {"op": "replace", "path": "/min_ram", "value": 512},
        {"op": "add", "path": "/tags", "value": ["a", "b"]},
    ])
    assert resp.status_code == 200, resp.body
    doc = body(resp)
    assert (doc["name"], doc["extra"], doc["min_ram"], doc["tags"]) == ("new", "overwritten", 512, ["a", "b"])
    assert "k" not in doc
    assert body(api.http.get(f"/v2/images/{image['id']}", headers=ALICE))["name"] == "new"


def test_v20_draft4_form(api: Any, image: dict[str, Any]) -> None:
    resp = patch(api, ALICE, image["id"], [{"replace": "/name", "value": "d4"}, {"add": "/new", "value": "x"}], PATCH20)
    assert resp.status_code == 200 and body(resp)["name"] == "d4" and body(resp)["new"] == "x"
    # v2.0: adding an existing property (extra or core) is a conflict.
    assert patch(api, ALICE, image["id"], [{"add": "/new", "value": "y"}], PATCH20).status_code == 409
    assert patch(api, ALICE, image["id"], [{"add": "/name", "value": "y"}], PATCH20).status_code == 409
    assert patch(api, ALICE, image["id"], [{"remove": "/new"}], PATCH20).status_code == 200


@pytest.mark.parametrize("media", ["application/json", "application/json-patch+json", ""])
def test_other_media_types_are_415_with_accept_patch(api: Any, image: dict[str, Any], media: str) -> None:
    resp = patch(api, ALICE, image["id"], [{"op": "replace", "path": "/name", "value": "x"}], media)
    assert resp.status_code == 415
    assert resp.headers["Accept-Patch"] == f"{PATCH20}, {PATCH21}"


@pytest.mark.parametrize(
    "ops,code",
    [
        ([{"op": "test", "path": "/name", "value": "x"}], 400),
        ([{"op": "move", "path": "/name", "from": "/x"}], 400),
        ([{"op": "replace", "path": "/name"}], 400),
        ([{"op": "replace", "path": "name", "value": "x"}], 400),
        ([{"op": "replace", "path": "/name/", "value": "x"}], 400),
        ([{"op": "replace", "path": "//name", "value": "x"}], 400),
        ([{"op": "replace", "path": "/a~2b", "value": "x"}], 400),
        ([{"op": "replace", "path": "/name/deep", "value": "x"}], 400),
        ([{"op": "replace", "path": "/name", "value": 5}], 400),
        ([{"op": "replace", "path": "/min_ram", "value": -1}], 400),
        ([{"op": "replace", "path": "/visibility", "value": "x"}], 400),
        ([{"op": "add", "path": "/custom", "value": 5}], 400),
        ([{"op": "add", "path": "/" + "k" * 256, "value": "v"}], 400),
        ({"op": "replace"}, 400),
        (["not-an-object"], 400),
        ([{"op": "replace", "path": "/status", "value": "active"}], 403),
        ([{"op": "replace", "path": "/checksum", "value": "x"}], 403),
        ([{"op": "replace", "path": "/id", "value": "x"}], 403),
        ([{"op": "replace", "path": "/self", "value": "x"}], 403),
        ([{"op": "add", "path": "/os_glance_x", "value": "x"}], 403),
        ([{"op": "add", "path": "/deleted", "value": "x"}], 403),
        ([{"op": "remove", "path": "/name"}], 403),
        ([{"op": "replace", "path": "/visibility", "value": "public"}], 403),
        ([{"op": "replace", "path": "/owner", "value": "other"}], 403),
        ([{"op": "replace", "path": "/locations", "value": []}], 403),
        ([{"op": "replace", "path": "/missing", "value": "x"}], 409),
        ([{"op": "remove", "path": "/missing"}], 409),
    ],
)
def test_patch_errors(api: Any, image: dict[str, Any], ops: Any, code: int) -> None:
    resp = api.http.patch(f"/v2/images/{image['id']}", headers={**ALICE, "Content-Type": PATCH21}, body=json.dumps(ops))
    assert resp.status_code == code, resp.body
    # Nothing was written: the stored image is as created.
    stored = body(api.http.get(f"/v2/images/{image['id']}", headers=ALICE))
    assert (stored["name"], stored["extra"], stored["updated_at"]) == ("orig", "e", image["updated_at"])


def test_all_ops_apply_or_none_do(api: Any, image: dict[str, Any]) -> None:
    resp = patch(api, ALICE, image["id"], [{"op": "replace", "path": "/name", "value": "n"}, {"op": "remove", "path": "/nope"}])
    assert resp.status_code == 409
    assert body(api.http.get(f"/v2/images/{image['id']}", headers=ALICE))["name"] == "orig"


def test_pointer_escapes(api: Any, image: dict[str, Any]) -> None:
    doc = body(patch(api, ALICE, image["id"], [{"op": "add", "path": "/a~1b~0c", "value": "v"}]))
    assert doc["a/b~c"] == "v"


def test_formats_change_only_while_queued(api: Any, image: dict[str, Any]) -> None:
    assert patch(api, ALICE, image["id"], [{"op": "replace", "path": "/disk_format", "value": "qcow2"}]).status_code == 200


def test_admin_may_publicize_and_change_owner(api: Any, image: dict[str, Any]) -> None:
    resp = patch(api, ADMIN, image["id"], [
        {"op": "replace", "path": "/visibility", "value": "public"},
        {"op": "replace", "path": "/owner", "value": "proj-z"},
    ])
    assert resp.status_code == 200 and body(resp)["visibility"] == "public" and body(resp)["owner"] == "proj-z"


def test_owner_may_communitize(api: Any, image: dict[str, Any]) -> None:
    assert body(patch(api, ALICE, image["id"], [{"op": "replace", "path": "/visibility", "value": "community"}]))["visibility"] == "community"


def test_other_project_patch_is_404_when_hidden(api: Any, image: dict[str, Any]) -> None:
    assert patch(api, BOB, image["id"], [{"op": "replace", "path": "/name", "value": "x"}]).status_code == 404


def test_property_quota_on_patch_is_413(api: Any, image: dict[str, Any]) -> None:
    ops = [{"op": "add", "path": f"/p{i}", "value": "v"} for i in range(128)]
    assert patch(api, ALICE, image["id"], ops).status_code == 413
