"""Interoperable import (``POST /v2/images/{id}/import``) and S3-triggered imports through the real state machine."""
from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.fakes import RecordingLauncher
from tests.images import VIRTUAL_SIZE, qcow2, raw
from tests.pipeline.conftest import ADMIN, ALICE, Pipeline

OCTETS = {**ALICE, "Content-Type": "application/octet-stream"}


def _image(p: Pipeline, headers: dict[str, str] = ALICE, **fields: Any) -> dict[str, Any]:
    status, image, _ = p.post("/v2/images", {"disk_format": "qcow2", "container_format": "bare", **fields}, headers)
    assert status == 201
    return image


def _import(p: Pipeline, image_id: str, method: dict[str, Any], headers: dict[str, str] = ALICE) -> tuple[int, Any]:
    status, body, _ = p.post(f"/v2/images/{image_id}/import", {"method": method}, headers)
    return status, body


def _task_of(p: Pipeline, image_id: str) -> dict[str, Any]:
    status, listed = p.get(f"/v2/images/{image_id}/tasks", ALICE)
    assert status == 200 and len(listed["tasks"]) == 1, listed
    task: dict[str, Any] = listed["tasks"][0]
    p.execution(task["id"])
    return p.get(f"/v2/tasks/{task['id']}")[1]


def test_web_download_ends_active_and_releases_the_lock(pipeline: Pipeline) -> None:
    data = qcow2()
    pipeline.web.files["/d.qcow2"] = data
    image = _image(pipeline)
    assert _import(pipeline, image["id"], {"name": "web-download", "uri": pipeline.web["/d.qcow2"]})[0] == 202

    task = _task_of(pipeline, image["id"])
    assert task["status"] == "success" and task["type"] == "api_image_import"
    shown = pipeline.get(f"/v2/images/{image['id']}", ALICE)[1]
    assert shown["status"] == "active" and shown["virtual_size"] == VIRTUAL_SIZE
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    # Glance leaves both store lists in place, empty, once the import is done.
    assert "os_glance_import_task" not in shown
    assert (shown["os_glance_importing_to_stores"], shown["os_glance_failed_import"]) == ("", "")
    assert pipeline.keys() == [f"images/{image['id']}"]


def test_glance_direct_imports_the_staged_data(pipeline: Pipeline) -> None:
    data = qcow2()
    image = _image(pipeline)
    resp = pipeline.api.http.put(f"/v2/images/{image['id']}/stage", headers=OCTETS, body=data)
    assert resp.status_code == 204
    assert _import(pipeline, image["id"], {"name": "glance-direct"})[0] == 202
    assert _task_of(pipeline, image["id"])["status"] == "success"
    shown = pipeline.get(f"/v2/images/{image['id']}", ALICE)[1]
    assert shown["status"] == "active" and shown["size"] == len(data)
    assert pipeline.keys() == [f"images/{image['id']}"]


def test_a_failed_import_puts_the_image_back_to_queued_without_bytes(pipeline: Pipeline) -> None:
    image = _image(pipeline)
    pipeline.api.http.put(f"/v2/images/{image['id']}/stage", headers=OCTETS, body=raw())
    assert _import(pipeline, image["id"], {"name": "glance-direct"})[0] == 202
    task = _task_of(pipeline, image["id"])
    assert task["status"] == "failure" and "does not match" in task["message"]
    shown = pipeline.get(f"/v2/images/{image['id']}", ALICE)[1]
    assert shown["status"] == "queued" and shown["os_glance_failed_import"] == "s3"
    assert "os_glance_import_task" not in shown
    assert pipeline.keys() == []


def test_import_request_rules(pipeline: Pipeline) -> None:
    image = _image(pipeline)
    assert _import(pipeline, image["id"], {"name": "glance-direct"})[0] == 409  # nothing staged: queued
    assert _import(pipeline, image["id"], {"name": "nope"})[0] == 400
    assert _import(pipeline, image["id"], {"name": "web-download"})[0] == 400  # no uri
    assert _import(pipeline, image["id"], {"name": "web-download", "uri": "file:///etc/passwd"})[0] == 400
    assert _import(pipeline, image["id"], {"name": "web-download", "uri": "http://example.com:8080/x"})[0] == 400
    status, _, _ = pipeline.post(f"/v2/images/{image['id']}/import", {"nomethod": 1}, ALICE)
    assert status == 400
    bare = _image(pipeline, disk_format=None, container_format=None)
    assert _import(pipeline, bare["id"], {"name": "web-download", "uri": "http://example.com/x"})[0] == 409
    other = {**ALICE, "X-Auth-Token": "bob:proj-b:member,reader"}
    assert _import(pipeline, image["id"], {"name": "web-download", "uri": "http://example.com/x"}, other)[0] == 404
    assert _import(pipeline, image["id"], {"name": "copy-image"}, ADMIN)[0] == 409  # not active
    assert pipeline.get(f"/v2/images/{image['id']}/tasks", ALICE)[1]["tasks"] == []


