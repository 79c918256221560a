"""One suite over each ObjectStore: in memory (tests.fakes) and S3 (moto)."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from chalicelib.domain.errors import NotFound
from tests.fakes import InMemoryObjectStore


@pytest.fixture(params=["memory", "s3"])
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield InMemoryObjectStore("bucket", part_size=4)
        return
    real = request.getfixturevalue("aws").data.store
    yield real


def test_put_stream_stores_and_reads_back(store: Any) -> None:
    assert store.put_stream("images/a", [b"ab", b"cdef", b"g"]) == 7
    assert store.exists("images/a") and store.size("images/a") == 7
    assert b"".join(store.iter_object("images/a")) == b"abcdefg"
    assert store.get_range("images/a", 1, 3) == b"bcd"


def test_a_raising_stream_leaves_nothing(store: Any) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"abc"
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        store.put_stream("images/b", chunks())
    assert not store.exists("images/b") and store.size("images/b") is None


def test_missing_objects(store: Any) -> None:
    assert store.size("nope") is None and not store.exists("nope")
    with pytest.raises(NotFound):
        list(store.iter_object("nope"))
    store.delete("nope")  # idempotent


def test_copy_and_delete(store: Any) -> None:
    store.put_stream("staging/x", [b"data"])
    store.copy("staging/x", "images/x")
    assert b"".join(store.iter_object("images/x")) == b"data"
    store.delete("staging/x")
    assert not store.exists("staging/x") and store.exists("images/x")


def test_location_urls_round_trip_only_for_this_bucket(store: Any) -> None:
    url = store.url_of("images/x")
    assert url == f"s3://{store.bucket}/images/x" and store.key_of(url) == "images/x"
    assert store.key_of("s3://other-bucket/images/x") is None and store.key_of(f"s3://{store.bucket}/") is None
    assert store.key_of("http://example.com/images/x") is None


def test_presigned_urls_name_the_key(store: Any) -> None:
    assert "images/x" in store.presigned_get("images/x", 60) and "images/x" in store.presigned_put("images/x", 60)
