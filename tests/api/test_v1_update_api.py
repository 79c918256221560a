"""v1 PUT and DELETE over HTTP (reference 11): header updates, purge-props, data only while queued, immutables, delete codes."""
from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tests import images as fx
from tests.api.helpers import body, stored_keys
from tests.api.v1_helpers import ADMIN, ALICE, BOB, OCTET, RAW, created, meta, v2

DATA = fx.raw(3000)
JSON = {"Accept": "application/json"}


def put(api: Any, who: dict[str, str], image_id: str, headers: dict[str, str], data: bytes | None = None) -> Any:
    extra = OCTET if data is not None else {}
    return api.http.put(f"/v1/images/{image_id}", headers={**who, **JSON, **extra, **headers}, body=data or b"")


def test_put_updates_metadata_and_purges_properties_not_sent(api: Any) -> None:
    doc = created(api, ALICE, {**RAW, **meta(name="a", property_keep="1", property_drop="2")})
    resp = put(api, ALICE, doc["id"], meta(name="b", min_disk=3, property_keep="1", property_new="3"))
    assert resp.status_code == 200, resp.body
    image = body(resp)["image"]
    assert (image["name"], image["min_disk"], image["properties"]) == ("b", 3, {"keep": "1", "new": "3"})
    assert body(v2(api, ALICE, doc["id"]))["name"] == "b"


def test_purge_props_false_keeps_unsent_properties(api: Any) -> None:
    doc = created(api, ALICE, {**RAW, **meta(property_keep="1")})
    resp = put(api, ALICE, doc["id"], {**meta(property_other="2"), "x-glance-registry-purge-props": "false"})
    assert body(resp)["image"]["properties"] == {"keep": "1", "other": "2"}


def test_put_data_while_queued_activates(api: Any) -> None:
    doc = created(api, ALICE, RAW)
    resp = put(api, ALICE, doc["id"], meta(property_p="x"), DATA)
    assert resp.status_code == 200, resp.body
    image = body(resp)["image"]
    assert (image["status"], image["checksum"]) == ("active", hashlib.md5(DATA).hexdigest())
    assert resp.headers["ETag"] == image["checksum"]
    assert api.http.get(f"/v1/images/{doc['id']}", headers=ALICE).body == DATA


def test_put_data_when_not_queued_is_409_and_changes_nothing(api: Any) -> None:
    doc = created(api, ALICE, RAW, DATA)
    resp = put(api, ALICE, doc["id"], meta(name="renamed"), b"more")
    assert resp.status_code == 409
    assert "Cannot upload to an unqueued image" in body(resp)["message"]
    assert body(v2(api, ALICE, doc["id"]))["name"] is None


def test_failed_put_upload_kills_the_image(api: Any) -> None:
    doc = created(api, ALICE, meta(disk_format="qcow2", container_format="bare"))
    assert put(api, ALICE, doc["id"], {}, fx.raw()).status_code == 415
    assert api.http.head(f"/v1/images/{doc['id']}", headers=ALICE).headers["x-image-meta-status"] == "killed"


@pytest.mark.parametrize("header", [meta(status="active"), meta(id="another-id")])
def test_status_and_id_are_immutable(api: Any, header: dict[str, str]) -> None:
    doc = created(api, ALICE, RAW)
    resp = put(api, ADMIN, doc["id"], header)
    assert resp.status_code == 403
    assert "read-only" in body(resp)["message"]


def test_sending_back_what_head_gave_is_accepted(api: Any) -> None:
    doc = created(api, ALICE, {**RAW, **meta(property_p="1")}, DATA)
    echoed = {k: v for k, v in api.http.head(f"/v1/images/{doc['id']}", headers=ALICE).headers.items()
              if k.startswith("x-image-meta-") and k.split("-")[3] in ("id", "status", "size", "checksum", "name", "property")}
    assert put(api, ALICE, doc["id"], echoed).status_code == 200


def test_size_and_checksum_are_fixed_for_non_admins_once_active(api: Any) -> None:
    doc = created(api, ALICE, RAW, DATA)
    resp = put(api, ALICE, doc["id"], meta(size=1))
    assert (resp.status_code, body(resp)["message"]) == (403, "Forbidden to modify 'size' of active image.")


def test_formats_change_only_while_queued(api: Any) -> None:
    doc = created(api, ALICE, RAW, DATA)
    assert put(api, ALICE, doc["id"], meta(disk_format="qcow2")).status_code == 403
    queued = created(api, ALICE, RAW)
    assert body(put(api, ALICE, queued["id"], meta(disk_format="qcow2")))["image"]["disk_format"] == "qcow2"


def test_is_public_on_update_needs_admin_and_false_makes_it_shared(api: Any) -> None:
    doc = created(api, ALICE, RAW)
    assert put(api, ALICE, doc["id"], meta(is_public="true")).status_code == 403
    assert body(put(api, ADMIN, doc["id"], meta(is_public="true")))["image"]["is_public"] is True
    assert body(put(api, ADMIN, doc["id"], meta(is_public="false")))["image"]["is_public"] is False
    assert body(v2(api, ALICE, doc["id"]))["visibility"] == "shared"


def test_put_of_someone_elses_image(api: Any) -> None:
    doc = created(api, ALICE, RAW)
    assert put(api, BOB, doc["id"], meta(name="x")).status_code == 404
    assert put(api, ALICE, "no-such-image", meta(name="x")).status_code == 404


def test_put_bad_header_is_400(api: Any) -> None:
    doc = created(api, ALICE, RAW)
    resp = put(api, ALICE, doc["id"], {"x-image-meta-colour": "red"})
    assert (resp.status_code, body(resp)["message"]) == (400, "Bad header: x-image-meta-colour")


def test_delete_is_200_then_404(api: Any, container: Any) -> None:
    doc = created(api, ALICE, RAW, DATA)
    resp = api.http.delete(f"/v1/images/{doc['id']}", headers=ALICE)
    assert (resp.status_code, resp.body) == (200, b"")
    assert api.http.delete(f"/v1/images/{doc['id']}", headers=ALICE).status_code == 404
    assert api.http.head(f"/v1/images/{doc['id']}", headers=ALICE).status_code == 404
    assert v2(api, ALICE, doc["id"]).status_code == 404
    assert stored_keys(container) == []


def test_delete_of_a_protected_image_is_403(api: Any) -> None:
    doc = created(api, ALICE, {**RAW, **meta(protected="true")})
    resp = api.http.delete(f"/v1/images/{doc['id']}", headers={**ALICE, **JSON})
    assert resp.status_code == 403
    assert "protected" in json.loads(resp.body)["message"]
    assert put(api, ALICE, doc["id"], meta(protected="false")).status_code == 200
    assert api.http.delete(f"/v1/images/{doc['id']}", headers=ALICE).status_code == 200


def test_delete_by_another_project_is_404_and_by_a_reader_403(api: Any) -> None:
    doc = created(api, ALICE, RAW)
    assert api.http.delete(f"/v1/images/{doc['id']}", headers=BOB).status_code == 404
    reader = {"X-Auth-Token": "rita:proj-a:reader"}
    assert api.http.delete(f"/v1/images/{doc['id']}", headers=reader).status_code == 403
