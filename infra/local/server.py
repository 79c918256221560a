"""The local HTTP front: Chalice's local gateway with three fixes for real clients.

* TCP_NODELAY on every connection: Chalice writes headers and body apart, and
  Nagle plus delayed ACK would add ~40 ms to every keep-alive request.
* Chunked request bodies (python-glanceclient uploads that way).
* Path parameters are percent-decoded and ``{proxy+}`` is matched greedily,
  as API Gateway does, so unknown paths reach the app's Glance-style 404.
* No body after a HEAD response (an error page there would corrupt a keep-alive
  connection); the headers, Content-Length included, stay as GET's would be.
"""
from __future__ import annotations

import socket
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LambdaEventConverter,
    LocalChalice,
    LocalDevServer,
    LocalGateway,
    MatchResult,
)


class GatewayRouteMatcher:
    """API Gateway's matching: literal routes first, then captures, then ``{proxy+}``."""

    def __init__(self, route_urls: list[str]) -> None:
        greedy = [r for r in route_urls if r.endswith("+}")]
        self.routes = sorted(r for r in route_urls if r not in greedy)
        self.greedy = sorted(greedy, key=len, reverse=True)

    def match_route(self, url: str) -> MatchResult:
        parsed = urlparse(url)
        query = parse_qs(parsed.query, keep_blank_values=True)
        path = parsed.path
        if path != "/" and path.endswith("/"):
            path = path[:-1]
        parts = path.split("/")
        for route in self.routes:
            captured = self._match(parts, route.split("/"))
            if captured is not None:
                return MatchResult(route, captured, query)
        for route in self.greedy:
            prefix = route.split("/")[:-1]
            if len(parts) > len(prefix) and self._match(parts[: len(prefix)], prefix) is not None:
                name = route.split("/")[-1][1:-2]
                return MatchResult(route, {name: unquote("/".join(parts[len(prefix):]))}, query)
        raise ValueError(f"No matching route found for: {url}")

    @staticmethod
    def _match(parts: list[str], route_parts: list[str]) -> dict[str, str] | None:
        if len(parts) != len(route_parts):
            return None
        captured = {}
        for value, pattern in zip(parts, route_parts):
            if pattern.startswith("{") and pattern.endswith("}"):
                captured[pattern[1:-1]] = unquote(value)
            elif value != pattern:
                return None
        return captured


class GatewayRequestHandler(ChaliceRequestHandler):
    """Chalice's handler with TCP_NODELAY, chunked bodies and API Gateway route matching."""

    def __init__(self, request: Any, client_address: Any, server: Any, app_object: Any, config: Config) -> None:
        gateway = LocalGateway(app_object, config)
        gateway.event_converter = LambdaEventConverter(
            GatewayRouteMatcher(list(app_object.routes)), app_object.api.binary_types  # type: ignore[arg-type]
        )
        self.local_gateway = gateway
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send_http_response_with_body(self, code: int, headers: Any, body: str | bytes) -> None:
        if self.command != "HEAD":
            super()._send_http_response_with_body(code, headers, body)
            return
        self.send_response(code)
        self.send_header("Content-Length", str(len(body.encode("utf-8") if isinstance(body, str) else body)))
        self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
        self._send_headers(headers)

    def _parse_payload(self) -> tuple[dict[str, str], bytes | None]:
        headers = dict(self.headers)
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
            headers.pop("Transfer-Encoding", None)
            headers["Content-Length"] = str(len(body))
            return headers, body or None
        length = int(self.headers.get("content-length", "0") or 0)
        return headers, self.rfile.read(length) if length > 0 else None

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()


def make_server(app_object: Any, host: str, port: int) -> LocalDevServer:
    """A threaded local server for ``app_object`` on host:port."""
    config = Config(chalice_stage="dev", config_from_disk={}, user_provided_params={})
    if not isinstance(app_object, LocalChalice):
        # As ``chalice local`` does: make current_request thread-local for the threaded server.
        CustomLocalChalice.__bases__ = (LocalChalice, app_object.__class__)
        app_object.__class__ = CustomLocalChalice
    return LocalDevServer(app_object, config, host, port, handler_cls=GatewayRequestHandler)
