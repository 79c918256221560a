"""Multi-store (Glance's enabled_backends) over fakes: discovery, uploads to a store, import targets,
delete-from-store and downloads that skip a failing store. The pipeline's copies are in tests/pipeline."""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.domain.images import Location
from chalicelib.domain.stores import Store
from tests import images as fx
from tests.api.helpers import ADMIN, ALICE, BOB, READER, body, create, reconfigure

OCTET = {"Content-Type": "application/octet-stream"}
STORES = (Store("a", bucket="bucket-a", description="Primary"),
          Store("b", bucket="bucket-b", region="eu-west-1", prefix="glance/", storage_class="STANDARD_IA"),
          Store("ro", bucket="bucket-ro", read_only=True))
pytestmark = pytest.mark.settings(stores=STORES, default_store="a", bucket="bucket-a", show_multiple_locations=True)


def upload(api: Any, image_id: str, headers: dict[str, str] = ALICE, **extra: str) -> Any:
    return api.http.put(f"/v2/images/{image_id}/file", headers={**headers, **OCTET, **extra},
                        body=fx.qcow2(padding=100))


def active_in(api: Any, container: Any, *stores: str) -> str:
    """Alice's active image with its data in each of ``stores`` (the first by upload, the others copied)."""
    image = create(api, ALICE, name="m", disk_format="qcow2", container_format="bare")
    assert upload(api, image["id"], **{"X-Image-Meta-Store": stores[0]}).status_code == 204
    current = container.ports.images.get(image["id"])
    first = container.stores.get(stores[0])
    key = f"images/{image['id']}"
    extra = []
    for store_id in stores[1:]:
        target = container.stores.get(store_id)
        target.copy_from(first, key, key)
        extra.append(Location(target.url_of(key), {}))
    container.ports.images.save(replace(current, locations=(*current.locations, *extra)), expected=current)
    return str(image["id"])


def test_stores_info_lists_every_store_as_glance(api: Any) -> None:
    assert body(api.http.get("/v2/info/stores", headers=ALICE)) == {"stores": [
        {"id": "a", "description": "Primary", "default": "true"}, {"id": "b"}, {"id": "ro", "read-only": "true"},
        {"id": "http", "description": "http(s) locations", "read-only": "true"}]}
    detail = {s["id"]: s for s in body(api.http.get("/v2/info/stores/detail", headers=ADMIN))["stores"]}
    assert set(detail["b"]) == {"id", "type", "properties", "weight"}
    assert detail["b"]["properties"]["s3_store_region"] == "eu-west-1"
    assert detail["b"]["properties"]["s3_store_storage_class"] == "STANDARD_IA"
    assert detail["a"]["properties"]["s3_store_region"] == "us-east-1"  # the service's own region
    assert (detail["http"]["type"], detail["http"]["properties"]) == ("http", {})


def test_create_names_the_store_ids(api: Any) -> None:
    resp = api.http.post("/v2/images", headers=ALICE, body=json.dumps({"name": "x"}))
    assert resp.headers["OpenStack-image-store-ids"] == "a,b,ro,http"


def test_upload_goes_to_the_default_store_or_the_named_one(api: Any, container: Any) -> None:
    plain = create(api, ALICE, name="p", disk_format="qcow2", container_format="bare")
    assert upload(api, plain["id"]).status_code == 204
    shown = body(api.http.get(f"/v2/images/{plain['id']}", headers=ALICE))
    assert shown["stores"] == "a"
    assert shown["locations"] == [{"url": f"s3://bucket-a/images/{plain['id']}", "metadata": {"store": "a"}}]
    named = create(api, ALICE, name="n", disk_format="qcow2", container_format="bare")
    assert upload(api, named["id"], **{"X-Image-Meta-Store": "b"}).status_code == 204
    shown = body(api.http.get(f"/v2/images/{named['id']}", headers=ALICE))
    assert shown["stores"] == "b"
    assert shown["locations"][0] == {"url": f"s3://bucket-b/glance/images/{named['id']}", "metadata": {"store": "b"}}
    assert container.stores.get("b").objects.keys() == {f"images/{named['id']}"}
    # The bytes come back from store b
    data = api.http.get(f"/v2/images/{named['id']}/file", headers=ALICE)
    assert data.status_code == 302 and "bucket-b" in data.headers["Location"]