def test_a_second_import_while_one_holds_the_lock_is_409(pipeline: Pipeline) -> None:
    image = _image(pipeline)
    images = pipeline.container.images
    from chalicelib.domain import imports
    from chalicelib.services.import_steps import PIPELINE

    # A live task holds the lock (taken as the API takes it).
    pipeline.web.files["/d.qcow2"] = qcow2()
    pipeline.container.tasks.launcher = RecordingLauncher()
    assert _import(pipeline, image["id"], {"name": "web-download", "uri": pipeline.web["/d.qcow2"]})[0] == 202
    holder = imports.lock_holder(images.show(PIPELINE, image["id"]))
    assert holder is not None
    assert _import(pipeline, image["id"], {"name": "web-download", "uri": pipeline.web["/d.qcow2"]})[0] == 409
    assert imports.lock_holder(images.show(PIPELINE, image["id"])) == holder



def test_copy_image_on_the_single_store(pipeline: Pipeline) -> None:
    image = _image(pipeline)
    pipeline.api.http.put(f"/v2/images/{image['id']}/file", headers=OCTETS, body=qcow2())
    assert _import(pipeline, image["id"], {"name": "copy-image"})[0] == 403  # admin only
    assert pipeline.post(f"/v2/images/{image['id']}/import",
                         {"method": {"name": "copy-image"}, "all_stores": True}, ADMIN)[0] == 202  # no-op
    assert pipeline.post(f"/v2/images/{image['id']}/import",
                         {"method": {"name": "copy-image"}, "stores": ["s3"]}, ADMIN)[0] == 400
    assert pipeline.post(f"/v2/images/{image['id']}/import",
                         {"method": {"name": "copy-image"}, "stores": ["swift"]}, ADMIN)[0] == 409
    assert pipeline.get(f"/v2/images/{image['id']}/tasks", ALICE)[1]["tasks"] == []


def test_data_put_to_a_presigned_url_imports_itself(pipeline: Pipeline) -> None:
    data = qcow2()
    image = _image(pipeline)
    status, ticket, _ = pipeline.post(f"/v2/images/{image['id']}/upload-url", {}, ALICE)
    assert status == 200 and ticket["method"] == "PUT" and f"staging/imports/{image['id']}" in ticket["url"]
    # The client's PUT to that URL; the bucket's notification then runs import_trigger.
    pipeline.s3.put_object(Bucket=pipeline.container.settings.resources.bucket, Key=f"staging/imports/{image['id']}",
                           Body=data, ContentType="application/octet-stream")
    task = _task_of(pipeline, image["id"])
    assert task["status"] == "success", task["message"]
    shown = pipeline.get(f"/v2/images/{image['id']}", ALICE)[1]
    assert shown["status"] == "active" and shown["checksum"] == hashlib.md5(data).hexdigest()
    assert pipeline.keys() == [f"images/{image['id']}"]


def test_the_same_s3_event_delivered_twice_starts_one_import(pipeline: Pipeline) -> None:
    from app import import_trigger

    image = _image(pipeline)
    key = f"staging/imports/{image['id']}"
    pipeline.s3.put_object(Bucket=pipeline.container.settings.resources.bucket, Key=key, Body=qcow2())
    first = _task_of(pipeline, image["id"])
    head = pipeline.s3.head_object(Bucket=pipeline.container.settings.resources.bucket, Key=f"images/{image['id']}")
    # The notification as the bucket sent it (S3 delivers at least once).
    event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": pipeline.container.settings.resources.bucket},
        "object": {"key": key, "size": head["ContentLength"], "eTag": head["ETag"].strip('"')}}}]}
    again = import_trigger(event, None)

    assert again["task_ids"] == [first["id"]]
    executions = pipeline.sfn.list_executions(stateMachineArn=pipeline.machine_arn)["executions"]
    assert [e["name"] for e in executions] == [first["id"]]
    assert pipeline.get(f"/v2/images/{image['id']}", ALICE)[1]["status"] == "active"


