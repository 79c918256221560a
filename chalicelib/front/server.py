"""The production WSGI server (cheroot: threaded, in-process, streams ``wsgi.input``) around the front.

Two changes to cheroot, both through its documented extension points (the request and
connection classes):

* Its own answers (400 malformed request, 413, 414 request line too long, 405 CONNECT, 500
  when the application fails, 505) are in Glance's error format, negotiated on the request's
  Accept header when it was read, instead of cheroot's plain text.
* A chunked request body is decoded at most ``PIECE`` bytes at a time (cheroot's own decoder
  holds a whole chunk, whatever its size), ends only at the terminating chunk (its trailer
  read off the connection), and raises ``ValueError`` on end-of-stream before it.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from cheroot import server as cs
from cheroot import wsgi

from chalicelib.api.errors import error_response, reason_phrase
from chalicelib.front.body import PIECE
from chalicelib.front.wsgi import access_log

MAX_REQUEST_HEAD = 64 * 1024  # request line and headers: 414 / 413 beyond (as http.server's 65536)
SOCKET_TIMEOUT = 30  # seconds a client may stay silent mid-request (an upload then aborts)
SHUTDOWN_SECONDS = 2  # in-flight requests get this long, then their sockets are shut (uploads abort)


class BoundedChunkedRFile(cs.ChunkedRFile):
    """cheroot's chunked decoder, reading a chunk at most PIECE bytes at a time."""

    def __init__(self, rfile: Any, maxlen: int, bufsize: int = 8192) -> None:
        super().__init__(rfile, maxlen, bufsize)
        self._left = 0  # bytes of the current chunk not read yet

    def _fetch(self) -> None:
        if self.closed:
            return
        if self._left == 0:
            line = self.rfile.readline(MAX_REQUEST_HEAD)
            if not line.endswith(b"\n"):
                raise ValueError("the chunked body ended before its terminating chunk")
            size = line.split(b";", 1)[0].strip()
            try:
                self._left = int(size, 16)
            except ValueError:
                raise ValueError(f"Bad chunked transfer size: {size!r}") from None
            if self._left < 0:
                raise ValueError(f"Bad chunked transfer size: {size!r}")
            if self._left == 0:
                self._trailer()
                return
        piece = self.rfile.read(min(self._left, PIECE))
        if not piece:
            raise ValueError("the chunked body ended inside a chunk")
        self._left -= len(piece)
        self.bytes_read += len(piece)
        self.buffer += piece
        if self._left == 0 and self.rfile.read(2) != b"\r\n":
            raise ValueError("Bad chunked transfer coding (a chunk did not end with CRLF)")

    def _trailer(self) -> None:
        while True:
            line = self.rfile.readline(MAX_REQUEST_HEAD)
            if not line.endswith(b"\n"):
                raise ValueError("the chunked body ended inside its trailer")
            if line in (b"\r\n", b"\n"):
                self.closed = True
                return


class GlanceRequest(cs.HTTPRequest):
    """cheroot's request with Glance-format answers of its own and the bounded chunked decoder."""

    def simple_response(self, status: Any, msg: Any = "") -> None:
        code = int(str(status)[:3])
        headers = getattr(self, "inheaders", None) or {}
        accept = headers.get(b"Accept")
        message = msg.decode("latin-1") if isinstance(msg, bytes) else str(msg or "")
        answer = error_response(code, message or _default_message(code),
                                accept=accept.decode("latin-1") if accept else None)
        body = str(answer.body).encode("utf-8")
        lines = [f"{self.server.protocol} {code} {reason_phrase(code)}", f"Content-Length: {len(body)}",
                 f"Content-Type: {answer.headers['Content-Type']}"]
        if code in (400, 413, 414, 500) or not self.ready:
            self.close_connection = True
            lines.append("Connection: close")
        method = getattr(self, "method", None)
        if method == b"HEAD":
            body = b""
        target = getattr(self, "uri", None)
        access_log.info("%s %s %s - -", (method or b"-").decode("latin-1"),
                        (target or b"-")[:200].decode("latin-1"), code)
        try:
            self.conn.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        except OSError:
            pass

    def respond(self) -> None:
        if self.chunked_read:
            self.rfile = BoundedChunkedRFile(self.conn.rfile, self.server.max_request_body_size)
            self.server.gateway(self).respond()
            if self.ready:
                self.ensure_headers_sent()
            if self.chunked_write:
                self.conn.wfile.write(b"0\r\n\r\n")
            return
        super().respond()


class GlanceConnection(cs.HTTPConnection):
    RequestHandlerClass = GlanceRequest
    rbufsize = 64 * 1024


def _default_message(code: int) -> str:
    return {405: "This method is not allowed on this server.", 500: "The server failed to answer this request.",
            505: "This HTTP version is not supported."}.get(code, "The request could not be understood.")


# glibc's mallopt parameters, and what the front sets them to (tune_malloc)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
MALLOC_TUNING = {M_MMAP_THRESHOLD: 16 * 1024 * 1024, M_TRIM_THRESHOLD: 32 * 1024 * 1024, M_ARENA_MAX: 2}


def tune_malloc(tuning: dict[int, int] = MALLOC_TUNING) -> bool:
    """glibc: keep and reuse the multi-MiB buffers an upload streams through, in at most two arenas.

    An upload allocates and frees MiB-sized buffers all the time (request pieces, 8 MiB S3 parts, the
    emulator's copies). Served by mmap, each is fresh memory, page-faulted in and unmapped again: a
    fifth of the server's CPU on a large upload. Below a 16 MiB mmap threshold, with 32 MiB kept at
    the top of a heap, they are reused instead; two arenas (not glibc's 8 per core) bound what the
    heaps keep. bench/upload.py, 1.5 GiB: about 100 MiB/s and 330 MiB peak resident with a 1 MiB
    threshold; about 160 MiB/s and 370 MiB with these; with these but glibc's arena count, 540 MiB.
    False where there is no glibc (nothing changes).
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return all([bool(mallopt(parameter, value)) for parameter, value in tuning.items()])


class FrontServer:
    """``app`` (a WSGI callable) on host:port with ``threads`` workers; ``start`` serves in a thread."""

    def __init__(self, app: Callable[..., Any], host: str, port: int, threads: int) -> None:
        self.server = wsgi.Server((host, port), app, numthreads=max(threads, 1), request_queue_size=128,
                                  timeout=SOCKET_TIMEOUT, shutdown_timeout=SHUTDOWN_SECONDS)
        self.server.ConnectionClass = GlanceConnection
        self.server.max_request_header_size = MAX_REQUEST_HEAD
        self.server.server_name = "glance-serverless"
        self._thread: threading.Thread | None = None
        tune_malloc()

    @property
    def port(self) -> int:
        return int(self.server.bind_addr[1])

    def start(self) -> "FrontServer":
        """Bind and serve in a daemon thread."""
        self.server.prepare()
        self._thread = threading.Thread(target=self.server.serve, name="front", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting; in-flight requests get SHUTDOWN_SECONDS, then their sockets' reads are shut."""
        self.server.stop()
        if self._thread is not None:
            self._thread.join(SHUTDOWN_SECONDS + 2)
