"""Where an upload route's bytes come from: a stream the front hands over, or the event's body.

The WSGI front (chalicelib/front) streams ``PUT /file``, ``PUT /stage`` and v1's data bodies
from the socket: it sets ``streamed`` for the request and the event carries no body. In Lambda
nothing sets it and the bytes are the event's (API Gateway's 10 MB cap applies there).
"""
from __future__ import annotations

import contextvars
from typing import Iterable, Iterator, Protocol

from chalice.app import Request

from chalicelib.api.deserializers import as_bytes

CHUNK = 1024 * 1024


class Stream(Protocol):
    """A request body being read: its chunks, once, and whether it has any bytes at all."""

    def __iter__(self) -> Iterator[bytes]: ...

    @property
    def present(self) -> bool: ...


# Set by the front around the app call for a streamed route; None in Lambda.
streamed: contextvars.ContextVar[Stream | None] = contextvars.ContextVar("streamed_body", default=None)


def request_chunks(request: Request) -> Iterable[bytes] | None:
    """The request's body as chunks, None when it has none (no bytes, or no body at all)."""
    stream = streamed.get()
    if stream is not None:
        return stream if stream.present else None
    body = as_bytes(request.raw_body)
    if not body:
        return None
    # Already in memory (the event's payload): handed on in chunks so hashing, inspection
    # and the store see a stream, never one more copy of it.
    view = memoryview(body)
    return (bytes(view[i : i + CHUNK]) for i in range(0, len(body), CHUNK))
