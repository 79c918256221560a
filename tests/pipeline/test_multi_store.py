"""Imports into several stores and copy-image through the real state machine: two buckets in two regions
(the second under a prefix), and a configured store whose bucket is missing (a store that fails)."""
from __future__ import annotations

import hashlib
from typing import Any

import pytest

from chalicelib.domain.stores import Store
from tests.images import qcow2
from tests.pipeline.conftest import ADMIN, ALICE, Pipeline

OCTETS = {**ALICE, "Content-Type": "application/octet-stream"}
STORES = (Store("a", bucket="ms-store-a"), Store("b", bucket="ms-store-b", region="eu-west-1", prefix="glance/"),
          Store("broken", bucket="ms-store-missing", region="eu-west-1"))
pytestmark = pytest.mark.settings(stores=STORES, default_store="a", bucket="ms-store-a")


def objects(p: Pipeline, store_id: str, image_id: str) -> list[str]:
    """The keys of ``image_id``'s data and staging objects in a store's bucket."""
    spec = next(s for s in STORES if s.id == store_id)
    client = p.container.stores.get(store_id).client
    listed = client.list_objects_v2(Bucket=spec.bucket).get("Contents", [])
    return sorted(o["Key"] for o in listed if image_id in o["Key"])


def break_store(p: Pipeline) -> None:
    """The "broken" store's bucket is gone (the local runner made it): every write there fails."""
    p.container.stores.get("broken").client.delete_bucket(Bucket="ms-store-missing")


def staged_image(p: Pipeline, data: bytes) -> str:
    status, image, _ = p.post("/v2/images", {"disk_format": "qcow2", "container_format": "bare"}, ALICE)
    assert status == 201
    assert p.api.http.put(f"/v2/images/{image['id']}/stage", headers=OCTETS, body=data).status_code == 204
    return str(image["id"])


def run_import(p: Pipeline, image_id: str, doc: dict[str, Any], headers: dict[str, str] = ALICE) -> dict[str, Any]:
    status, answer, _ = p.post(f"/v2/images/{image_id}/import", doc, headers)
    assert status == 202, answer
    tasks = p.get(f"/v2/images/{image_id}/tasks", ALICE)[1]["tasks"]
    p.execution(tasks[-1]["id"])
    return p.get(f"/v2/tasks/{tasks[-1]['id']}")[1]


def test_glance_direct_into_two_stores_in_two_regions(pipeline: Pipeline) -> None:
    data = qcow2()
    image_id = staged_image(pipeline, data)
    task = run_import(pipeline, image_id, {"method": {"name": "glance-direct"}, "stores": ["a", "b"]})
    assert task["status"] == "success", task["message"]
    assert pipeline.states(task["id"]).count("ActivateImage") == 2
    shown = pipeline.get(f"/v2/images/{image_id}", ALICE)[1]
    assert shown["status"] == "active" and shown["stores"] == "a,b"
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert (shown["os_glance_importing_to_stores"], shown["os_glance_failed_import"]) == ("", "")
    assert objects(pipeline, "a", image_id) == [f"images/{image_id}"]  # staging removed
    assert objects(pipeline, "b", image_id) == [f"glance/images/{image_id}"]
    region = pipeline.container.stores.get("b").client.get_bucket_location(Bucket="ms-store-b")
    assert region["LocationConstraint"] == "eu-west-1"


def test_copy_image_adds_the_other_store_and_delete_from_store_takes_it_back(pipeline: Pipeline) -> None:
    data = qcow2(padding=3000)
    _, image, _ = pipeline.post("/v2/images", {"disk_format": "qcow2", "container_format": "bare"}, ALICE)
    image_id = image["id"]
    assert pipeline.api.http.put(f"/v2/images/{image_id}/file", headers=OCTETS, body=data).status_code == 204
    task = run_import(pipeline, image_id, {"method": {"name": "copy-image"}, "stores": ["b"]}, ADMIN)
    assert task["status"] == "success", task["message"]
    shown = pipeline.get(f"/v2/images/{image_id}", ALICE)[1]
    assert shown["status"] == "active" and shown["stores"] == "a,b"
    assert (shown["os_glance_importing_to_stores"], shown["os_glance_failed_import"]) == ("", "")
    copied = b"".join(pipeline.container.stores.get("b").iter_object(f"images/{image_id}"))
    assert copied == data
    resp = pipeline.api.http.delete(f"/v2/stores/a/{image_id}", headers=ALICE)
    assert resp.status_code == 204
    assert pipeline.get(f"/v2/images/{image_id}", ALICE)[1]["stores"] == "b"
    assert objects(pipeline, "a", image_id) == []


def test_a_failing_store_is_skipped_when_failures_are_allowed(pipeline: Pipeline) -> None:
    break_store(pipeline)
    image_id = staged_image(pipeline, qcow2())
    doc = {"method": {"name": "glance-direct"}, "stores": ["broken", "a"], "all_stores_must_succeed": False}
    task = run_import(pipeline, image_id, doc)
    assert task["status"] == "success", task["message"]
    shown = pipeline.get(f"/v2/images/{image_id}", ALICE)[1]
    assert shown["status"] == "active" and shown["stores"] == "a"
    assert (shown["os_glance_importing_to_stores"], shown["os_glance_failed_import"]) == ("", "broken")
    assert objects(pipeline, "a", image_id) == [f"images/{image_id}"]


def test_a_failing_store_fails_the_import_when_every_store_must_succeed(pipeline: Pipeline) -> None:
    break_store(pipeline)
    image_id = staged_image(pipeline, qcow2())
    task = run_import(pipeline, image_id, {"method": {"name": "glance-direct"}, "stores": ["a", "broken"]})
    assert task["status"] == "failure"
    assert pipeline.states(task["id"])[-2:] == ["RecordFailure", "ImportFailed"]
    shown = pipeline.get(f"/v2/images/{image_id}", ALICE)[1]
    assert shown["status"] == "queued" and "stores" not in shown and "os_glance_import_task" not in shown
    assert (shown["os_glance_importing_to_stores"], shown["os_glance_failed_import"]) == ("", "broken")
    assert objects(pipeline, "a", image_id) == []  # store a's copy and the staged data are gone
