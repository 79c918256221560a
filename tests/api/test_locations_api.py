"""Location changes over HTTP (reference 1.7, 2.3): the status x operation matrix, with the stored item
compared before and after every refusal, and the rules around it."""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any, Iterator

import pytest

from chalicelib.domain.images import ImageStatus, Location
from tests.api.helpers import ADMIN, ALICE, BOB, PATCH20, body, create, patch, reconfigure, run_location_task, token
from tests.webserver import ALLOWED_PORTS, FileServer, file_server

pytestmark = pytest.mark.settings(show_multiple_locations=True, allowed_hosts=frozenset({"127.0.0.1"}), allowed_ports=ALLOWED_PORTS)
SERVICE = token("nova", "service-proj", "service")
DATA = b"x" * 1000


@pytest.fixture
def web() -> Iterator[FileServer]:
    with file_server() as server:
        server.files.update({"/a.img": DATA, "/b.img": DATA, "/c.img": DATA})
        yield server


def raw_item(aws: Any, image_id: str) -> dict[str, Any]:
    """The stored DynamoDB item, exactly as the table holds it."""
    import boto3

    return boto3.client("dynamodb", region_name="us-east-1").get_item(TableName=aws.settings.resources.images_table, Key={"id": {"S": image_id}}, ConsistentRead=True)["Item"]


def seed(container: Any, api: Any, status: ImageStatus, urls: list[str]) -> str:
    """An image of ALICE's in ``status`` with ``urls`` as its locations (written straight to the table)."""
    image_id = create(api, ALICE, disk_format="raw", container_format="bare")["id"]
    repo = container.ports.images
    current = repo.get(image_id)
    size = len(DATA) if urls else None
    repo.save(replace(current, status=status, size=size, locations=tuple(Location(u, {}) for u in urls)), expected=current)
    return image_id


def add_op(url: str, pos: str = "-", **extra: Any) -> list[dict[str, Any]]:
    return [{"op": "add", "path": f"/locations/{pos}", "value": {"url": url, "metadata": {}, **extra}}]


def replace_op(*locations: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"op": "replace", "path": "/locations", "value": list(locations)}]


REMOVE_FIRST = [{"op": "remove", "path": "/locations/0"}]
ALL = list(ImageStatus)
ADD_OK = {ImageStatus.ACTIVE, ImageStatus.QUEUED}
REMOVE_OK = {ImageStatus.ACTIVE}
HAS_DATA = {ImageStatus.ACTIVE, ImageStatus.DEACTIVATED, ImageStatus.PENDING_DELETE, ImageStatus.DELETED}


# -- the matrix: 9 statuses x add / replace / remove ----------------------------------------------
# On moto: a refused change must leave the stored DynamoDB item exactly as it was.
@pytest.mark.parametrize("status", ALL, ids=[s.value for s in ALL])
def test_add_location_by_status(api: Any, aws: Any, web: FileServer, status: ImageStatus) -> None:
    image_id = seed(aws, api, status, [web["/a.img"]] if status in HAS_DATA else [])
    before = raw_item(aws, image_id)
    resp = patch(api, ADMIN, image_id, add_op(web["/b.img"]))
    if status in ADD_OK:
        assert resp.status_code == 200, resp.body
        doc = body(resp)
        assert doc["status"] == "active" and web["/b.img"] in [loc["url"] for loc in doc["locations"]]
    else:
        assert resp.status_code == 409, resp.body
        assert f"image status is {status.value}" in body(resp)["message"]
        assert raw_item(aws, image_id) == before


@pytest.mark.parametrize("status", ALL, ids=[s.value for s in ALL])
def test_replace_locations_by_status(api: Any, aws: Any, web: FileServer, status: ImageStatus) -> None:
    urls = [web["/a.img"]] if status in HAS_DATA else []
    image_id = seed(aws, api, status, urls)
    before = raw_item(aws, image_id)
    # With locations present only metadata may change; on an empty list a first location is set.
    value = [{"url": u, "metadata": {"tier": "gold"}} for u in urls] or [{"url": web["/a.img"], "metadata": {}}]
    resp = patch(api, ADMIN, image_id, replace_op(*value))
    if status in ADD_OK:
        assert resp.status_code == 200, resp.body
        # Each location is shown with its store (http(s) URLs: the http store), as Glance's multi-store does.
        shown = [{"url": v["url"], "metadata": {**v["metadata"], "store": "http"}} for v in value]
        assert body(resp)["locations"] == shown and body(resp)["status"] == "active"
        assert body(resp)["stores"] == "http"
    else:
        assert resp.status_code == 409, resp.body
        assert raw_item(aws, image_id) == before


