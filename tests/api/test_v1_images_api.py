"""v1 images over HTTP (reference 11): create with headers and data, HEAD, GET data, one repository with v2."""
from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import pytest

from tests import images as fx
from tests.api.helpers import body, reconfigure, stored_keys
from tests.api.v1_helpers import ADMIN, ALICE, BOB, RAW, created, meta, post, v2

DATA = fx.raw(5000)


def test_create_with_headers_and_data_then_head_get_and_v2_agree(api: Any) -> None:
    resp = post(api, ALICE, {**RAW, **meta(name="v1 image", min_ram=256, property_os_distro="ubuntu")}, DATA)
    assert resp.status_code == 201, resp.body
    doc = body(resp)["image"]
    checksum = hashlib.md5(DATA).hexdigest()
    assert resp.headers["Location"] == f"/v1/images/{doc['id']}"
    assert resp.headers["ETag"] == checksum
    assert (doc["status"], doc["size"], doc["checksum"], doc["is_public"]) == ("active", len(DATA), checksum, False)
    assert doc["properties"] == {"os_distro": "ubuntu"}

    head = api.http.head(f"/v1/images/{doc['id']}", headers=ALICE)
    assert head.status_code == 200
    assert head.body == b""
    assert head.headers["x-image-meta-name"] == "v1 image"
    assert head.headers["x-image-meta-status"] == "active"
    assert head.headers["x-image-meta-min_ram"] == "256"
    assert head.headers["x-image-meta-property-os_distro"] == "ubuntu"
    assert head.headers["ETag"] == checksum
    assert not [k for k in head.headers if "location" in k.lower()]

    got = api.http.get(f"/v1/images/{doc['id']}", headers=ALICE)
    assert (got.status_code, got.body) == (200, DATA)
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.headers["ETag"] == checksum
    assert got.headers["x-image-meta-checksum"] == checksum

    shown = body(v2(api, ALICE, doc["id"]))
    assert (shown["status"], shown["visibility"], shown["os_distro"], shown["min_ram"]) == ("active", "shared", "ubuntu", 256)
    assert "locations" not in doc and "location" not in doc


def test_a_v2_image_is_visible_through_v1(api: Any) -> None:
    made = api.http.post("/v2/images", headers={**ALICE, "Content-Type": "application/json"},
                         body=json.dumps({"name": "from v2", "disk_format": "raw", "container_format": "bare", "k": "v"}))
    image_id = body(made)["id"]
    head = api.http.head(f"/v1/images/{image_id}", headers=ALICE)
    assert (head.status_code, head.headers["x-image-meta-status"], head.headers["x-image-meta-property-k"]) == (200, "queued", "v")
    assert api.http.get(f"/v1/images/{image_id}", headers=ALICE).status_code == 404  # no data yet: not active


def test_size_zero_without_data_is_active_at_once(api: Any) -> None:
    doc = created(api, ALICE, {**RAW, **meta(size=0)})
    assert (doc["status"], doc["size"]) == ("active", 0)
    got = api.http.get(f"/v1/images/{doc['id']}", headers=ALICE)
    assert (got.status_code, got.body) == (200, b"")


def test_no_data_leaves_the_image_queued(api: Any) -> None:
    doc = created(api, ALICE, {**RAW, **meta(name="later")})
    assert (doc["status"], doc["size"], doc["is_public"]) == ("queued", None, False)


@pytest.mark.parametrize("headers,message", [
    (meta(foo="x"), "Bad header: x-image-meta-foo"),
    (meta(size="-1"), "Image size must be a non-negative integer, not -1."),
    (meta(min_disk="big"), "Cannot convert image min_disk 'big' to an integer."),
    (meta(is_public="perhaps"), "Invalid value for is_public: 'perhaps'"),
    (meta(protected="2"), "Invalid value for protected: '2'"),
    (meta(disk_format="floppy"), "does not match schema 'image'"),
    (meta(status="active"), "Attribute 'status' is read-only."),
    ({"x-glance-api-copy-from": "http://example.com/x"}, "copy_from is not supported"),
    (meta(checksum="abc"), "x-image-meta-checksum can only be checked against image data"),
])
def test_bad_headers_are_400_or_403_with_a_clear_message_and_create_nothing(api: Any, headers: dict[str, str], message: str) -> None:
    resp = post(api, {**ALICE, "Accept": "application/json"}, headers)
    assert resp.status_code == (403 if "read-only" in message else 400), resp.body
    assert message in body(resp)["message"]
    assert body(api.http.get("/v2/images", headers=ALICE))["images"] == []


