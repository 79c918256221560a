"""Error headers come from the error map: Retry-After on a 503, Allow on a 405, nothing extra otherwise."""
from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.dynamo_models import ImageRecord
from chalicelib.api.errors import RETRY_AFTER_SECONDS, headers_for
from chalicelib.domain.errors import BackendFailure, MethodNotAllowed, NotFound, ServiceUnavailable, TransientFault
from tests.api.helpers import ALICE, body, create
from tests.faults import dynamo_client, inject


@pytest.mark.moto  # the fault is injected into the DynamoDB client
def test_a_throttled_read_is_503_with_retry_after_and_no_upstream_text(api: Any) -> None:
    image = create(api, ALICE, name="x")
    with inject(dynamo_client(ImageRecord), "dynamodb.GetItem", code="ThrottlingException",
                message="<html>upstream secret</html>"):
        resp = api.http.get(f"/v2/images/{image['id']}", headers=ALICE)
    assert resp.status_code == 503 and resp.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert body(resp)["message"] == "The service is busy (throttled); try again."


@pytest.mark.moto  # the fault is injected into the DynamoDB client
def test_a_denied_write_is_500_with_a_neutral_message(api: Any) -> None:
    with inject(dynamo_client(ImageRecord), "dynamodb.TransactWriteItems", code="AccessDeniedException",
                message="User arn:aws:iam::123:secret is not authorized"):
        resp = api.http.post("/v2/images", headers=ALICE, body="{}")
    assert resp.status_code == 500 and "secret" not in resp.body.decode()
    assert "Retry-After" not in resp.headers


def test_a_405_still_carries_allow(api: Any) -> None:
    resp = api.http.put("/v2/images", headers=ALICE, body="{}")
    assert resp.status_code == 405 and resp.headers["Allow"] == "GET, POST"
    assert body(resp)["message"] == "The method this is not allowed for this resource."


def test_header_rules_follow_the_class_hierarchy() -> None:
    assert headers_for(TransientFault(detail="throttled")) == {"Retry-After": str(RETRY_AFTER_SECONDS)}
    assert headers_for(ServiceUnavailable(detail="x")) == {"Retry-After": str(RETRY_AFTER_SECONDS)}
    assert headers_for(MethodNotAllowed(method="PUT", allowed="GET")) == {"Allow": "GET"}
    assert headers_for(NotFound(image_id="i")) == {} and headers_for(BackendFailure()) == {}
