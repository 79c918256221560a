"""THE map from domain errors to HTTP, and the per-route wrapper that applies it.

Glance's error bodies are webob's and follow the Accept header (reference 0):
``application/json`` gets ``{"message": ..., "code": "404 Not Found", "title": "Not Found"}``;
``text/html``, ``*/*`` or no Accept gets webob's HTML page (python-glanceclient
sends ``*/*`` and cannot parse the flat JSON form); anything else plain text.
"""
from __future__ import annotations

import contextvars
import functools
import html
import json
from http import HTTPStatus
from typing import Any, Callable, TypeVar

from chalice.app import Response

from chalicelib.domain import errors as e

ERROR_STATUS: dict[type[e.DomainError], int] = {
    e.InvalidInput: 400,
    e.Unauthenticated: 401,
    e.Forbidden: 403,
    e.NotFound: 404,
    e.MethodNotAllowed: 405,
    e.Conflict: 409,
    e.Gone: 410,
    e.QuotaExceeded: 413,
    e.UnsupportedMediaType: 415,
    e.RangeNotSatisfiable: 416,
    e.MethodNotImplemented: 501,
    e.ServiceUnavailable: 503,
    # e.BackendFailure is left out on purpose: a fault no retry fixes is a 500.
}
# webob's reason phrases where they differ from Python's (Glance's title and code text come from webob).
WEBOB_PHRASES = {416: "Request Range Not Satisfiable"}
# Seconds a client should wait before retrying a 503 (a throttled or briefly unreachable backend).
RETRY_AFTER_SECONDS = 1
# The 404 of a path no route serves, from every front (functions, gateway responses, ALB, WSGI front).
NOT_FOUND = "The resource could not be found."


def _from_kwarg(header: str, key: str) -> Callable[[e.DomainError], dict[str, str]]:
    """A rule sending ``header`` with the exception's ``key`` argument, when it was given one."""
    return lambda exc: {header: str(exc.kwargs[key])} if key in exc.kwargs else {}


# Extra response headers per class, found by the same MRO walk as the status.
ERROR_HEADERS: dict[type[e.DomainError], Callable[[e.DomainError], dict[str, str]]] = {
    e.MethodNotAllowed: _from_kwarg("Allow", "allowed"),
    e.UnsupportedMediaType: _from_kwarg("Accept-Patch", "accept_patch"),  # PATCH with another media type
    e.ServiceUnavailable: lambda _: {"Retry-After": str(RETRY_AFTER_SECONDS)},
}

F = TypeVar("F", bound=Callable[..., Any])
# The request's Accept header, set by the request middleware.
current_accept: contextvars.ContextVar[str | None] = contextvars.ContextVar("accept", default=None)
_HTML = """<html>
 <head>
  <title>{code}</title>
 </head>
 <body>
  <h1>{code}</h1>
  {message}<br /><br />


 </body>
</html>"""


def status_for(exc: e.DomainError) -> int:
    """Walk the MRO to the nearest mapped class."""
    for cls in type(exc).__mro__:
        if cls in ERROR_STATUS:
            return ERROR_STATUS[cls]
    return 500


def headers_for(exc: e.DomainError) -> dict[str, str]:
    """The nearest class's header rule (Retry-After, Allow), walked like ``status_for``; none by default."""
    for cls in type(exc).__mro__:
        if cls in ERROR_HEADERS:
            return ERROR_HEADERS[cls](exc)
    return {}


def _negotiate(accept: str | None) -> str:
    accept = (accept or "").lower()
    if "application/json" in accept:
        return "application/json"
    if not accept or "text/html" in accept or "*/*" in accept:
        return "text/html"
    return "text/plain"


def reason_phrase(status: int) -> str:
    """The standard reason phrase of ``status`` for a status line ("Unknown" for a code HTTP does not name)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None, accept: str | None = None
) -> Response:
    """A Glance-shaped error in the media type the Accept header asks for."""
    phrase = WEBOB_PHRASES.get(status) or HTTPStatus(status).phrase
    code = f"{status} {phrase}"
    media = _negotiate(accept if accept is not None else current_accept.get())
    if media == "application/json":
        body = json.dumps({"message": message, "code": code, "title": phrase})
    elif media == "text/html":
        body = _HTML.format(code=code, message=html.escape(message))
    else:
        body = f"{code}\n\n{message}\n\n   "
    return Response(
        body=body,
        status_code=status,
        headers={"Content-Type": f"{media}; charset=UTF-8", **(headers or {})},
    )


def to_response(exc: e.DomainError) -> Response:
    """The HTTP answer for a domain error."""
    return error_response(status_for(exc), exc.message, headers_for(exc))


def http_errors(view: F) -> F:
    """Turn DomainErrors raised by a view into Glance error responses; others propagate (500)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except e.DomainError as exc:
            return to_response(exc)

    return wrapper  # type: ignore[return-value]  # functools.wraps keeps the signature
