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

from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LambdaEventConverter,
    LocalChalice,
    LocalDevServer,
    LocalGateway,
)

from chalicelib.api.routing import GatewayRouteMatcher


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
