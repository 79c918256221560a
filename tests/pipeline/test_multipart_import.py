"""Multipart uploads completed through the API import themselves through the real state machine (moto).

The parts go in with the S3 client's UploadPart (in-process moto serves no presigned URL; the
same upload over presigned URLs and plain HTTP runs in tests/e2e/test_multipart_upload_e2e.py).
moto sends the CompleteMultipartUpload "Object Created" event (and a Put one besides) to the
trigger, as S3 -> EventBridge does in AWS.
"""
from __future__ import annotations

import hashlib
from typing import Any

import pytest

from chalicelib.domain.multipart import MiB
from tests.images import VIRTUAL_SIZE, qcow2, raw
from tests.pipeline.conftest import ALICE, Pipeline
from tests.pipeline.test_interop_import import _image, _task_of

PART = 5 * MiB  # S3's (and moto's) smallest part but the last


def _upload(p: Pipeline, image_id: str, data: bytes) -> dict[str, Any]:
    status, ticket, _ = p.post(f"/v2/images/{image_id}/upload-url", {"size": len(data), "part_size": PART}, ALICE)
    assert status == 200, ticket
    bucket = p.container.settings.resources.bucket
    for part in ticket["parts"]:
        start = (part["part_number"] - 1) * PART
        p.s3.upload_part(Bucket=bucket, Key=f"staging/imports/{image_id}", UploadId=ticket["upload_id"],
                         PartNumber=part["part_number"], Body=data[start:start + part["size"]])
    return ticket


def _in_progress(p: Pipeline) -> list[str]:
    listed = p.s3.list_multipart_uploads(Bucket=p.container.settings.resources.bucket)
    return [u["UploadId"] for u in listed.get("Uploads", [])]


def test_a_completed_multipart_upload_imports_itself(pipeline: Pipeline) -> None:
    data = qcow2(padding=6 * MiB)
    image = _image(pipeline)
    ticket = _upload(pipeline, image["id"], data)
    assert ticket["part_count"] == 2

    status, _, _ = pipeline.post(f"/v2/images/{image['id']}/upload-url/complete", {}, ALICE)
    assert status == 202

    task = _task_of(pipeline, image["id"])  # one import, however many events the object raised
    assert task["status"] == "success", task["message"]
    shown = pipeline.get(f"/v2/images/{image['id']}", ALICE)[1]
    assert shown["status"] == "active" and shown["size"] == len(data) and shown["virtual_size"] == VIRTUAL_SIZE
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert pipeline.keys() == [f"images/{image['id']}"] and _in_progress(pipeline) == []


def test_a_multipart_upload_that_fails_verification_leaves_the_image_queued_for_another(pipeline: Pipeline) -> None:
    image = _image(pipeline)  # qcow2, but raw data comes
    _upload(pipeline, image["id"], raw(PART + 1000))
    assert pipeline.post(f"/v2/images/{image['id']}/upload-url/complete", {}, ALICE)[0] == 202

    task = _task_of(pipeline, image["id"])
    assert task["status"] == "failure" and "does not match" in task["message"]
    assert pipeline.get(f"/v2/images/{image['id']}", ALICE)[1]["status"] == "queued"
    assert pipeline.keys() == [] and _in_progress(pipeline) == []
    status, ticket, _ = pipeline.post(f"/v2/images/{image['id']}/upload-url", {"size": 10, "multipart": True}, ALICE)
    assert status == 200, ticket  # the import forgot the finished upload: a new one may start


def test_an_aborted_multipart_upload_leaves_no_parts(pipeline: Pipeline) -> None:
    image = _image(pipeline)
    ticket = _upload(pipeline, image["id"], raw(PART + 10))
    assert _in_progress(pipeline) == [ticket["upload_id"]]

    resp = pipeline.api.http.delete(f"/v2/images/{image['id']}/upload-url", headers=ALICE)
    assert resp.status_code == 204
    assert _in_progress(pipeline) == [] and pipeline.keys() == []
    assert pipeline.get(f"/v2/images/{image['id']}", ALICE)[1]["status"] == "queued"
    executions = pipeline.sfn.list_executions(stateMachineArn=pipeline.machine_arn)["executions"]
    assert executions == []


def test_a_deleted_image_leaves_no_parts(pipeline: Pipeline) -> None:
    image = _image(pipeline)
    _upload(pipeline, image["id"], raw(PART + 10))
    assert pipeline.api.http.delete(f"/v2/images/{image['id']}", headers=ALICE).status_code == 204
    assert _in_progress(pipeline) == [] and pipeline.keys() == []


@pytest.mark.settings(upload_min_part_size=4)
def test_parts_the_store_refuses_are_400_and_the_upload_stays_for_another_try(pipeline: Pipeline) -> None:
    # The setting allows parts S3 (and moto, by default) refuses: S3's EntityTooSmall is the client's 400.
    image = _image(pipeline)
    status, ticket, _ = pipeline.post(f"/v2/images/{image['id']}/upload-url", {"size": 10, "part_size": 4}, ALICE)
    assert status == 200, ticket
    bucket, key = pipeline.container.settings.resources.bucket, f"staging/imports/{image['id']}"
    for number, chunk in ((1, b"abcd"), (2, b"efgh"), (3, b"ij")):
        pipeline.s3.upload_part(Bucket=bucket, Key=key, UploadId=ticket["upload_id"], PartNumber=number, Body=chunk)

    status, error, _ = pipeline.post(f"/v2/images/{image['id']}/upload-url/complete", {}, ALICE)
    assert status == 400 and "EntityTooSmall" in error["message"] and error["code"] == "400 Bad Request"
    assert _in_progress(pipeline) == [ticket["upload_id"]] and pipeline.keys() == []
    assert pipeline.api.http.delete(f"/v2/images/{image['id']}/upload-url", headers=ALICE).status_code == 204
    assert _in_progress(pipeline) == []
