"""The new location API's hashing task through the real state machine (moto's executor, steps in-process)."""
from __future__ import annotations

import hashlib
from typing import Any

from tests.fakes import RecordingLauncher
from tests.pipeline.conftest import ALICE, Pipeline

DATA = b"glance location data " * 700
MD5, SHA512, SHA1 = hashlib.md5(DATA).hexdigest(), hashlib.sha512(DATA).hexdigest(), hashlib.sha1(DATA).hexdigest()
SERVICE_OWNER = {**ALICE, "X-Auth-Token": "alice:proj-a:member,reader,service"}


def _located(p: Pipeline, doc: dict[str, Any], headers: dict[str, str] = ALICE, **fields: Any) -> tuple[str, str]:
    """A queued image with the location of ``doc`` added; (image id, task id) once its execution ended."""
    status, image, _ = p.post("/v2/images", {"disk_format": "raw", "container_format": "bare", **fields}, ALICE)
    assert status == 201
    url = doc["url"](image["id"]) if callable(doc["url"]) else doc["url"]
    assert p.post(f"/v2/images/{image['id']}/locations", {**doc, "url": url}, headers)[0] == 202
    listed = p.get(f"/v2/images/{image['id']}/tasks", ALICE)[1]["tasks"]
    assert [t["type"] for t in listed] == ["location_import"]
    p.execution(listed[0]["id"])
    return image["id"], listed[0]["id"]


def _hashes(p: Pipeline, image_id: str) -> tuple[str, str | None, str | None, str | None]:
    doc = p.get(f"/v2/images/{image_id}", ALICE)[1]
    assert "os_glance_import_task" not in doc
    return doc["status"], doc["checksum"], doc["os_hash_algo"], doc["os_hash_value"]


def test_an_http_location_is_hashed_after_the_image_is_active(pipeline: Pipeline) -> None:
    pipeline.web.files["/a.img"] = DATA
    image_id, task_id = _located(pipeline, {"url": pipeline.web["/a.img"]}, visibility="shared")
    assert pipeline.states(task_id) == ["BeginImport", "ChooseSteps", "HashLocation", "RecordSuccess"]
    assert _hashes(pipeline, image_id) == ("active", MD5, "sha512", SHA512)
    assert pipeline.get(f"/v2/tasks/{task_id}")[1]["status"] == "success"


def test_a_source_that_fails_once_is_read_again(pipeline: Pipeline) -> None:
    pipeline.web.files["/flaky.img"] = DATA
    status, image, _ = pipeline.post("/v2/images", {"disk_format": "raw", "container_format": "bare"}, ALICE)
    tasks = pipeline.container.tasks
    launcher, tasks.launcher = tasks.launcher, RecordingLauncher()  # the request's start only recorded
    assert pipeline.post(f"/v2/images/{image['id']}/locations", {"url": pipeline.web["/flaky.img"]}, ALICE)[0] == 202
    task_id = pipeline.get(f"/v2/images/{image['id']}/tasks", ALICE)[1]["tasks"][0]["id"]
    pipeline.web.failures["/flaky.img"] = [503]  # after the probe: the task's first GET is a 503
    tasks.launcher = launcher
    tasks.relaunch(task_id)
    assert pipeline.execution(task_id)["status"] == "SUCCEEDED"
    assert _hashes(pipeline, image["id"]) == ("active", MD5, "sha512", SHA512)
    assert [m for m, path in pipeline.web.requests if path == "/flaky.img"] == ["HEAD", "GET", "GET"]


def test_validation_data_is_verified_and_kept(pipeline: Pipeline) -> None:
    pipeline.web.files["/a.img"] = DATA
    vd = {"os_hash_algo": "sha1", "os_hash_value": SHA1}
    image_id, _ = _located(pipeline, {"url": pipeline.web["/a.img"], "validation_data": vd})
    assert _hashes(pipeline, image_id) == ("active", MD5, "sha1", SHA1)


def test_validation_data_that_does_not_match_fails_the_task_and_queues_the_image(pipeline: Pipeline) -> None:
    pipeline.web.files["/a.img"] = DATA
    vd = {"os_hash_algo": "sha1", "os_hash_value": "00" * 20}
    image_id, task_id = _located(pipeline, {"url": pipeline.web["/a.img"], "validation_data": vd})
    assert pipeline.states(task_id)[-3:] == ["HashLocation", "RecordFailure", "ImportFailed"]
    assert _hashes(pipeline, image_id) == ("queued", None, None, None)
    task = pipeline.get(f"/v2/tasks/{task_id}")[1]
    assert (task["status"], task["message"]) == (
        "failure", f"os_hash_value: ({'00' * 20}) not matched with actual os_hash_value: ({SHA1})")


def test_a_store_location_is_hashed_from_its_object(pipeline: Pipeline) -> None:
    bucket = pipeline.container.settings.resources.bucket

    def url(image_id: str) -> str:
        pipeline.s3.put_object(Bucket=bucket, Key=f"images/{image_id}", Body=DATA)
        return f"s3://{bucket}/images/{image_id}"

    image_id, _ = _located(pipeline, {"url": url}, SERVICE_OWNER)
    assert _hashes(pipeline, image_id) == ("active", MD5, "sha512", SHA512)
