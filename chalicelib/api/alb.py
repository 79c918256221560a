"""An Application Load Balancer's Lambda-target event as the API Gateway proxy event Chalice reads.

With the data plane on (infra/stacks/data_plane.py), the load balancer sends every route the
container does not serve to the API handler function, as ALB events (multi-value headers on, so
repeated query parameters survive). No API Gateway authorizer stands on that path: the token is
validated here by the authorizer's own code (``authorizer.identity_context``) and its context goes where
API Gateway puts it, so the views cannot tell the fronts apart. A missing or bad token is a 401 in
Glance's format, as the gateway's UNAUTHORIZED response is. The answer goes back in the ALB's
shape (``statusDescription``, ``isBase64Encoded``, ``multiValueHeaders``).
"""
from __future__ import annotations

import base64
import uuid
from typing import Any, Callable, Mapping
from urllib.parse import unquote_plus

from chalicelib.api import authorizer
from chalicelib.api.errors import NOT_FOUND, error_response, reason_phrase
from chalicelib.api.http import MAX_REQUEST_ID_LENGTH
from chalicelib.api.routing import GatewayRouteMatcher
from chalicelib.domain.errors import Unauthenticated

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
TOKEN_HEADER = "x-auth-token"  # the stack's authorizer identity source
REQUEST_ID_HEADER = "x-openstack-request-id"


def is_alb_event(event: Any) -> bool:
    """Whether ``event`` came from a load balancer's Lambda target group."""
    return isinstance(event, Mapping) and "elb" in (event.get("requestContext") or {})


def handle(event: Mapping[str, Any], context: Any, serve: Handler, matcher: GatewayRouteMatcher,
           check_tokens: bool) -> dict[str, Any]:
    """Serve one ALB event through ``serve`` (the API Gateway handler); 401 without a valid token."""
    headers = _headers(event)
    claims: dict[str, str] | None = None
    if check_tokens:
        try:
            claims = authorizer.identity_context(headers.get(TOKEN_HEADER, ""))
        except authorizer.Unauthorized:
            return _refused(401, Unauthenticated().message, headers)
    query = _query(event)
    try:
        match = matcher.match_route(str(event.get("path") or "/"))
    except ValueError:
        return _refused(404, NOT_FOUND, headers)
    return to_alb_response(serve(to_gateway_event(event, headers, query, match.route, match.captured, claims),
                                 context))


def to_gateway_event(event: Mapping[str, Any], headers: dict[str, str], query: dict[str, list[str]],
                     route: str, captured: dict[str, str], claims: dict[str, str] | None) -> dict[str, Any]:
    """The API Gateway proxy event of the same request (the fields Chalice's Request reads)."""
    method = str(event.get("httpMethod") or "GET").upper()
    path = str(event.get("path") or "/")
    source = headers.get("x-forwarded-for", "").split(",")[0].strip()
    request_context: dict[str, Any] = {
        "resourcePath": route, "httpMethod": method, "path": path, "stage": "",
        "requestId": str(uuid.uuid4()), "identity": {"sourceIp": source},
    }
    if claims is not None:
        request_context["authorizer"] = claims
    return {
        "resource": route, "path": path, "httpMethod": method,
        "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": captured or None, "stageVariables": None,
        "requestContext": request_context,
        "body": event.get("body"), "isBase64Encoded": bool(event.get("isBase64Encoded")),
    }


def to_alb_response(response: Mapping[str, Any]) -> dict[str, Any]:
    """Chalice's proxy response as the load balancer wants it (every header as a list)."""
    status = int(response["statusCode"])
    headers: dict[str, list[str]] = {k: [str(v)] for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers.setdefault(name, []).extend(str(v) for v in values)
    body, encoded = response.get("body"), bool(response.get("isBase64Encoded"))
    if isinstance(body, bytes):  # a body Chalice left as bytes goes out as bytes, not as text
        body, encoded = base64.b64encode(body).decode("ascii"), True
    return {"statusCode": status, "statusDescription": f"{status} {reason_phrase(status)}",
            "isBase64Encoded": encoded, "multiValueHeaders": headers, "body": body or ""}


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    # Lower-cased as API Gateway's are; a repeated header is joined as one comma-separated value.
    multi = event.get("multiValueHeaders")
    if multi is not None:
        return {k.lower(): ",".join(v) for k, v in multi.items()}
    return {k.lower(): str(v) for k, v in (event.get("headers") or {}).items()}


def _query(event: Mapping[str, Any]) -> dict[str, list[str]]:
    # The load balancer passes the query as the client sent it, still percent-encoded; API Gateway decodes.
    multi = event.get("multiValueQueryStringParameters")
    if multi is None:
        multi = {k: [v] for k, v in (event.get("queryStringParameters") or {}).items()}
    return {unquote_plus(k): [unquote_plus(v) for v in values] for k, values in multi.items()}


def _refused(status: int, message: str, headers: Mapping[str, str]) -> dict[str, Any]:
    response = error_response(status, message, accept=headers.get("accept"))
    incoming = headers.get(REQUEST_ID_HEADER, "")
    rid = incoming if 0 < len(incoming) <= MAX_REQUEST_ID_LENGTH else f"req-{uuid.uuid4()}"
    response.headers[REQUEST_ID_HEADER] = rid
    return to_alb_response(response.to_dict())
