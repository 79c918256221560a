"""Faults around imports: retried steps, failure handling that cannot be blocked, stale locks, repeated uploads."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain import imports
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.services.import_steps import PIPELINE
from tests.fakes import RecordingLauncher
from tests.images import qcow2
from tests.pipeline.conftest import ADMIN, ALICE, Pipeline
from tests.pipeline.test_interop_import import _image, _import, _task_of


def _legacy(p: Pipeline, url: str, **props: Any) -> dict[str, Any]:
    body = {"type": "import", "input": {"import_from": url, "import_from_format": "qcow2",
                                        "image_properties": {"container_format": "bare", **props}}}
    status, task, _ = p.post("/v2/tasks", body, ADMIN)
    assert status == 201
    p.execution(task["id"])
    return p.get(f"/v2/tasks/{task['id']}")[1]


def test_a_failed_legacy_import_removes_its_image_even_when_protected(pipeline: Pipeline) -> None:
    task = _legacy(pipeline, pipeline.web["/missing.qcow2"], protected=True)
    assert task["status"] == "failure" and "404" in task["message"]
    image_id = imports.derived_id("task-image", task["id"])
    assert pipeline.container.ports.images.get(image_id).status.value == "deleted"
    assert pipeline.get(f"/v2/images/{image_id}")[0] == 404 and pipeline.keys() == []


def test_activate_run_again_after_its_write_landed_changes_nothing(pipeline: Pipeline) -> None:
    pipeline.web.files["/d.qcow2"] = qcow2()
    image = _image(pipeline)
    _import(pipeline, image["id"], {"name": "web-download", "uri": pipeline.web["/d.qcow2"]})
    task = _task_of(pipeline, image["id"])
    assert task["status"] == "success"
    before = pipeline.container.ports.images.get(image["id"])
    # Step Functions retries a Lambda whose answer was lost: the staged object is already gone.
    state = {"task_id": task["id"], "image_id": image["id"], "staged_key": f"staging/{image['id']}",
             "size": before.size, "checksum": before.checksum, "os_hash_value": before.os_hash_value}
    pipeline.container.import_steps.activate(state)
    assert pipeline.container.ports.images.get(image["id"]) == before
    assert pipeline.keys() == [f"images/{image['id']}"]


def test_a_stale_lock_is_broken_and_its_task_failed(pipeline: Pipeline) -> None:
    image = _image(pipeline)
    tasks = pipeline.container.tasks
    tasks.launcher = RecordingLauncher()
    # Given an import whose task never started, three hours ago
    assert _import(pipeline, image["id"], {"name": "web-download", "uri": "http://example.com/a.qcow2"})[0] == 202
    stale = imports.lock_holder(pipeline.container.images.show(PIPELINE, image["id"]))
    old = tasks.repo.get(stale)
    tasks.repo.save(replace(old, updated_at=old.updated_at - timedelta(hours=3)), expected=old)
    # When another import comes
    assert _import(pipeline, image["id"], {"name": "web-download", "uri": "http://example.com/b.qcow2"})[0] == 202
    # Then it holds the lock, and the stale task is failed
    assert imports.lock_holder(pipeline.container.images.show(PIPELINE, image["id"])) != stale
    failed = tasks.repo.get(stale)
    assert failed.status.value == "failure" and "preempted" in failed.message



def test_the_launcher_turns_aws_errors_into_503(pipeline: Pipeline) -> None:
    launcher = pipeline.container.tasks.launcher
    launcher.state_machine_arn = pipeline.machine_arn + "-gone"  # type: ignore[attr-defined]
    with pytest.raises(ServiceUnavailable, match="could not be started"):
        launcher.start("x", {"task_id": "x"})


def test_a_repeated_upload_during_an_import_keeps_the_data(pipeline: Pipeline) -> None:
    image = _image(pipeline)
    key = f"staging/imports/{image['id']}"
    pipeline.container.tasks.launcher = RecordingLauncher()  # the first import is still running
    pipeline.s3.put_object(Bucket=pipeline.container.settings.resources.bucket, Key=key, Body=qcow2())
    # When the client PUTs to the same URL again (a retried upload)
    pipeline.s3.put_object(Bucket=pipeline.container.settings.resources.bucket, Key=key, Body=qcow2(padding=1024))
    # Then the running import's data is left alone and no second task starts
    assert key in pipeline.keys()
    assert len(pipeline.get(f"/v2/images/{image['id']}/tasks", ALICE)[1]["tasks"]) == 1


@pytest.mark.settings(limit_image_size_total=0)
def test_an_import_by_a_project_over_its_size_total_is_413(pipeline: Pipeline) -> None:
    # Given a project already holding data (uploaded before the limit applied, say)
    image = _image(pipeline)
    owner = image["owner"]
    repo = pipeline.container.ports.images
    stored = repo.get(image["id"])
    repo.save(stored, expected=stored, usage_delta={"image_bytes": 1})  # one byte over a 0 MiB limit
    assert repo.usage(owner)["image_bytes"] == 1
    # When it asks for another import, Then 413 at once and no task
    other = _image(pipeline)
    status, body = _import(pipeline, other["id"], {"name": "web-download", "uri": "http://example.com/x.qcow2"})
    assert status == 413 and "storage" in body["message"]
    assert pipeline.get(f"/v2/images/{other['id']}/tasks", ALICE)[1]["tasks"] == []
