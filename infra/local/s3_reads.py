"""GetObject of a large object answered a MiB at a time from its stored buffer, not from moto's GET.

moto's GET reads the whole object into memory (``FakeKey.value``, a copy of it too) before it
answers, and a range is a slice of that: downloading a 1 GiB image from ``make run`` took the
service to 2.4 GB resident. Here the answer's status and headers are moto's own for the same
request as a HEAD (conditions, ``Range`` as 206 or 416, metadata, ETag), with the ``response-*``
overrides a GET applies, and the bytes are read from the key's buffer (a file of the local state,
infra/local/state_objects.py, or moto's spooled file) piece by piece under the key's lock.

Only plain object GETs of at least ``STREAM_FROM`` bytes, path-style (as the service and its
presigned URLs address the emulator), take this path; a sub-resource (``versionId``,
``partNumber``, ``acl``, ...), a virtual-host request or any answer but 200/206/416 is moto's GET.
"""
from __future__ import annotations

import uuid
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from infra.local.state_objects import stored_key

Environ = dict[str, Any]
WsgiApp = Callable[[Environ, Callable[..., Any]], Iterable[bytes]]

STREAM_FROM = 8 * 1024 * 1024  # smaller objects: moto's own GET (a part's worth in memory at most)
PIECE = 1024 * 1024
PRESIGNED_V2 = frozenset({"AWSAccessKeyId", "Signature", "Expires"})  # a SigV2 presigned URL's (SigV4's are X-Amz-*)


def path_style(environ: Environ) -> tuple[str, str, dict[str, list[str]]]:
    """(bucket, key, query) of a path-style S3 request (key "" for a bucket's own)."""
    path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key, parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)


def _plain_get(environ: Environ) -> tuple[str, str, dict[str, list[str]]] | None:
    """(bucket, key, query) of a path-style GetObject without sub-resources; None for anything else."""
    if environ.get("REQUEST_METHOD") != "GET":
        return None
    bucket, key, query = path_style(environ)
    if any(not name.lower().startswith(("x-amz-", "response-")) and name not in PRESIGNED_V2 for name in query):
        return None
    return (bucket, key, query) if bucket and key else None


def _head(app: WsgiApp, environ: Environ) -> tuple[str, list[tuple[str, str]]]:
    """moto's answer to the same request as a HEAD: (status line, headers)."""
    seen: list[Any] = []
    answer = app({**environ, "REQUEST_METHOD": "HEAD"}, lambda status, headers, *_: seen.extend([status, headers]))
    try:
        b"".join(answer)
    finally:
        getattr(answer, "close", lambda: None)()
    return seen[0], list(seen[1])


def _pieces(stored: Any, start: int, length: int) -> Iterator[bytes]:
    sent = 0
    while sent < length:
        try:
            with stored.lock:  # the buffer's position is shared by every reader of the key
                stored._value_buffer.seek(start + sent)
                piece = stored._value_buffer.read(min(PIECE, length - sent))
        except (OSError, ValueError):  # replaced or deleted meanwhile (its file closed or gone)
            piece = b""
        if not piece:
            return  # the answer ends short of its Content-Length: the client sees a cut download
        sent += len(piece)
        yield piece


def _invalid_range(size: int, requested: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """S3's answer to a range that starts past the end (moto's HEAD says only 416)."""
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidRange</Code>'
            "<Message>The requested range is not satisfiable</Message>"
            f"<RangeRequested>{escape(requested)}</RangeRequested><ActualObjectSize>{size}</ActualObjectSize>"
            f"<RequestId>{uuid.uuid4()}</RequestId></Error>").encode()
    return "416 Requested Range Not Satisfiable", [("Content-Type", "application/xml"),
                                                    ("Content-Length", str(len(body)))], body


def streamed_gets(app: WsgiApp) -> WsgiApp:
    """``app`` (moto's server) with large GetObjects streamed from the stored buffer (a GET whose path
    names no stored object, another service's, is ``app``'s)."""
    from moto.s3.responses import ALLOWED_HEADER_OVERRIDES

    def serve(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = _plain_get(environ)
        stored = stored_key(request[0], request[1]) if request else None
        if request is None or stored is None or stored.size < STREAM_FROM:
            return app(environ, start_response)
        status, headers = _head(app, environ)
        code = int(status[:3])
        if code == 416:
            line, out, body = _invalid_range(stored.size, environ.get("HTTP_RANGE", ""))
            start_response(line, out)
            return [body]
        if code not in (200, 206):
            return app(environ, start_response)
        fields = {name.lower(): value for name, value in headers}
        start, length = 0, int(fields["content-length"])
        if code == 206:
            start = int(fields["content-range"].split()[1].split("-")[0])
        overrides = {ALLOWED_HEADER_OVERRIDES[name]: values[0] for name, values in request[2].items()
                     if name in ALLOWED_HEADER_OVERRIDES}
        overridden = {name.lower() for name in overrides}
        headers = [(n, v) for n, v in headers if n.lower() not in overridden]
        start_response(status, headers + list(overrides.items()))
        return _pieces(stored, start, length)

    return serve
