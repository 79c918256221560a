"""API Gateway's own answers look like the app's, data goes out as bytes, the stage is throttled from context."""
from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import pytest

from infra.stacks.gateway import GATEWAY_RESPONSES
from infra.stacks.settings import DeployConfig
from tests.infra.conftest import CLOUD_JWT, ROOT, Synth

# The response types API Gateway documents; each one must be given Glance's body.
DOCUMENTED = {
    "ACCESS_DENIED", "API_CONFIGURATION_ERROR", "AUTHORIZER_CONFIGURATION_ERROR", "AUTHORIZER_FAILURE",
    "BAD_REQUEST_PARAMETERS", "BAD_REQUEST_BODY", "DEFAULT_4XX", "DEFAULT_5XX", "EXPIRED_TOKEN",
    "INTEGRATION_FAILURE", "INTEGRATION_TIMEOUT", "INVALID_API_KEY", "INVALID_SIGNATURE",
    "MISSING_AUTHENTICATION_TOKEN", "QUOTA_EXCEEDED", "REQUEST_TOO_LARGE", "RESOURCE_NOT_FOUND", "THROTTLED",
    "UNAUTHORIZED", "UNSUPPORTED_MEDIA_TYPE", "WAF_FILTERED",
}


def _api(expanded: dict[str, Any]) -> dict[str, Any]:
    [api] = [r for r in expanded.values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    body: dict[str, Any] = api["Properties"]["Body"]
    return body


def _responses(expanded: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = _api(expanded)["x-amazon-apigateway-gateway-responses"]
    return responses


def test_every_gateway_response_type_has_a_glance_body_and_the_request_id(expanded: dict[str, Any]) -> None:
    # Given the API as CloudFormation gets it (after SAM's transform)
    responses = _responses(expanded)
    # Then every documented type is answered, each with the status it is mapped to
    assert set(responses) == DOCUMENTED
    for kind, response in responses.items():
        status = response["statusCode"]
        assert status == GATEWAY_RESPONSES[kind][0], kind
        # a body in Glance's JSON error form, whose code is the response's own status
        body = json.loads(response["responseTemplates"]["application/json"])
        assert body == {"message": body["message"], "code": f"{status} {HTTPStatus(status).phrase}",
                        "title": HTTPStatus(status).phrase}, kind
        assert body["message"] and "$" not in body["message"]  # no variable for the gateway to substitute
        params = response["responseParameters"]
        assert params["gatewayresponse.header.x-openstack-request-id"] == "context.requestId"
        assert params["gatewayresponse.header.Content-Type"] == "'application/json; charset=UTF-8'"
        assert ("gatewayresponse.header.Retry-After" in params) == (status in (429, 503, 504)), kind


def test_an_oversize_body_gets_a_413_naming_the_ways_that_work(expanded: dict[str, Any]) -> None:
    response = _responses(expanded)["REQUEST_TOO_LARGE"]
    message = json.loads(response["responseTemplates"]["application/json"])["message"]
    assert response["statusCode"] == 413
    assert "web-download" in message and "/upload-url" in message and "data_plane=on" in message


@pytest.mark.parametrize("kind,status", [("MISSING_AUTHENTICATION_TOKEN", 404), ("UNAUTHORIZED", 401),
                                         ("THROTTLED", 429), ("QUOTA_EXCEEDED", 429), ("INTEGRATION_TIMEOUT", 504),
                                         ("ACCESS_DENIED", 403), ("DEFAULT_5XX", 500), ("DEFAULT_4XX", 400)])
def test_glance_statuses_replace_api_gateways(expanded: dict[str, Any], kind: str, status: int) -> None:
    # An unknown path is 404 in Glance (API Gateway says 403 "Missing Authentication Token")
    assert _responses(expanded)[kind]["statusCode"] == status


def test_the_gateways_401_and_404_bodies_are_the_apps_own(expanded: dict[str, Any], api: Any) -> None:
    # Given what the app itself answers (dev mode here) to a request without identity and to an unknown path
    unauthorized = api.http.get("/v2/images", headers={"Accept": "application/json"})
    unknown = api.http.get("/no-such-thing", headers={"Accept": "application/json", "X-Auth-Token": "a:p:member"})
    assert (unauthorized.status_code, unknown.status_code) == (401, 404)
    # Then the gateway's answers for the same faults have the same bodies
    responses = _responses(expanded)
    assert json.loads(responses["UNAUTHORIZED"]["responseTemplates"]["application/json"]) == json.loads(unauthorized.body)
    assert json.loads(responses["MISSING_AUTHENTICATION_TOKEN"]["responseTemplates"]["application/json"]) == \
        json.loads(unknown.body)


def test_binary_media_types_are_everything_so_data_goes_out_whatever_the_accept(expanded: dict[str, Any]) -> None:
    # API Gateway decodes a base64 body to bytes only when the first Accept value matches a binary type
    assert _api(expanded)["x-amazon-apigateway-binary-media-types"] == ["*/*"]


def test_the_stage_is_throttled_with_the_contexts_figures(expanded: dict[str, Any]) -> None:
    [stage] = [r for r in expanded.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert stage["Properties"]["MethodSettings"] == [{
        "ResourcePath": "/*", "HttpMethod": "*",
        "ThrottlingRateLimit": CLOUD_JWT["api_throttle_rate"], "ThrottlingBurstLimit": CLOUD_JWT["api_throttle_burst"]}]


def test_cdk_json_sets_the_throttling_and_leaves_the_data_plane_off() -> None:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    deploy = DeployConfig.from_context(context.get)
    assert (deploy.api_throttle_rate, deploy.api_throttle_burst) == (context["api_throttle_rate"],
                                                                     context["api_throttle_burst"])
    assert deploy.data_plane is False


def test_without_the_data_plane_there_is_no_load_balancer_or_container(synth: Synth) -> None:
    for kind in ("AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ECS::Service", "AWS::EC2::VPC"):
        assert synth.resources(kind) == {}