@pytest.mark.parametrize("status", ALL, ids=[s.value for s in ALL])
def test_remove_location_by_status(api: Any, aws: Any, web: FileServer, status: ImageStatus) -> None:
    image_id = seed(aws, api, status, [web["/a.img"], web["/b.img"]])
    before = raw_item(aws, image_id)
    resp = patch(api, ADMIN, image_id, REMOVE_FIRST)
    if status in REMOVE_OK:
        assert resp.status_code == 200, resp.body
        assert [loc["url"] for loc in body(resp)["locations"]] == [web["/b.img"]]
    else:
        assert resp.status_code == 409, resp.body
        assert raw_item(aws, image_id) == before


def test_deleted_image_is_hidden_from_its_owner_but_409_for_an_admin(api: Any, container: Any, web: FileServer) -> None:
    image_id = seed(container, api, ImageStatus.DELETED, [web["/a.img"]])
    assert patch(api, ALICE, image_id, add_op(web["/b.img"])).status_code == 404
    assert patch(api, ADMIN, image_id, add_op(web["/b.img"])).status_code == 409
    # Nor can an admin change anything else on it; reads stay 404 for everyone, as in Glance.
    assert patch(api, ADMIN, image_id, [{"op": "replace", "path": "/name", "value": "x"}]).status_code == 409
    assert api.http.get(f"/v2/images/{image_id}", headers=ADMIN).status_code == 404


# -- rules of each operation ----------------------------------------------------------------------
@pytest.mark.settings(show_multiple_locations=False)
def test_every_location_op_is_403_when_locations_are_not_shown(api: Any, container: Any) -> None:
    image_id = seed(container, api, ImageStatus.ACTIVE, ["http://127.0.0.1/a", "http://127.0.0.1/b"])
    for ops in (add_op("http://127.0.0.1/c"), replace_op({"url": "http://127.0.0.1/a", "metadata": {}}), REMOVE_FIRST):
        resp = patch(api, ADMIN, image_id, ops)
        assert resp.status_code == 403, ops
    shown = body(api.http.get(f"/v2/images/{image_id}", headers=ADMIN))
    assert "locations" not in shown and "direct_url" not in shown


def test_queued_image_with_a_location_is_active_with_the_locations_size(api: Any, container: Any, web: FileServer) -> None:
    image_id = create(api, ALICE, disk_format="raw", container_format="bare")["id"]
    resp = patch(api, ALICE, image_id, add_op(web["/a.img"]))
    assert resp.status_code == 200, resp.body
    doc = body(resp)
    assert (doc["status"], doc["size"], doc["locations"]) == (
        "active", len(DATA), [{"url": web["/a.img"], "metadata": {"store": "http"}}])
    assert ("HEAD", "/a.img") in web.requests
    # Its download is a redirect to that location.
    got = api.http.get(f"/v2/images/{image_id}/file", headers=ALICE)
    assert (got.status_code, got.headers["Location"]) == (302, web["/a.img"])


def test_queued_image_without_formats_cannot_take_a_location(api: Any, container: Any, web: FileServer) -> None:
    image_id = create(api, ALICE)["id"]
    resp = patch(api, ALICE, image_id, add_op(web["/a.img"]))
    assert resp.status_code == 400 and "disk_format" in body(resp)["message"]
    assert body(api.http.get(f"/v2/images/{image_id}", headers=ALICE))["status"] == "queued"


def test_add_positions_duplicates_and_bad_urls(api: Any, container: Any, web: FileServer) -> None:
    image_id = seed(container, api, ImageStatus.ACTIVE, [web["/a.img"]])
    assert body(patch(api, ALICE, image_id, add_op(web["/b.img"], "0")))["locations"][0]["url"] == web["/b.img"]
    for bad_pos in ("x", "-1", "01x"):
        assert patch(api, ALICE, image_id, add_op(web["/c.img"], bad_pos)).status_code == 400, bad_pos
    assert patch(api, ALICE, image_id, add_op(web["/a.img"])).status_code == 400  # duplicate
    assert patch(api, ALICE, image_id, add_op(web["/missing.img"])).status_code == 400  # 404 at the URL
    for url in ("file:///etc/passwd", "swift://c/o", "ftp://127.0.0.1/x", "s3://other-bucket/images/x"):
        assert patch(api, ALICE, image_id, add_op(url)).status_code == 400, url
    assert patch(api, ALICE, image_id, [{"op": "add", "path": "/locations/-", "value": {"url": 5}}]).status_code == 400
    assert len(body(api.http.get(f"/v2/images/{image_id}", headers=ALICE))["locations"]) == 2


