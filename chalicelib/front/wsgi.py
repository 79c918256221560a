"""The WSGI application: data routes streamed into the services, every other route handed to Chalice.

Mode ``all`` (``make run``) serves every request as API Gateway would; mode ``data`` (the AWS
data plane's container) serves only the upload routes and ``GET /healthcheck`` (any other route
is a Glance 404; a path no route matches gets the functions' own answer: 300 for a version path
not served, else 404). Both authenticate like the API: in cloud mode the token goes through the
TOKEN authorizer's own validation (api/authorizer.identity_context) and the event carries the
same identity context API Gateway would pass on.
"""
from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Callable, Iterable, Mapping

from chalice.app import Response
from chalice.local import LambdaContext

from chalicelib.api import body as body_source
from chalicelib.api import observability
from chalicelib.api.authorizer import Unauthorized, identity_context
from chalicelib.api.errors import NOT_FOUND, error_response, reason_phrase
from chalicelib.api.http import METHODS, UNSUPPORTED
from chalicelib.api.versions import CATCH_ALL
from chalicelib.config import FrontSettings, IdentitySettings
from chalicelib.front.body import IncompleteBody, RequestBody
from chalicelib.front.events import EventBuilder, request_headers, request_target, response_parts

StartResponse = Callable[..., Any]
# (method, route): the bodies read from the socket as they arrive, never held whole.
STREAMED = frozenset({
    ("PUT", "/v2/images/{image_id}/file"), ("PUT", "/v2/images/{image_id}/stage"),
    ("PUT", "/images/{image_id}/file"), ("PUT", "/images/{image_id}/stage"),
    ("PUT", "/v1/images/{image_id}"), ("POST", "/v1/images"),
})
HEALTHCHECK = "/healthcheck"
# API Gateway's payload limit: any other route's body beyond it is refused, as there.
MAX_EVENT_BODY = 10 * 1024 * 1024
access_log = logging.getLogger("glance.access")


class Front:
    """One Chalice app behind WSGI; ``authorize`` (cloud mode) maps a token to the authorizer's context."""

    def __init__(self, app: Any, settings: FrontSettings, identity: IdentitySettings,
                 authorize: Callable[[str], Mapping[str, str]] | None = None) -> None:
        thread_local_requests(app)
        self.app = app
        self.mode = settings.front_mode
        self.read_bytes = settings.front_read_bytes
        self.quiet = settings.log_format != "json"
        self.cloud = identity.auth_mode == "cloud"
        self._authorize = authorize or identity_context
        self.events = EventBuilder(list(app.routes), list(app.api.binary_types))

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "GET").upper()
        target = request_target(environ)
        headers = request_headers(environ)
        status, out, payload = self.respond(environ, method, target, headers)
        start_response(f"{status} {reason_phrase(status)}", out)
        rid = next((v for n, v in out if n.lower() == "x-openstack-request-id"), "-")
        access_log.info("%s %s %s %.1fms %s", method, target, status, (time.perf_counter() - start) * 1000, rid)
        return [payload]

    def respond(self, environ: Mapping[str, Any], method: str, target: str,
                headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
        """(status, headers, body) for one request."""
        accept = headers.get("accept")
        if method not in METHODS and method not in UNSUPPORTED:
            return _glance(501, "The server does not support this method.", accept, method)
        route = self.events.route_of(target)
        streamed = route is not None and (method, route) in STREAMED
        if self.mode == "data" and not streamed:
            if target.split("?")[0] == HEALTHCHECK and method in ("GET", "HEAD"):
                return 200, [("Content-Type", "application/json"), ("Content-Length", "15")], (
                    b"" if method == "HEAD" else b'{"status":"ok"}')
            if route != CATCH_ALL:  # the catch-all's answers (300, 404) need no AWS: given as the functions give them
                return _glance(404, NOT_FOUND, accept, method)
        try:
            context = self._authorize(headers.get("x-auth-token", "")) if self.cloud else None
        except Unauthorized:
            return _glance(401, "The request you have made requires authentication.", accept, method)
        body = _body(environ, headers, self.read_bytes)
        try:
            data = None if streamed else _read_whole(body)
        except IncompleteBody as exc:
            return _glance(400, exc.message, accept, method)
        except OverflowError:
            return _glance(413, f"Request bodies beyond {MAX_EVENT_BODY} bytes are only taken by the upload routes.",
                           accept, method)
        if streamed:
            headers.pop("transfer-encoding", None)
        event = self.events.event(method, target, headers, data, context)
        tokens = body_source.streamed.set(body if streamed else None), observability.quiet.set(self.quiet)
        try:
            answer = self.app(event, LambdaContext("api_handler", 1024))
        finally:
            body_source.streamed.reset(tokens[0])
            observability.quiet.reset(tokens[1])
        if streamed and not body.complete:
            # Answered without reading it all (a refusal before the data): the rest is read off the
            # connection so it can serve the next request, or the connection is dropped.
            try:
                body.drain()
            except IncompleteBody:
                pass
        return response_parts(answer, method)


def _body(environ: Mapping[str, Any], headers: Mapping[str, str], read_bytes: int) -> RequestBody:
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    length = None if chunked else int(headers.get("content-length") or 0)
    return RequestBody(environ["wsgi.input"], length, read_bytes)


def _read_whole(body: RequestBody) -> bytes | None:
    """A small body, whole (raises OverflowError past MAX_EVENT_BODY); None when there is none."""
    if body.length is not None and body.length > MAX_EVENT_BODY:
        raise OverflowError()
    data = bytearray()
    for piece in body:
        data += piece
        if len(data) > MAX_EVENT_BODY:
            raise OverflowError()
    return bytes(data) or None


def _glance(status: int, message: str, accept: str | None, method: str) -> tuple[int, list[tuple[str, str]], bytes]:
    answer: Response = error_response(status, message, {"x-openstack-request-id": f"req-{uuid.uuid4()}"}, accept)
    return response_parts(answer.to_dict(), method)


def thread_local_requests(app: Any) -> None:
    """Make ``app.current_request`` per thread (as ``chalice local`` does): the server is threaded."""
    from chalice.local import LocalChalice

    if not isinstance(app, LocalChalice):
        app.__class__ = type(f"ThreadLocal{type(app).__name__}", (LocalChalice, type(app)), {})