def test_data_for_no_importable_image_is_removed(pipeline: Pipeline) -> None:
    bucket = pipeline.container.settings.resources.bucket
    pipeline.s3.put_object(Bucket=bucket, Key="staging/imports/00000000-0000-0000-0000-000000000000", Body=b"x")
    assert pipeline.keys() == []
    assert pipeline.sfn.list_executions(stateMachineArn=pipeline.machine_arn)["executions"] == []


@pytest.mark.settings(limit_image_size_total=0)
def test_a_fault_while_activating_is_caught_and_cleaned(pipeline: Pipeline) -> None:
    pipeline.web.files["/d.qcow2"] = qcow2()
    image = _image(pipeline)
    _import(pipeline, image["id"], {"name": "web-download", "uri": pipeline.web["/d.qcow2"]})
    task = _task_of(pipeline, image["id"])
    assert task["status"] == "failure" and "exceeded" in task["message"], task["message"]
    assert pipeline.states(task["id"])[-3:] == ["ActivateImage", "RecordFailure", "ImportFailed"]
    assert pipeline.get(f"/v2/images/{image['id']}", ALICE)[1]["status"] == "queued"
    assert pipeline.keys() == []


def test_a_fault_while_recording_success_is_caught(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline.web.files["/d.qcow2"] = qcow2()
    tasks = pipeline.container.tasks

    def broken(task_id: str, result: Any) -> Any:
        raise RuntimeError("the task table refused the write")

    monkeypatch.setattr(tasks, "record_success", broken)
    image = _image(pipeline)
    _import(pipeline, image["id"], {"name": "web-download", "uri": pipeline.web["/d.qcow2"]})
    task = _task_of(pipeline, image["id"])
    assert task["status"] == "failure" and "refused the write" in task["message"]
    assert pipeline.states(task["id"])[-3:] == ["RecordSuccess", "RecordFailure", "ImportFailed"]
    # The image became active before the fault; the failure handler leaves what is no longer the import's.
    assert pipeline.get(f"/v2/images/{image['id']}", ALICE)[1]["status"] == "active"
    assert pipeline.keys() == [f"images/{image['id']}"]


def test_an_import_that_cannot_start_is_503_and_leaves_the_image_unlocked(pipeline: Pipeline) -> None:
    pipeline.container.tasks.launcher.state_machine_arn = None  # type: ignore[attr-defined] # as if not deployed
    image = _image(pipeline)
    status, body = _import(pipeline, image["id"], {"name": "web-download", "uri": "http://example.com/x.qcow2"})
    assert status == 503
    shown = pipeline.get(f"/v2/images/{image['id']}", ALICE)[1]
    assert shown["status"] == "queued" and "os_glance_import_task" not in shown
    tasks = pipeline.get(f"/v2/images/{image['id']}/tasks", ALICE)[1]["tasks"]
    assert [t["status"] for t in tasks] == ["failure"]


def test_invalid_image_properties_are_refused_when_the_task_is_created(pipeline: Pipeline) -> None:
    body = {"type": "import", "input": {"import_from": "http://example.com/x", "import_from_format": "qcow2",
                                        "image_properties": {"visibility": "everyone"}}}
    status, _, _ = pipeline.post("/v2/tasks", body)
    assert status == 400
    assert pipeline.get("/v2/tasks")[1]["tasks"] == []


def test_an_image_deleted_while_importing_keeps_no_bytes(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.services.import_steps import ImportStepService

    image = _image(pipeline)
    verify = ImportStepService.verify

    def verify_then_user_deletes(self: ImportStepService, state: Any) -> Any:
        out = verify(self, state)
        # The owner deletes the image mid-import; the uploaded object (not staging/<id>) outlives the delete.
        assert pipeline.api.http.delete(f"/v2/images/{image['id']}", headers=ALICE).status_code == 204
        return out

    monkeypatch.setattr(ImportStepService, "verify", verify_then_user_deletes)
    pipeline.s3.put_object(Bucket=pipeline.container.settings.resources.bucket, Key=f"staging/imports/{image['id']}",
                           Body=qcow2())
    status, listed = pipeline.get(f"/v2/tasks?image_id={image['id']}")
    [task] = listed["tasks"]
    pipeline.execution(task["id"])
    task = pipeline.get(f"/v2/tasks/{task['id']}")[1]
    assert task["status"] == "failure" and pipeline.states(task["id"])[-3] == "ActivateImage"
    assert pipeline.get(f"/v2/images/{image['id']}", ALICE)[0] == 404
    assert pipeline.keys() == []  # neither the uploaded object nor the copy ActivateImage made