@pytest.mark.settings(show_multiple_locations=True)
def test_private_http_hosts_need_the_allow_list(api: Any, container: Any, web: FileServer) -> None:
    from chalicelib.adapters.web import GuardedHttp
    from chalicelib.domain.urls import FetchPolicy

    image_id = seed(container, api, ImageStatus.ACTIVE, [web["/a.img"]])
    resp = patch(api, ALICE, image_id, add_op(web["/b.img"]))
    assert resp.status_code == 400 and "IMPORT_ALLOWED_PORTS" in body(resp)["message"]
    port = int(web.url.rsplit(":", 1)[1])
    wider = GuardedHttp(FetchPolicy(allowed_ports=frozenset({port})))
    reconfigure(container, ports={"web": wider})
    resp = patch(api, ALICE, image_id, add_op(web["/b.img"]))
    assert resp.status_code == 400 and "loopback" in body(resp)["message"]
    resp = patch(api, ALICE, image_id, add_op("http://169.254.169.254/latest/meta-data/"))
    assert resp.status_code == 400 and "metadata" in body(resp)["message"]
    assert web.requests == []  # refused before any connection


def test_redirect_to_a_refused_address_is_refused(api: Any, container: Any, web: FileServer) -> None:
    web.redirects["/hop"] = "http://169.254.169.254/latest/"
    image_id = seed(container, api, ImageStatus.ACTIVE, [web["/a.img"]])
    resp = patch(api, ALICE, image_id, add_op(web["/hop"]))
    assert resp.status_code == 400 and "169.254.169.254" in body(resp)["message"]


def test_s3_locations_must_be_under_the_images_own_prefix(api: Any, container: Any, web: FileServer) -> None:
    store = container.data.store
    other = seed(container, api, ImageStatus.ACTIVE, [web["/a.img"]])
    image_id = seed(container, api, ImageStatus.ACTIVE, [web["/a.img"]])
    store.put_stream(f"images/{other}", [b"theirs"])
    store.put_stream(f"images/{image_id}/copy", [b"sub-key"])
    assert patch(api, ALICE, image_id, add_op(store.url_of(f"images/{other}"))).status_code == 400
    assert patch(api, ALICE, image_id, add_op(store.url_of(f"images/{image_id}"))).status_code == 400  # no object yet
    # Only the image's own object, exactly: a sub-key could be another image's (an id "x" and an id "x/y").
    resp = patch(api, ALICE, image_id, add_op(store.url_of(f"images/{image_id}/copy")))
    assert resp.status_code == 400 and "own object" in body(resp)["message"]
    store.put_stream(f"images/{image_id}", [b"mine"])
    resp = patch(api, ALICE, image_id, add_op(store.url_of(f"images/{image_id}"), "0"))
    assert resp.status_code == 200, resp.body
    # The first location serves downloads: now a presigned URL of our own object.
    got = api.http.get(f"/v2/images/{image_id}/file", headers=ALICE)
    assert got.status_code == 302 and f"images/{image_id}" in got.headers["Location"]


def test_replace_rules(api: Any, container: Any, web: FileServer) -> None:
    image_id = seed(container, api, ImageStatus.ACTIVE, [web["/a.img"]])
    assert patch(api, ALICE, image_id, replace_op()).status_code == 403  # empty list
    resp = patch(api, ALICE, image_id, replace_op({"url": web["/b.img"], "metadata": {}}))
    assert resp.status_code == 400 and "not empty" in body(resp)["message"]
    queued = create(api, ALICE, disk_format="raw", container_format="bare")["id"]
    dup = {"url": web["/a.img"], "metadata": {}}
    assert patch(api, ALICE, queued, replace_op(dup, dup)).status_code == 400


def test_remove_is_admin_only_never_the_last_and_drops_own_data(api: Any, container: Any, web: FileServer) -> None:
    image_id = seed(container, api, ImageStatus.ACTIVE, [web["/a.img"]])
    assert patch(api, ADMIN, image_id, REMOVE_FIRST).status_code == 403  # the last location
    store = container.data.store
    key = f"images/{image_id}"
    store.put_stream(key, [b"mine"])
    assert patch(api, ALICE, image_id, add_op(store.url_of(key))).status_code == 200
    assert patch(api, ALICE, image_id, [{"op": "remove", "path": "/locations/1"}]).status_code == 403  # not admin
    for bad in ("2", "x", "-1"):
        assert patch(api, ADMIN, image_id, [{"op": "remove", "path": f"/locations/{bad}"}]).status_code == 400
    assert store.size(key) == 4
    assert patch(api, ADMIN, image_id, [{"op": "remove", "path": "/locations/1"}]).status_code == 200
    assert store.size(key) is None  # the removed location's bytes are gone
    assert ("DELETE", "/a.img") not in web.requests  # an http location's data is never touched