@pytest.mark.parametrize("store,code,fragment", [("nope", 400, "Store for scheme nope not found"),
                                                 ("ro", 409, "read-only"), ("http", 409, "read-only")])
def test_upload_to_an_unknown_or_read_only_store_is_refused_and_stays_queued(
        api: Any, store: str, code: int, fragment: str) -> None:
    image = create(api, ALICE, name="x", disk_format="qcow2", container_format="bare")
    resp = upload(api, image["id"], **{"X-Image-Meta-Store": store})
    assert resp.status_code == code and fragment in body(resp)["message"]
    assert body(api.http.get(f"/v2/images/{image['id']}", headers=ALICE))["status"] == "queued"


def post_import(api: Any, image_id: str, doc: dict[str, Any], headers: dict[str, str] = ALICE) -> Any:
    return api.http.post(f"/v2/images/{image_id}/import", headers=headers, body=json.dumps(doc))


def test_import_records_its_stores_and_holds_the_lock(api: Any, container: Any) -> None:
    image = create(api, ALICE, name="w", disk_format="qcow2", container_format="bare")
    doc = {"method": {"name": "web-download", "uri": "http://example.com/x.qcow2"}, "stores": ["b", "a"],
           "all_stores_must_succeed": False}
    assert post_import(api, image["id"], doc).status_code == 202
    shown = body(api.http.get(f"/v2/images/{image['id']}", headers=ALICE))
    assert (shown["os_glance_importing_to_stores"], shown["os_glance_failed_import"]) == ("b,a", "")
    task = container.ports.tasks.list_for_image(image["id"])[0]
    assert task.input["stores"] == ["b", "a"] and task.input["all_stores_must_succeed"] is False
    again = post_import(api, image["id"], doc)
    assert again.status_code == 409


def test_all_stores_means_every_writable_store(api: Any, container: Any) -> None:
    image = create(api, ALICE, name="w", disk_format="qcow2", container_format="bare")
    doc = {"method": {"name": "web-download", "uri": "http://example.com/x.qcow2"}, "all_stores": True}
    assert post_import(api, image["id"], doc).status_code == 202
    shown = body(api.http.get(f"/v2/images/{image['id']}", headers=ALICE))
    assert shown["os_glance_importing_to_stores"] == "a,b"  # neither the read-only store nor http


def test_the_header_names_the_import_store(api: Any) -> None:
    image = create(api, ALICE, name="w", disk_format="qcow2", container_format="bare")
    doc = {"method": {"name": "web-download", "uri": "http://example.com/x.qcow2"}}
    assert post_import(api, image["id"], doc, {**ALICE, "X-Image-Meta-Store": "b"}).status_code == 202
    assert body(api.http.get(f"/v2/images/{image['id']}", headers=ALICE))["os_glance_importing_to_stores"] == "b"


@pytest.mark.parametrize("extra,headers,code", [
    ({"stores": ["nope"]}, {}, 409), ({"stores": ["ro"]}, {}, 409), ({"stores": ["a"], "all_stores": True}, {}, 400),
    ({"stores": ["a"]}, {"X-Image-Meta-Store": "b"}, 400), ({"all_stores": True}, {"X-Image-Meta-Store": "b"}, 400),
    ({"stores": []}, {}, 400), ({}, {"X-Image-Meta-Store": "nope"}, 409),
])
def test_import_store_choices_glance_refuses(api: Any, extra: dict[str, Any], headers: dict[str, str],
                                              code: int) -> None:
    image = create(api, ALICE, name="w", disk_format="qcow2", container_format="bare")
    doc = {"method": {"name": "web-download", "uri": "http://example.com/x.qcow2"}, **extra}
    resp = post_import(api, image["id"], doc, {**ALICE, **headers})
    assert resp.status_code == code, resp.body
    assert "os_glance_import_task" not in body(api.http.get(f"/v2/images/{image['id']}", headers=ALICE))