def test_a_body_that_is_not_octet_stream_is_400(api: Any) -> None:
    resp = api.http.post("/v1/images", headers={**ALICE, "Accept": "application/json", "Content-Type": "text/plain", **RAW}, body=b"abc")
    assert resp.status_code == 400
    assert "application/octet-stream" in body(resp)["message"]


def test_is_public_needs_admin(api: Any) -> None:
    assert post(api, ALICE, meta(is_public="true")).status_code == 403
    assert created(api, ADMIN, meta(is_public="true"))["is_public"] is True


def killed_after(api: Any, headers: dict[str, str], data: bytes, status: int) -> dict[str, Any]:
    image_id = str(uuid.uuid4())
    resp = post(api, ALICE, {**headers, **meta(id=image_id)}, data)
    assert resp.status_code == status, resp.body
    head = api.http.head(f"/v1/images/{image_id}", headers=ALICE)
    assert head.status_code == 200
    return {"status": head.headers["x-image-meta-status"], "v2": body(v2(api, ALICE, image_id))}


def test_format_mismatch_kills_the_image_and_stores_nothing(api: Any, container: Any) -> None:
    found = killed_after(api, meta(disk_format="qcow2", container_format="bare"), fx.raw(), 415)
    assert found["status"] == "killed"
    assert (found["v2"]["status"], found["v2"]["size"], found["v2"]["checksum"]) == ("killed", None, None)
    assert stored_keys(container) == []


def test_declared_size_or_checksum_that_does_not_match_kills_the_image(api: Any) -> None:
    size = killed_after(api, {**RAW, **meta(size=len(DATA) + 1)}, DATA, 400)
    assert size["status"] == "killed"
    checksum = killed_after(api, {**RAW, **meta(checksum="0" * 32)}, DATA, 400)
    assert checksum["status"] == "killed"


def test_killed_images_are_not_listed_and_can_only_be_deleted(api: Any) -> None:
    image_id = str(uuid.uuid4())
    post(api, ALICE, {**RAW, **meta(id=image_id, size=1)}, DATA)
    assert body(api.http.get("/v1/images", headers=ALICE))["images"] == []
    put = api.http.put(f"/v1/images/{image_id}", headers={**ALICE, "Content-Type": "application/octet-stream"}, body=DATA)
    assert put.status_code == 409
    assert api.http.delete(f"/v1/images/{image_id}", headers=ALICE).status_code == 200


@pytest.mark.moto  # the Location is an S3 presigned URL
def test_download_of_a_large_image_redirects_with_the_metadata_headers(api: Any, container: Any) -> None:
    reconfigure(container, proxy_max_bytes=100)
    doc = created(api, ALICE, RAW, DATA)
    got = api.http.get(f"/v1/images/{doc['id']}", headers=ALICE)
    assert got.status_code == 302
    assert got.headers["x-image-meta-size"] == str(len(DATA))
    assert got.headers["Location"].startswith("https://")


def test_deactivated_data_is_403_for_non_admins(api: Any) -> None:
    doc = created(api, ALICE, RAW, DATA)
    assert api.http.post(f"/v2/images/{doc['id']}/actions/deactivate", headers=ALICE).status_code == 204
    assert api.http.get(f"/v1/images/{doc['id']}", headers=ALICE).status_code == 403
    assert api.http.get(f"/v1/images/{doc['id']}", headers=ADMIN).body == DATA


def test_other_projects_cannot_see_a_non_public_image(api: Any) -> None:
    doc = created(api, ALICE, RAW, DATA)
    assert api.http.head(f"/v1/images/{doc['id']}", headers=BOB).status_code == 404
    assert api.http.get(f"/v1/images/{doc['id']}", headers=BOB).status_code == 404


def test_a_refused_location_is_400_and_leaves_no_image(api: Any) -> None:
    image_id = str(uuid.uuid4())
    resp = post(api, {**ALICE, "Accept": "application/json"},
                {**RAW, **meta(id=image_id, location="http://169.254.169.254/latest/meta-data")})
    assert resp.status_code == 400, resp.body
    assert api.http.head(f"/v1/images/{image_id}", headers=ALICE).status_code == 404


def test_methods_and_paths(api: Any) -> None:
    assert api.http.head("/v1/images/detail", headers=ALICE).status_code == 405
    assert api.http.patch("/v1/images/x", headers=ALICE).status_code == 405
    # v1 paths get no unversioned alias: /images/{id} stays v2's.
    doc = created(api, ALICE, RAW, DATA)
    assert body(api.http.get(f"/images/{doc['id']}", headers=ALICE))["self"] == f"/v2/images/{doc['id']}"
