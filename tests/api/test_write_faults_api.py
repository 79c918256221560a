"""Transient DynamoDB faults on the write path, as real AWS answers them (injected under moto).

Each of a create, an upload's first status change (queued -> saving, which moves the
project's counters in the same transaction) and a delete meets a conflicting
transaction, throttling or a 500. A few faults are retried away and the request
succeeds; a fault that does not pass answers 503 with Retry-After and leaves the
stored state as it was. Never a 400, never the upstream text.
"""
from __future__ import annotations

import json
from typing import Any, Callable

import pytest

from chalicelib.adapters.dynamo_models import ImageRecord
from tests.api.helpers import ALICE, body, create, stored_keys
from tests.faults import dynamo_client, inject

pytestmark = pytest.mark.moto  # the faults are injected into the real DynamoDB client
OCTET = {**ALICE, "Content-Type": "application/octet-stream", "Accept": "*/*"}
DATA = b"\x00" * 4096
UPSTREAM = "<html>upstream page: do not show</html>"

# The three faults of the issue, as DynamoDB answers a TransactWriteItems with each.
FAULTS = {
    "conflict": dict(code="TransactionCanceledException", reasons=["TransactionConflict", "None"]),
    "throttling": dict(code="ThrottlingException"),
    "500": dict(code="InternalServerError", status=500),
}


def _usage(api: Any) -> dict[str, Any]:
    return {k: v["usage"] for k, v in body(api.http.get("/v2/info/usage", headers=ALICE))["usage"].items()}


def _images(api: Any) -> list[dict[str, Any]]:
    return body(api.http.get("/v2/images", headers=ALICE))["images"]


def _create(api: Any) -> Any:
    return api.http.post("/v2/images", headers=ALICE, body=json.dumps({"name": "made", "disk_format": "raw",
                                                                        "container_format": "bare"}))


def _upload(api: Any, image_id: str) -> Any:
    return api.http.put(f"/v2/images/{image_id}/file", headers=OCTET, body=DATA)


def _delete(api: Any, image_id: str) -> Any:
    return api.http.delete(f"/v2/images/{image_id}", headers=ALICE)


OPERATIONS: dict[str, tuple[Callable[[Any, str], Any], int]] = {
    "create": (lambda api, _: _create(api), 201),
    "upload": (_upload, 204),
    "delete": (_delete, 204),
}


def _target(api: Any) -> str:
    return str(create(api, ALICE, name="target", disk_format="raw", container_format="bare")["id"])


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_few_transient_faults_are_retried_and_the_request_succeeds(api: Any, fault: str, operation: str) -> None:
    image_id = _target(api)
    call, ok = OPERATIONS[operation]
    with inject(dynamo_client(ImageRecord), "dynamodb.TransactWriteItems", message=UPSTREAM, times=2,
                **FAULTS[fault]) as injected:  # type: ignore[arg-type]
        resp = call(api, image_id)
    assert injected.fired == 2 and injected.calls >= 3
    assert resp.status_code == ok, resp.body
    listed = {im["id"]: im for im in _images(api)}
    if operation == "create":
        assert len(listed) == 2 and _usage(api)["image_count_total"] == 2
    elif operation == "upload":
        assert listed[image_id]["status"] == "active" and listed[image_id]["size"] == len(DATA)
        assert stored_keys(api_container(api)) == [f"images/{image_id}"]
        assert _usage(api)["image_count_uploading"] == 0
    else:
        assert image_id not in listed and _usage(api)["image_count_total"] == 0


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_fault_that_does_not_pass_is_503_with_retry_after_and_changes_nothing(
    api: Any, fault: str, operation: str,
) -> None:
    image_id = _target(api)
    before = (_images(api), _usage(api))
    call, _ = OPERATIONS[operation]
    with inject(dynamo_client(ImageRecord), "dynamodb.TransactWriteItems", message=UPSTREAM,
                **FAULTS[fault]) as injected:  # type: ignore[arg-type]
        resp = call(api, image_id)
    assert injected.fired >= 3  # retried before giving up
    assert resp.status_code == 503 and resp.headers["Retry-After"].isdigit()
    assert "upstream" not in resp.body.decode()
    assert (_images(api), _usage(api)) == before
    assert stored_keys(api_container(api)) == []


def api_container(api: Any) -> Any:
    from chalicelib import wiring

    return wiring.container()