def test_copy_image_rules(api: Any, container: Any) -> None:
    image_id = active_in(api, container, "a")
    copy = {"method": {"name": "copy-image"}, "stores": ["b"]}
    assert post_import(api, image_id, copy).status_code == 403  # copy_image: admin
    resp = post_import(api, image_id, {"method": {"name": "copy-image"}, "stores": ["a"]}, ADMIN)
    assert resp.status_code == 400 and "already present at store 'a'" in body(resp)["message"]
    assert post_import(api, image_id, copy, ADMIN).status_code == 202
    shown = body(api.http.get(f"/v2/images/{image_id}", headers=ALICE))
    assert shown["status"] == "active" and shown["os_glance_importing_to_stores"] == "b"
    assert post_import(api, image_id, copy, ADMIN).status_code == 409  # the lock


def test_copy_image_to_all_stores_when_every_one_has_it_is_a_no_op(api: Any, container: Any) -> None:
    image_id = active_in(api, container, "a", "b")
    assert post_import(api, image_id, {"method": {"name": "copy-image"}, "all_stores": True}, ADMIN).status_code == 202
    assert container.ports.tasks.list_for_image(image_id) == []


def test_delete_from_store_removes_that_copy_only(api: Any, container: Any) -> None:
    image_id = active_in(api, container, "a", "b")
    assert body(api.http.get(f"/v2/images/{image_id}", headers=ALICE))["stores"] == "a,b"
    resp = api.http.delete(f"/v2/stores/b/{image_id}", headers=ALICE)
    assert resp.status_code == 204 and resp.body == b""
    shown = body(api.http.get(f"/v2/images/{image_id}", headers=ALICE))
    assert shown["stores"] == "a" and [loc["metadata"]["store"] for loc in shown["locations"]] == ["a"]
    assert container.stores.get("b").objects == {} and f"images/{image_id}" in container.stores.get("a").objects


def test_delete_from_store_follows_glances_rules(api: Any, container: Any) -> None:
    image_id = active_in(api, container, "a", "b")
    cases = [("nope", ALICE, 409), ("ro", ALICE, 404), ("b", BOB, 404), ("b", READER, 403)]
    for store, headers, code in cases:
        assert api.http.delete(f"/v2/stores/{store}/{image_id}", headers=headers).status_code == code, store
    assert api.http.delete(f"/v2/stores/a/{image_id}", headers=ALICE).status_code == 204
    only = api.http.delete(f"/v2/stores/b/{image_id}", headers=ALICE)
    assert only.status_code == 403 and "only store" in body(only)["message"]
    queued = create(api, ALICE, name="q")
    assert api.http.delete(f"/v2/stores/a/{queued['id']}", headers=ALICE).status_code == 409
    assert body(api.http.get(f"/v2/images/{image_id}", headers=ALICE))["stores"] == "b"


def test_a_download_skips_a_store_that_fails(api: Any, container: Any) -> None:
    image_id = active_in(api, container, "a", "b")
    container.stores.get("a").failing = True
    resp = api.http.get(f"/v2/images/{image_id}/file", headers=ALICE)
    assert resp.status_code == 302 and "bucket-b" in resp.headers["Location"]
    reconfigure(container, download_mode="proxy")
    proxied = api.http.get(f"/v2/images/{image_id}/file", headers={**ALICE, "Accept": "*/*"})
    assert proxied.status_code == 200 and proxied.body == fx.qcow2(padding=100)
    container.stores.get("b").failing = True
    assert api.http.get(f"/v2/images/{image_id}/file", headers=ALICE).status_code == 503
