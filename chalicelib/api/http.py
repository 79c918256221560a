"""Request plumbing shared by every route: request ids, identity, method rejection."""
from __future__ import annotations

import contextvars
import uuid
from typing import Any, Callable

from chalice.app import CaseInsensitiveMapping, Chalice, Request, Response

from chalicelib.api import identity
from chalicelib.api.errors import current_accept, error_response, http_errors
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import MethodNotAllowed, MethodNotImplemented
from chalicelib.wiring import container

MAX_REQUEST_ID_LENGTH = 64
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH")
# Glance answers 501 for any other method; OPTIONS is the one API Gateway and chalice local route.
UNSUPPORTED = ("OPTIONS",)
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def request_id_middleware(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Reuse or mint ``x-openstack-request-id`` and put it on every response (431 when too long)."""
    incoming = event.headers.get("x-openstack-request-id")
    accept = event.headers.get("accept")
    if incoming is not None and len(incoming) > MAX_REQUEST_ID_LENGTH:
        return _as_bytes(error_response(431, f"Request ID is longer than {MAX_REQUEST_ID_LENGTH} characters.",
                                        accept=accept))
    rid = incoming or f"req-{uuid.uuid4()}"
    if accept is None:
        # No Accept means any type (RFC 9110); said so, Chalice's binary check lets data answers out (app.py).
        event.headers = CaseInsensitiveMapping({**dict(event.headers.items()), "accept": "*/*"})
    tokens = (_request_id.set(rid), current_accept.set(accept))
    try:
        response = get_response(event)
    finally:
        _request_id.reset(tokens[0])
        current_accept.reset(tokens[1])
    response.headers["x-openstack-request-id"] = rid
    return _as_bytes(response)


def _as_bytes(response: Response) -> Response:
    """Text bodies as UTF-8 bytes: every media type is binary to the API (app.py), and Chalice base64-encodes
    only bytes (or JSON) for a binary type."""
    if isinstance(response.body, str):
        response.body = response.body.encode("utf-8")
    return response


def current_request_id() -> str:
    """The OpenStack request id of the request being handled ("" outside one)."""
    return _request_id.get()


def request_context(request: Request) -> RequestContext:
    """The caller's identity for this request; raises Unauthenticated."""
    rid = _request_id.get()
    if container().settings.identity.auth_mode == "dev":
        return identity.from_headers(request.headers, rid)
    authorizer = (request.context or {}).get("authorizer")
    return identity.from_authorizer(authorizer, rid)


def base_url(request: Request) -> str:
    """The public endpoint to build absolute links with: configured, else the request's Host."""
    configured = container().settings.api.public_endpoint
    if configured:
        return configured
    host = request.headers.get("host", "localhost")
    proto = request.headers.get("x-forwarded-proto", "http")
    stage = (request.context or {}).get("stage")
    # Behind API Gateway's default domain the stage is part of the path.
    prefix = f"/{stage}" if stage and ".execute-api." in host else ""
    return f"{proto}://{host}{prefix}"


def query_lists(request: Request) -> dict[str, list[str]]:
    """Query parameters with every repeated value kept."""
    params = request.query_params
    if not params:
        return {}
    return {key: list(params.getlist(key)) for key in params}


def serve_unversioned(app: Chalice) -> None:
    """Also serve each ``/v2/...`` route without the prefix.

    openstacksdk's ``admin_token`` plugin discovers the version document at the
    bare endpoint but then sends ``/images`` there; Glance would answer 300.
    Serving the current version at the bare path lets that client work unmodified.
    """
    for path, views in list(app.routes.items()):
        if not path.startswith("/v2/"):
            continue
        for method, entry in views.items():
            app.route(path[3:], methods=[method], content_types=entry.content_types)(entry.view_function)


def reject_other_methods(app: Chalice) -> None:
    """Answer 405 with ``Allow`` for any method a known path does not serve (Glance's reject routes)."""
    for path, views in list(app.routes.items()):
        allowed = ", ".join(m for m in METHODS if m in views)
        missing = [m for m in METHODS if m not in views]
        if missing:
            app.route(path, methods=missing, content_types=["*/*"])(_rejecter(allowed))
        app.route(path, methods=list(UNSUPPORTED), content_types=["*/*"])(_unsupported)


def _rejecter(allowed: str) -> Callable[..., Any]:
    @http_errors
    def reject(**_: str) -> Response:
        raise MethodNotAllowed(method="this", allowed=allowed)

    return reject


@http_errors
def _unsupported(**_: str) -> Response:
    raise MethodNotImplemented()
