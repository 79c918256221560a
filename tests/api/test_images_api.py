"""The image routes through chalice.test.Client over moto: codes, bodies, headers."""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.helpers import ADMIN, ALICE, BOB, READER, body, create

UUID = "5b3c6f5e-1f7b-4a59-8f5f-0d7f9f3f2a11"


def test_create_returns_201_location_and_glance_document(api: Any) -> None:
    resp = api.http.post(
        "/v2/images", headers=ALICE, body=json.dumps({"name": "x", "disk_format": "qcow2", "container_format": "bare", "k": "v"})
    )
    assert resp.status_code == 201
    doc = body(resp)
    assert resp.headers["Location"] == f"/v2/images/{doc['id']}"
    assert doc["status"] == "queued" and doc["visibility"] == "shared" and doc["owner"] == "proj-a"
    assert doc["k"] == "v" and doc["tags"] == [] and doc["checksum"] is None and doc["size"] is None
    assert doc["self"] == f"/v2/images/{doc['id']}" and doc["file"].endswith("/file") and doc["schema"] == "/v2/schemas/image"
    assert doc["created_at"].endswith("Z") and len(doc["created_at"]) == 20
    assert resp.headers["x-openstack-request-id"].startswith("req-")


def test_show_is_one_visible_image_and_404_for_others(api: Any) -> None:
    doc = create(api, ALICE, name="mine", visibility="private")
    assert body(api.http.get(f"/v2/images/{doc['id']}", headers=ALICE))["name"] == "mine"
    resp = api.http.get(f"/v2/images/{doc['id']}", headers=BOB)
    assert resp.status_code == 404
    assert body(resp) == {"message": f"No image found with ID {doc['id']}", "code": "404 Not Found", "title": "Not Found"}


@pytest.mark.parametrize(
    "fields,code",
    [
        ({"status": "active"}, 403),
        ({"checksum": "abc"}, 403),
        ({"self": "/x"}, 403),
        ({"file": "/x"}, 403),
        ({"os_glance_import_task": "x"}, 403),
        ({"location": "x"}, 403),
        ({"visibility": "public"}, 403),
        ({"owner": "someone-else"}, 403),
        ({"name": 5}, 400),
        ({"visibility": "everyone"}, 400),
        ({"disk_format": "floppy"}, 400),
        ({"min_ram": -1}, 400),
        ({"id": "not-a-uuid"}, 400),
        ({"custom": 5}, 400),
        ({"x" * 256: "v"}, 400),
        ({"tags": ["t" * 256]}, 400),
    ],
)
def test_create_errors(api: Any, fields: dict[str, Any], code: int) -> None:
    resp = api.http.post("/v2/images", headers=ALICE, body=json.dumps(fields))
    assert resp.status_code == code, resp.body
    assert body(resp)["code"].startswith(str(code))


def test_create_bad_bodies_are_400(api: Any) -> None:
    assert api.http.post("/v2/images", headers=ALICE, body="{not json").status_code == 400
    assert api.http.post("/v2/images", headers=ALICE, body="").status_code == 400
    assert api.http.post("/v2/images", headers=ALICE, body="[1]").status_code == 400
    assert api.http.post("/v2/images", headers=ALICE, body='"str"').status_code == 400


def test_duplicate_id_is_409(api: Any) -> None:
    create(api, ALICE, id=UUID)
    resp = api.http.post("/v2/images", headers=ALICE, body=json.dumps({"id": UUID}))
    assert resp.status_code == 409


def test_property_quota_is_413(api: Any) -> None:
    fields = {f"p{i}": "v" for i in range(129)}
    assert api.http.post("/v2/images", headers=ALICE, body=json.dumps(fields)).status_code == 413
    assert api.http.post("/v2/images", headers=ALICE, body=json.dumps({"tags": [str(i) for i in range(129)]})).status_code == 413


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Auth-Token": "just-a-token"},
        {"X-Auth-Token": "a:b"},
        {"X-Identity-Status": "Invalid", "X-Project-Id": "p"},
    ],
)
def test_unauthenticated_is_401(api: Any, headers: dict[str, str]) -> None:
    resp = api.http.get("/v2/images", headers={**headers, "Accept": "application/json"})
    assert resp.status_code == 401
    assert body(resp)["title"] == "Unauthorized"


def test_identity_headers_and_encoded_token(api: Any) -> None:
    confirmed = {"X-Identity-Status": "Confirmed", "X-User-Id": "u", "X-Tenant-Id": "proj-a", "X-Roles": "Member"}
    doc = create(api, {**confirmed, "Content-Type": "application/json"}, name="by-headers")
    assert doc["owner"] == "proj-a"
    encoded = {"X-Auth-Token": "alice%3Aproj-a%3Amember", "Accept": "application/json"}
    assert api.http.get(f"/v2/images/{doc['id']}", headers=encoded).status_code == 200