def test_location_quota_is_413(api: Any, container: Any, web: FileServer) -> None:
    reconfigure(container, image_location_quota=2)
    image_id = seed(container, api, ImageStatus.ACTIVE, [web["/a.img"]])
    assert patch(api, ALICE, image_id, add_op(web["/b.img"])).status_code == 200
    assert patch(api, ALICE, image_id, add_op(web["/c.img"])).status_code == 413
    queued = create(api, ALICE, disk_format="raw", container_format="bare")["id"]
    three = [{"url": web[p], "metadata": {}} for p in ("/a.img", "/b.img", "/c.img")]
    assert patch(api, ALICE, queued, replace_op(*three)).status_code == 413


SHA = hashlib.sha512(DATA).hexdigest()
MD5 = hashlib.md5(DATA).hexdigest()


def test_validation_data_sets_hashes_on_a_queued_image(api: Any, container: Any, web: FileServer) -> None:
    image_id = create(api, ALICE, disk_format="raw", container_format="bare")["id"]
    vd = {"checksum": MD5, "os_hash_algo": "sha512", "os_hash_value": SHA}
    doc = body(patch(api, ALICE, image_id, add_op(web["/a.img"], validation_data=vd)))
    assert (doc["checksum"], doc["os_hash_algo"], doc["os_hash_value"]) == (MD5, "sha512", SHA)
    assert "validation_data" not in doc["locations"][0]  # write-only
    # On an active image matching values are fine and different ones are 409.
    assert patch(api, ALICE, image_id, add_op(web["/b.img"], validation_data=vd)).status_code == 200
    other = {"os_hash_algo": "sha512", "os_hash_value": "0" * 128}
    assert patch(api, ALICE, image_id, add_op(web["/c.img"], validation_data=other)).status_code == 409


@pytest.mark.parametrize(
    "vd",
    [
        {"os_hash_algo": "sha256", "os_hash_value": hashlib.sha256(DATA).hexdigest()},  # not the configured algorithm
        {"os_hash_algo": "sha512", "os_hash_value": "zz" * 64},  # not hex
        {"os_hash_algo": "sha512", "os_hash_value": "ab" * 32},  # wrong length
        {"checksum": "zz" * 16, "os_hash_algo": "sha512", "os_hash_value": SHA},
    ],
)
def test_bad_validation_data_is_409_on_patch(api: Any, container: Any, web: FileServer, vd: dict[str, str]) -> None:
    image_id = create(api, ALICE, disk_format="raw", container_format="bare")["id"]
    assert patch(api, ALICE, image_id, add_op(web["/a.img"], validation_data=vd)).status_code == 409
    assert body(api.http.get(f"/v2/images/{image_id}", headers=ALICE))["status"] == "queued"


def test_conflicting_validation_data_between_locations_is_409(api: Any, container: Any, web: FileServer) -> None:
    image_id = create(api, ALICE, disk_format="raw", container_format="bare")["id"]
    one = {"url": web["/a.img"], "metadata": {}, "validation_data": {"os_hash_algo": "sha512", "os_hash_value": SHA}}
    two = {"url": web["/b.img"], "metadata": {}, "validation_data": {"os_hash_algo": "sha512", "os_hash_value": "0" * 128}}
    assert patch(api, ALICE, image_id, replace_op(one, two)).status_code == 409


def test_draft4_media_type_adds_locations_too(api: Any, container: Any, web: FileServer) -> None:
    image_id = create(api, ALICE, disk_format="raw", container_format="bare")["id"]
    ops = [{"add": "/locations/-", "value": {"url": web["/a.img"], "metadata": {}}}]
    assert body(patch(api, ALICE, image_id, ops, media=PATCH20))["status"] == "active"


