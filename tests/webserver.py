"""A small file server on 127.0.0.1 for location and web-download tests: GET/HEAD, 404s, redirects, and
sources that misbehave (a Content-Length that lies, headers or a body trickled slowly)."""
from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

# The file server listens on one of these, so a test can allow them before it starts (IMPORT_ALLOWED_PORTS
# is independent of IMPORT_ALLOWED_HOSTS, as Glance's import filtering): the first free one is used.
PORTS = frozenset(range(18400, 18496))
ALLOWED_PORTS = frozenset({80, 443}) | PORTS


class FileServer:
    """Serves ``files`` (path -> bytes); ``redirects`` (path -> target URL) answer 302."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        # path -> statuses to answer (in order) before serving the file: a flaky source.
        self.failures: dict[str, list[int]] = {}
        self.requests: list[tuple[str, str]] = []
        # path -> the Content-Length to declare instead of the file's (a short body, or a lying header).
        self.declared: dict[str, str] = {}
        # path -> seconds between header lines (a server that never finishes its headers).
        self.trickle_headers: dict[str, float] = {}
        # path -> seconds between body bytes (headers at once, then the body a byte at a time).
        self.trickle_body: dict[str, float] = {}
        self.trickle_limit = 200  # lines or bytes before a trickling answer gives up
        self.url = ""

    def __getitem__(self, path: str) -> str:
        return self.url + path


def free_port(host: str = "127.0.0.1") -> int:
    """A port no one listens on now on ``host`` (for a server started later)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _handler(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def _answer(self, body: bool) -> None:
            server.requests.append((self.command, self.path))
            pending = server.failures.get(self.path)
            if pending:
                self.send_response(pending.pop(0))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path in server.redirects:
                self.send_response(302)
                self.send_header("Location", server.redirects[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = server.files.get(self.path)
            if data is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", server.declared.get(self.path, str(len(data))))
            if self.path in server.trickle_headers:
                self._trickle_headers(server.trickle_headers[self.path])
                return
            self.end_headers()
            if body and self.path in server.trickle_body:
                self._trickle_body(data, server.trickle_body[self.path])
            elif body:
                self.wfile.write(data)

        def _trickle_headers(self, interval: float) -> None:
            self.flush_headers()
            for n in range(server.trickle_limit):
                time.sleep(interval)
                try:
                    self.wfile.write(f"X-Slow-{n}: {n}\r\n".encode())
                    self.wfile.flush()
                except OSError:
                    return
            self.close_connection = True

        def _trickle_body(self, data: bytes, interval: float) -> None:
            self.wfile.flush()
            for n in range(min(len(data), server.trickle_limit)):
                time.sleep(interval)
                try:
                    self.wfile.write(data[n:n + 1])
                    self.wfile.flush()
                except OSError:
                    return

        def do_GET(self) -> None:  # noqa: N802
            self._answer(True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(False)

    return Handler


def _bind(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """A server on the first free port of PORTS (other test runs may hold some)."""
    for port in sorted(PORTS):
        try:
            return ThreadingHTTPServer(("127.0.0.1", port), handler)
        except OSError:
            continue
    raise RuntimeError(f"no free port in {min(PORTS)}-{max(PORTS)} for the test file server")


@contextmanager
def file_server(port: int = 0) -> Iterator[FileServer]:
    """A file server on 127.0.0.1 at ``port`` (0: a free one of PORTS)."""
    state = FileServer()
    # A given port (the rehearsal's, allowed in its stack), else the first free one of PORTS (imports allow those).
    httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(state)) if port else _bind(_handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    # shutdown() waits for the serve loop's next poll: 0.5 s by default, per test.
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
