"""A request body read from ``wsgi.input`` as it arrives, that refuses to end early.

The WSGI server hands the body over undecoded as to framing: a Content-Length body ends
after that many bytes, a chunked one after its terminating zero-length chunk (cheroot's
``ChunkedRFile`` raises on end-of-stream before it). A body shorter than its Content-Length,
a chunked one cut before its last chunk, a read that times out or a connection reset all
raise ``IncompleteBody`` from the iteration, so the upload that consumes it fails and is
undone (services/image_data: multipart upload aborted, image requeued or killed) instead of
storing part of an image as the whole.
"""
from __future__ import annotations

from typing import Any, Iterator

from chalicelib.domain.errors import InvalidInput

PIECE = 64 * 1024  # one read from a chunked stream (a client's chunk is typically 8-64 KiB)


class IncompleteBody(InvalidInput):
    """The client stopped sending before the body's end: nothing of it is kept."""

    def __init__(self, received: int, expected: int | None) -> None:
        of = f" of {expected}" if expected is not None else ""
        super().__init__(f"The request body ended after {received}{of} bytes, before its end; nothing was stored.")


class RequestBody:
    """Iterate once over ``stream``'s bytes in pieces of about ``read_bytes``; raises IncompleteBody."""

    def __init__(self, stream: Any, length: int | None, read_bytes: int) -> None:
        self._stream = stream
        self.length = length  # None: chunked
        self.received = 0
        self._read_bytes = max(read_bytes, 1)
        self._first: bytes | None = None
        self.complete = length == 0

    @property
    def present(self) -> bool:
        """True if the body has at least one byte (a chunked one is peeked at)."""
        if self.length is not None:
            return self.length > 0
        if self._first is None:
            self._first = self._read()
        return bool(self._first)

    def __iter__(self) -> Iterator[bytes]:
        if self._first is not None:
            first, self._first = self._first, b""
            if first:
                yield first
        while not self.complete:
            piece = self._read()
            if piece:
                yield piece

    def _read(self) -> bytes:
        """The next piece; b"" once the body ended properly (``complete``)."""
        if self.complete:
            return b""
        try:
            piece = self._read_known() if self.length is not None else self._read_chunked()
        except (OSError, ValueError) as exc:  # reset, timeout; cheroot's ValueError for a broken chunked stream
            raise IncompleteBody(self.received, self.length) from exc
        self.received += len(piece)
        return piece

    def _read_known(self) -> bytes:
        assert self.length is not None
        wanted = min(self._read_bytes, self.length - self.received)
        piece: bytes = self._stream.read(wanted)
        if len(piece) < wanted:
            # A short read only happens at end-of-stream: the client closed before the declared length.
            raise IncompleteBody(self.received + len(piece), self.length)
        if self.received + len(piece) == self.length:
            self.complete = True
        return piece

    def _read_chunked(self) -> bytes:
        gathered: list[bytes] = []
        held = 0
        while held < self._read_bytes:
            piece = self._stream.read(PIECE)
            if not piece:  # the terminating chunk came (a cut-off stream raised instead)
                self.complete = True
                break
            gathered.append(piece)
            held += len(piece)
        return b"".join(gathered)

    def drain(self) -> None:
        """Read what is left (a streamed route that answered before reading); raises IncompleteBody."""
        if self._first is not None:
            self._first = b""
        while not self.complete:
            self._read()