# -- who sees locations ---------------------------------------------------------------------------
@pytest.mark.settings(show_multiple_locations=True, show_image_direct_url=True)
def test_locations_and_direct_url_follow_get_image_location(api: Any, container: Any) -> None:
    image_id = seed(container, api, ImageStatus.ACTIVE, ["http://example.com/a", "http://example.com/b"])
    current = container.ports.images.get(image_id)
    container.ports.images.save(replace(current, visibility="public"), expected=current)
    own = body(api.http.get(f"/v2/images/{image_id}", headers=ALICE))
    assert own["direct_url"] == "http://example.com/a" and len(own["locations"]) == 2
    theirs = body(api.http.get(f"/v2/images/{image_id}", headers=BOB))
    assert theirs["locations"] == [] and "direct_url" not in theirs
    listed = body(api.http.get("/v2/images", headers=ALICE))["images"]
    assert [im["direct_url"] for im in listed if im["id"] == image_id] == ["http://example.com/a"]


# -- the new location API (reference 1.7b) --------------------------------------------------------
def post_location(api: Any, headers: dict[str, str], image_id: str, doc: Any) -> Any:
    return api.http.post(f"/v2/images/{image_id}/locations", headers=headers, body=json.dumps(doc))


def test_new_api_adds_to_a_queued_image_only(api: Any, container: Any, web: FileServer) -> None:
    image_id = create(api, ALICE, disk_format="raw", container_format="bare")["id"]
    resp = post_location(api, ALICE, image_id, {"url": web["/a.img"]})
    assert resp.status_code == 202 and resp.body in (b"", "")
    doc = body(api.http.get(f"/v2/images/{image_id}", headers=ALICE))
    assert (doc["status"], doc["size"]) == ("active", len(DATA))
    assert post_location(api, ALICE, image_id, {"url": web["/b.img"]}).status_code == 409
    assert post_location(api, BOB, image_id, {"url": web["/b.img"]}).status_code == 404


def test_new_api_validation(api: Any, container: Any, web: FileServer) -> None:
    image_id = create(api, ALICE, disk_format="raw", container_format="bare")["id"]
    sha256 = hashlib.sha256(DATA).hexdigest()
    for doc in (
        {},
        {"url": web["/a.img"], "validation_data": {"os_hash_algo": "sha256"}},
        {"url": web["/a.img"], "validation_data": {"os_hash_algo": "sha256", "os_hash_value": "zz"}},
        {"url": web["/a.img"], "validation_data": {"os_hash_algo": "sha256", "os_hash_value": "ab" * 8}},
        {"url": web["/a.img"], "validation_data": {"os_hash_algo": "crc32", "os_hash_value": "ab" * 4}},
    ):
        assert post_location(api, ALICE, image_id, doc).status_code == 400, doc
    # Only the service role may add an s3 location.
    assert post_location(api, ALICE, image_id, {"url": f"s3://{container.settings.resources.bucket}/images/{image_id}"}).status_code == 403
    vd = {"os_hash_algo": "sha256", "os_hash_value": sha256}
    assert post_location(api, ALICE, image_id, {"url": web["/a.img"], "validation_data": vd}).status_code == 202
    # The location_import task verifies the data against it (importing meanwhile), then activates.
    doc = body(api.http.get(f"/v2/images/{image_id}", headers=ALICE))
    assert (doc["status"], doc["os_hash_algo"], doc["os_hash_value"]) == ("importing", None, None)
    run_location_task(container, doc["os_glance_import_task"])
    doc = body(api.http.get(f"/v2/images/{image_id}", headers=ALICE))
    assert (doc["status"], doc["os_hash_algo"], doc["os_hash_value"]) == ("active", "sha256", sha256)
    assert doc["checksum"] == hashlib.md5(DATA).hexdigest()


def test_new_api_refuses_an_image_under_import(api: Any, container: Any, web: FileServer) -> None:
    image_id = create(api, ALICE, disk_format="raw", container_format="bare")["id"]
    repo = container.ports.images
    current = repo.get(image_id)
    repo.save(replace(current, extra_properties={"os_glance_import_task": "t1"}), expected=current)
    assert post_location(api, ALICE, image_id, {"url": web["/a.img"]}).status_code == 409


def test_get_locations_is_for_the_service_role(api: Any, container: Any, web: FileServer) -> None:
    image_id = seed(container, api, ImageStatus.ACTIVE, [web["/a.img"]])
    assert api.http.get(f"/v2/images/{image_id}/locations", headers=ALICE).status_code == 403
    for headers in (ADMIN, SERVICE):
        resp = api.http.get(f"/v2/images/{image_id}/locations", headers=headers)
        assert (resp.status_code, body(resp)) == (200, [{"url": web["/a.img"], "metadata": {"store": "http"}}])
