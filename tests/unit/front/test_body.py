"""Reading request bodies: a body that stops short is an error, never an end; chunked bodies are decoded
a bounded piece at a time (cheroot's decoder would hold a whole chunk however large)."""
from __future__ import annotations

import io

import pytest

from chalicelib.front.body import PIECE, IncompleteBody, RequestBody
from chalicelib.front.server import BoundedChunkedRFile


def chunked(*pieces: bytes, end: bytes = b"0\r\n\r\n") -> io.BytesIO:
    return io.BytesIO(b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + end)


def test_a_known_length_body_comes_in_pieces_and_ends_exactly() -> None:
    body = RequestBody(io.BytesIO(b"a" * 2500 + b"NEXT REQUEST"), 2500, 1000)
    assert [len(p) for p in body] == [1000, 1000, 500] and body.complete and body.received == 2500


@pytest.mark.parametrize("length", [1, 1000, 4000])
def test_a_body_shorter_than_its_content_length_raises(length: int) -> None:
    body = RequestBody(io.BytesIO(b"a" * (length - 1)), length, 1000)
    with pytest.raises(IncompleteBody, match=f"of {length} bytes"):
        list(body)
    assert not body.complete


def test_an_empty_body_is_absent() -> None:
    assert not RequestBody(io.BytesIO(b""), 0, 10).present
    assert list(RequestBody(io.BytesIO(b""), 0, 10)) == []
    assert not RequestBody(BoundedChunkedRFile(chunked(), 0), None, 10).present


def test_a_read_error_is_an_incomplete_body() -> None:
    class Reset(io.RawIOBase):
        def read(self, size: int = -1) -> bytes:
            raise ConnectionResetError("reset by peer")

    with pytest.raises(IncompleteBody):
        list(RequestBody(Reset(), 10, 10))


def test_a_chunked_body_is_decoded_whole_and_its_trailer_read() -> None:
    raw = chunked(b"x" * 10, b"y" * (3 * PIECE + 5), end=b"0\r\nX-Trailer: 1\r\n\r\nGET /next")
    body = RequestBody(BoundedChunkedRFile(raw, 0), None, 1 << 20)
    assert body.present
    assert b"".join(body) == b"x" * 10 + b"y" * (3 * PIECE + 5) and body.complete
    assert raw.read() == b"GET /next"  # the connection is left at the next request


def test_a_large_chunk_is_read_a_piece_at_a_time() -> None:
    decoder = BoundedChunkedRFile(chunked(b"z" * (10 * PIECE)), 0)
    sizes = []
    while piece := decoder.read(PIECE):
        sizes.append(len(piece))
        assert len(decoder.buffer) <= PIECE
    assert sizes == [PIECE] * 10


@pytest.mark.parametrize("raw", [
    b"5\r\nhello\r\n",  # no terminating chunk
    b"5\r\nhello\r\n0\r\n",  # terminating chunk but the trailer's blank line never comes
    b"a\r\nhello",  # cut inside a chunk
    b"5\r\nhelloXX",  # a chunk not followed by CRLF
    b"zz\r\nhello\r\n0\r\n\r\n",  # not a size
    b"5",  # cut inside a size line
])
def test_a_chunked_body_cut_or_malformed_is_incomplete(raw: bytes) -> None:
    body = RequestBody(BoundedChunkedRFile(io.BytesIO(raw), 0), None, 1 << 20)
    with pytest.raises(IncompleteBody):
        list(body)