def test_reader_cannot_create_but_can_list(api: Any) -> None:
    assert api.http.post("/v2/images", headers=READER, body="{}").status_code == 403
    assert api.http.get("/v2/images", headers=READER).status_code == 200


def test_delete_then_404_and_protected_403(api: Any) -> None:
    doc = create(api, ALICE, name="d")
    resp = api.http.delete(f"/v2/images/{doc['id']}", headers=ALICE)
    assert resp.status_code == 204 and resp.body in (b"", "")
    assert api.http.get(f"/v2/images/{doc['id']}", headers=ALICE).status_code == 404
    assert api.http.delete(f"/v2/images/{doc['id']}", headers=ALICE).status_code == 404
    prot = create(api, ALICE, protected=True)
    assert api.http.delete(f"/v2/images/{prot['id']}", headers=ALICE).status_code == 403


def test_other_project_cannot_delete_public_image(api: Any) -> None:
    doc = create(api, ADMIN, visibility="public")
    assert api.http.delete(f"/v2/images/{doc['id']}", headers=BOB).status_code == 403
    assert api.http.get(f"/v2/images/{doc['id']}", headers=BOB).status_code == 200


def test_tags_put_delete(api: Any) -> None:
    doc = create(api, ALICE)
    assert api.http.put(f"/v2/images/{doc['id']}/tags/web-server", headers=ALICE).status_code == 204
    assert api.http.put(f"/v2/images/{doc['id']}/tags/web-server", headers=ALICE).status_code == 204
    assert body(api.http.get(f"/v2/images/{doc['id']}", headers=ALICE))["tags"] == ["web-server"]
    assert api.http.delete(f"/v2/images/{doc['id']}/tags/web-server", headers=ALICE).status_code == 204
    assert api.http.delete(f"/v2/images/{doc['id']}/tags/web-server", headers=ALICE).status_code == 404
    assert api.http.put(f"/v2/images/{doc['id']}/tags/{'t' * 256}", headers=ALICE).status_code == 400
    assert api.http.put(f"/v2/images/{doc['id']}/tags/x", headers=BOB).status_code == 404


def test_get_with_body_is_400(api: Any) -> None:
    doc = create(api, ALICE)
    assert api.http.get(f"/v2/images/{doc['id']}", headers=ALICE, body="{}").status_code == 400


def test_list_page_links_and_filters(api: Any) -> None:
    made = [create(api, ALICE, name=f"n{i}")["id"] for i in range(3)]
    resp = api.http.get("/v2/images?limit=2&sort_key=name&sort_dir=asc", headers=ALICE)
    doc = body(resp)
    assert [im["id"] for im in doc["images"]] == made[:2]
    assert doc["first"] == "/v2/images?limit=2&sort_key=name&sort_dir=asc"
    assert doc["next"] == f"/v2/images?limit=2&sort_key=name&sort_dir=asc&marker={made[1]}"
    assert doc["schema"] == "/v2/schemas/images"
    last = body(api.http.get(doc["next"], headers=ALICE))
    assert [im["id"] for im in last["images"]] == made[2:] and "next" not in last
    assert body(api.http.get("/v2/images", headers=ALICE))["first"] == "/v2/images"


@pytest.mark.parametrize("qs", ["limit=-1", "marker=nope", "sort_key=bogus", "visibility=x", "changes-since=2020-01-01"])
def test_list_bad_params_are_400(api: Any, qs: str) -> None:
    assert api.http.get(f"/v2/images?{qs}", headers=ALICE).status_code == 400


def test_request_id_is_reused_and_too_long_is_431(api: Any) -> None:
    resp = api.http.get("/v2/images", headers={**ALICE, "X-Openstack-Request-ID": "req-mine"})
    assert resp.headers["x-openstack-request-id"] == "req-mine"
    assert api.http.get("/v2/images", headers={**ALICE, "X-Openstack-Request-ID": "r" * 65}).status_code == 431


def test_wrong_method_is_405_with_allow(api: Any) -> None:
    resp = api.http.put("/v2/images", headers=ALICE, body="{}")
    assert resp.status_code == 405
    assert resp.headers["Allow"] == "GET, POST"


def test_error_media_type_follows_accept(api: Any) -> None:
    resp = api.http.get("/v2/images/nope", headers={**ALICE, "Accept": "*/*"})
    assert resp.status_code == 404 and resp.headers["Content-Type"].startswith("text/html")
    assert "<h1>404 Not Found</h1>" in resp.body.decode()
    plain = api.http.get("/v2/images/nope", headers={**ALICE, "Accept": "text/plain"})
    assert plain.headers["Content-Type"].startswith("text/plain") and plain.body.decode().startswith("404 Not Found")


def test_unversioned_paths_serve_v2(api: Any) -> None:
    doc = create(api, ALICE, name="u")
    assert body(api.http.get(f"/images/{doc['id']}", headers=ALICE))["name"] == "u"
