"""A WSGI request as the API Gateway proxy event Chalice expects, and Chalice's answer back as WSGI's.

Matching is API Gateway's (literal routes, then captures, then the greedy ``{proxy+}``),
path parameters are percent-decoded as API Gateway does, and Chalice's own
``LambdaEventConverter`` builds the event. The answer's base64 body is decoded whatever the
request's ``Accept`` (chalicelib/api/entry.py: data goes out whatever the Accept).
"""
from __future__ import annotations

import base64
from typing import Any, Mapping
from urllib.parse import quote, urlsplit

from chalice.local import LambdaEventConverter

from chalicelib.api import versions
from chalicelib.api.routing import GatewayRouteMatcher

Environ = Mapping[str, Any]


def request_target(environ: Environ) -> str:
    """The path and query as the client sent them (percent-encoding kept)."""
    raw = environ.get("REQUEST_URI")
    if raw:
        split = urlsplit(raw)  # an absolute-form target carries a scheme and host
        return split.path + (f"?{split.query}" if split.query else "") if split.scheme else raw
    path = quote(environ.get("PATH_INFO", "").encode("latin-1"), safe="/:@!$&'()*+,;=-._~")
    query = environ.get("QUERY_STRING")
    return path + (f"?{query}" if query else "")


def request_headers(environ: Environ) -> dict[str, str]:
    """The request headers, names lower-case (WSGI joins repeated ones with ", ")."""
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    return headers


class EventBuilder:
    """Proxy events for one Chalice app's routes."""

    def __init__(self, routes: list[str], binary_types: list[str]) -> None:
        self.matcher = GatewayRouteMatcher(routes)
        self._converter = LambdaEventConverter(self.matcher, binary_types)  # type: ignore[arg-type]

    def route_of(self, target: str) -> str | None:
        """The route a target matches, None for none."""
        try:
            return str(self.matcher.match_route(versions.served_target(target, self.matcher)).route)
        except ValueError:
            return None

    def event(self, method: str, target: str, headers: dict[str, str], body: bytes | None,
              authorizer: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The proxy event; raises ValueError for a target no route matches."""
        served = versions.served_target(target, self.matcher)  # /v2.1/... is /v2/... (Glance's version negotiation)
        event: dict[str, Any] = self._converter.create_lambda_event(method, served, headers, body)
        if authorizer is not None:
            event["requestContext"]["authorizer"] = dict(authorizer)
        return event


def response_parts(answer: Mapping[str, Any], method: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of Chalice's answer; a HEAD keeps GET's Content-Length and sends no body,
    and a 204 carries neither Content-Type nor body."""
    status = int(answer["statusCode"])
    body = answer.get("body")
    data = base64.b64decode(body or "") if answer.get("isBase64Encoded") else (body or "")
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    headers: list[tuple[str, str]] = []
    for name, value in (answer.get("headers") or {}).items():
        headers.append((name, str(value)))
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(v)) for v in values)
    names = {name.lower() for name, _ in headers}
    if status in (204, 304) or (status < 200):
        headers = [(n, v) for n, v in headers if n.lower() not in ("content-type", "content-length")]
        return status, headers, b""
    if "content-type" not in names:
        headers.append(("Content-Type", "application/json"))
    headers = [(n, v) for n, v in headers if n.lower() != "content-length"]
    headers.append(("Content-Length", str(len(payload))))
    return status, headers, b"" if method == "HEAD" else payload
