"""API Gateway's own answers in Glance's format, binary media types and stage throttling.

API Gateway answers some requests itself, before or instead of the app: the authorizer's 401,
a body over its 10 MB limit, throttling, a function that failed or timed out. Left alone, those
bodies are API Gateway's (``{"message": "Unauthorized"}``), which glanceclient shows as noise.
Each is given here the body the app itself sends for the same code (``errors.error_response``'s
JSON form) and the request's id in ``x-openstack-request-id``; its status is Glance's for the
same fault (an unknown path is 404 in Glance, not API Gateway's 403 "Missing Authentication Token").

Binary media types are ``*/*``: API Gateway decides from the first ``Accept`` value whether to
turn a base64 body back into bytes, so only ``*/*`` delivers image data to ``Accept:
application/json`` (chalicelib/api/entry.py does the same in the app). Request bodies then
reach the function base64-encoded, which Chalice decodes.
"""
from __future__ import annotations

from typing import Any

from chalicelib.api.errors import NOT_FOUND, RETRY_AFTER_SECONDS, error_response
from chalicelib.domain.errors import BackendFailure, Unauthenticated

BINARY_MEDIA_TYPES = ["*/*"]
REQUEST_ID_HEADER = "x-openstack-request-id"
# The alternatives an oversize body is pointed to (README "Large images").
TOO_LARGE = (
    "The request body is larger than this endpoint accepts (API Gateway takes at most 10 MB). "
    "Send image data another way: the web-download import (POST /v2/images/{image_id}/import with "
    "method web-download), the presigned upload (POST /v2/images/{image_id}/upload-url, then PUT the data "
    "to the URL it returns), or the data plane (deploy the stack with -c data_plane=on and use its endpoint)."
)
DENIED = "Access was denied to this resource."
BUSY = "Too many requests; try again later."

# API Gateway response type -> (Glance's status for it, message). Every type is listed, so the
# two DEFAULT_ entries (fixed statuses, so body and status agree) catch only types added later.
GATEWAY_RESPONSES: dict[str, tuple[int, str]] = {
    "UNAUTHORIZED": (401, Unauthenticated.template),
    "EXPIRED_TOKEN": (401, Unauthenticated.template),
    "ACCESS_DENIED": (403, DENIED),
    "INVALID_API_KEY": (403, DENIED),
    "INVALID_SIGNATURE": (403, DENIED),
    "WAF_FILTERED": (403, DENIED),
    "MISSING_AUTHENTICATION_TOKEN": (404, NOT_FOUND),  # API Gateway's word for an unknown path or method
    "RESOURCE_NOT_FOUND": (404, NOT_FOUND),
    "BAD_REQUEST_BODY": (400, "The request body is not valid."),
    "BAD_REQUEST_PARAMETERS": (400, "The request parameters are not valid."),
    "REQUEST_TOO_LARGE": (413, TOO_LARGE),
    "UNSUPPORTED_MEDIA_TYPE": (415, "The request's Content-Type is not supported."),
    "THROTTLED": (429, BUSY),
    "QUOTA_EXCEEDED": (429, BUSY),
    "API_CONFIGURATION_ERROR": (500, BackendFailure.template),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, BackendFailure.template),
    "AUTHORIZER_FAILURE": (503, "The identity service could not be reached; try again."),
    "INTEGRATION_FAILURE": (502, BackendFailure.template),
    "INTEGRATION_TIMEOUT": (504, "The image service did not answer in time; try again."),
    "DEFAULT_4XX": (400, "The request could not be served."),
    "DEFAULT_5XX": (500, BackendFailure.template),  # a function that raised: Glance's 500 for an unhandled fault
}
RETRIED = {429, 503, 504}  # answers a client may retry: they carry Retry-After as the app's 503 does


def glance_body(status: int, message: str) -> str:
    """The JSON error body the app sends for ``status`` (a gateway template: no VTL, ``$`` is literal here)."""
    return str(error_response(status, message, accept="application/json").body)


def gateway_responses() -> dict[str, Any]:
    """``x-amazon-apigateway-gateway-responses`` for the API's OpenAPI definition."""
    out: dict[str, Any] = {}
    for kind, (status, message) in GATEWAY_RESPONSES.items():
        params = {f"gatewayresponse.header.{REQUEST_ID_HEADER}": "context.requestId",
                  "gatewayresponse.header.Content-Type": "'application/json; charset=UTF-8'"}
        if status in RETRIED:
            params["gatewayresponse.header.Retry-After"] = f"'{RETRY_AFTER_SECONDS}'"
        out[kind] = {"statusCode": status, "responseParameters": params,
                     "responseTemplates": {"application/json": glance_body(status, message)}}
    return out


def method_settings(rate: int, burst: int) -> list[dict[str, Any]]:
    """The stage's throttling, for every method (``MethodSettings`` of the SAM API)."""
    return [{"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": rate, "ThrottlingBurstLimit": burst}]


def apply(api: Any, rate: int, burst: int) -> None:
    """Put the gateway responses, binary media types and throttling on Chalice's SAM API resource."""
    api.add_property_override("DefinitionBody.x-amazon-apigateway-gateway-responses", gateway_responses())
    api.add_property_override("DefinitionBody.x-amazon-apigateway-binary-media-types", BINARY_MEDIA_TYPES)
    api.add_property_override("MethodSettings", method_settings(rate, burst))
