"""Legacy ``POST /v2/tasks`` imports through the real state machine: success and every way the data can be bad."""
from __future__ import annotations

import hashlib

import pytest

from tests.images import VIRTUAL_SIZE, qcow2, raw
from tests.pipeline.conftest import Pipeline


def _task(p: Pipeline, url: str, fmt: str = "qcow2", **props: object) -> dict:
    body = {"type": "import", "input": {"import_from": url, "import_from_format": fmt,
                                        "image_properties": {"name": "imported", "container_format": "bare", **props}}}
    status, task, headers = p.post("/v2/tasks", body)
    assert status == 201, task
    assert headers["Location"] == f"/v2/tasks/{task['id']}"
    return task


def _finished(p: Pipeline, task_id: str) -> dict:
    p.execution(task_id)
    status, task = p.get(f"/v2/tasks/{task_id}")
    assert status == 200
    return task


def test_a_qcow2_imports_to_an_active_image_with_checksums_and_virtual_size(pipeline: Pipeline) -> None:
    data = qcow2()
    pipeline.web.files["/disk.qcow2"] = data
    task = _finished(pipeline, _task(pipeline, pipeline.web["/disk.qcow2"])["id"])

    assert task["status"] == "success", task["message"]
    assert task["expires_at"] and task["message"] == ""
    status, image = pipeline.get(f"/v2/images/{task['result']['image_id']}")
    assert status == 200 and image["status"] == "active" and image["name"] == "imported"
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    assert image["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert image["size"] == len(data) and image["virtual_size"] == VIRTUAL_SIZE
    assert "os_glance_import_task" not in image
    assert pipeline.keys() == [f"images/{image['id']}"]  # staged copy removed
    assert pipeline.states(task["id"]) == ["BeginImport", "ChooseSteps", "FetchData", "VerifyData", "ActivateImage",
                                           "MoreStores", "RecordSuccess"]


def _assert_failed_clean(p: Pipeline, task: dict, *words: str) -> None:
    assert task["status"] == "failure"
    for word in words:
        assert word in task["message"], task["message"]
    assert task["expires_at"]
    image_id = task.get("result", {}) and task["result"].get("image_id")
    assert not image_id
    status, listing = p.get("/v2/images")
    assert listing["images"] == []  # the task's image is gone
    assert p.keys() == []  # and so are its bytes
    assert p.states(task["id"])[-2:] == ["RecordFailure", "ImportFailed"]


def test_a_missing_source_fails_with_the_http_status_and_leaves_nothing(pipeline: Pipeline) -> None:
    url = pipeline.web["/nothing-here.qcow2"]
    task = _finished(pipeline, _task(pipeline, url)["id"])
    _assert_failed_clean(pipeline, task, "Could not retrieve image", "404", url)
    assert "FetchData" in pipeline.states(task["id"]) and "VerifyData" not in pipeline.states(task["id"])


def test_data_in_another_format_fails_verification(pipeline: Pipeline) -> None:
    pipeline.web.files["/disk.raw"] = raw()
    task = _finished(pipeline, _task(pipeline, pipeline.web["/disk.raw"], fmt="qcow2")["id"])
    _assert_failed_clean(pipeline, task, "does not match", "qcow2")
    assert "VerifyData" in pipeline.states(task["id"]) and "ActivateImage" not in pipeline.states(task["id"])


def test_a_qcow2_with_a_backing_file_is_refused_as_unsafe(pipeline: Pipeline) -> None:
    pipeline.web.files["/backed.qcow2"] = qcow2(backing_file=True)
    task = _finished(pipeline, _task(pipeline, pipeline.web["/backed.qcow2"])["id"])
    _assert_failed_clean(pipeline, task, "safety checks")


def test_the_instance_metadata_address_is_never_fetched(pipeline: Pipeline) -> None:
    task = _finished(pipeline, _task(pipeline, "http://169.254.169.254/latest/meta-data/")["id"])
    _assert_failed_clean(pipeline, task, "metadata")


def test_a_transient_source_error_is_retried_by_the_state_machine(pipeline: Pipeline) -> None:
    pipeline.web.files["/flaky.qcow2"] = qcow2()
    pipeline.web.failures["/flaky.qcow2"] = [503]
    task = _finished(pipeline, _task(pipeline, pipeline.web["/flaky.qcow2"])["id"])
    assert task["status"] == "success", task["message"]
    gets = [r for r in pipeline.web.requests if r == ("GET", "/flaky.qcow2")]
    assert len(gets) == 2  # one 503, then the retry in the ASL's Retry
    assert pipeline.states(task["id"]).count("FetchData") == 1  # a retry stays inside the state


@pytest.mark.settings(limit_image_count_total=0)
def test_a_project_at_its_image_count_limit_fails_the_first_step(pipeline: Pipeline) -> None:
    pipeline.web.files["/disk.qcow2"] = qcow2()
    task = _finished(pipeline, _task(pipeline, pipeline.web["/disk.qcow2"])["id"])
    assert task["status"] == "failure" and "image count" in task["message"], task["message"]
    assert pipeline.states(task["id"]) == ["BeginImport", "RecordFailure", "ImportFailed"]
    assert pipeline.keys() == [] and pipeline.web.requests == []
