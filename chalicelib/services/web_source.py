"""An http(s) source's body behind the SSRF guard, as the pipeline reads it (web-download, legacy tasks, and the
hashing of an added http location): chunks, never the whole body, and its faults as the pipeline's errors.

``SourceUnavailable`` (5xx, unreachable, a connection cut mid-body, a body shorter than its
Content-Length) is retried by the ASL; ``ImportSourceError`` (any other status, a source too slow
for the fetch deadline, a malformed length) and ``QuotaExceeded`` (above the size cap) are not.
"""
from __future__ import annotations

import http.client
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

from chalicelib.domain import imports
from chalicelib.domain.errors import QuotaExceeded, Unreachable
from chalicelib.domain.urls import TooSlow
from chalicelib.ports import WebClient
from chalicelib.services.scanning import capped

CHUNK = 1024 * 1024


@contextmanager
def body_of(web: WebClient, url: str, cap: int) -> Iterator[Iterator[bytes]]:
    """GET ``url`` (redirects checked hop by hop by ``web``); yields its body's chunks, at most ``cap`` bytes,
    exactly the declared length; closes the response after the block. Raises the errors above."""
    try:
        response, final = web.open(url, "GET")
    except TooSlow as exc:  # a source that slow would be as slow on a retry
        raise imports.ImportSourceError(detail=exc.message) from None
    except Unreachable as exc:
        raise imports.SourceUnavailable(detail=exc.message) from None
    try:
        if response.status >= 500:
            raise imports.SourceUnavailable(detail=f"{response.status} from {final}")
        if not 200 <= response.status < 300:
            raise imports.ImportSourceError(detail=f"{response.status} from {final}")
        declared = declared_length(response, final, cap)
        yield _faults_mapped(exact(capped(_read(response), cap, None), declared, final), final)
    finally:
        response.close()


def _faults_mapped(chunks: Iterable[bytes], url: str) -> Iterator[bytes]:
    try:
        yield from chunks
    except TooSlow as exc:
        raise imports.ImportSourceError(detail=exc.message) from None
    except (OSError, http.client.HTTPException) as exc:  # a connection dropped mid-body (IncompleteRead too)
        raise imports.SourceUnavailable(detail=f"{exc!r} while reading {url}") from None


def declared_length(response: Any, url: str, cap: int) -> int | None:
    """The body length the source declares (None when chunked or not given); QuotaExceeded before any
    byte is read when it is above ``cap``; ImportSourceError for a malformed Content-Length."""
    if (response.getheader("Transfer-Encoding") or "").lower() not in ("", "identity"):
        return None  # chunked: the chunk sizes are the length, and http.client checks them
    raw = response.getheader("Content-Length")
    if raw is None:
        return None
    if not raw.strip().isdigit():
        raise imports.ImportSourceError(detail=f"{url} declared an invalid Content-Length ({raw[:40]!r})")
    declared = int(raw)
    if declared > cap:
        raise QuotaExceeded(f"{url} declares {declared} bytes, more than the largest image allowed ({cap} bytes).")
    return declared


def exact(chunks: Iterable[bytes], declared: int | None, url: str) -> Iterator[bytes]:
    """Pass ``chunks`` through; SourceUnavailable (a cut transfer, retried) at the end if fewer bytes came
    than ``declared``, so the staged object is never completed with a short body."""
    size = 0
    for chunk in chunks:
        size += len(chunk)
        yield chunk
    if declared is not None and size != declared:
        raise imports.SourceUnavailable(
            detail=f"received {size} of the {declared} bytes the Content-Length of {url} declared")


def _read(response: Any) -> Iterator[bytes]:
    while True:
        chunk = response.read(CHUNK)
        if not chunk:
            return
        yield chunk
