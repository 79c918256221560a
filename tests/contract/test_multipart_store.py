"""The multipart part of the ObjectStore contract, over each store: in memory (tests.fakes) and S3 (moto).

moto refuses parts under 5 MiB but the last at completion, as S3 does: the first part here is 5 MiB.
"""
from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.errors import InvalidInput, NotFound
from chalicelib.domain.multipart import S3_MIN_PART
from tests.contract.test_object_store import store  # noqa: F401 - the same two stores, as a fixture
from tests.fakes import InMemoryObjectStore

FIRST = b"a" * S3_MIN_PART
LAST = b"tail"


def put_part(store: Any, key: str, upload_id: str, number: int, data: bytes) -> str:  # noqa: F811 - the fixture
    """A client's PUT of one part (to S3 itself for the real store); its ETag."""
    if isinstance(store, InMemoryObjectStore):
        return store.upload_part(key, upload_id, number, data)
    return str(store.client.upload_part(Bucket=store.bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                        Body=data)["ETag"])


def test_parts_are_listed_and_completed_into_one_object(store: Any) -> None:  # noqa: F811 - the fixture
    upload_id = store.start_multipart("staging/imports/m1")
    etags = [put_part(store, "staging/imports/m1", upload_id, n, data) for n, data in ((1, FIRST), (2, LAST))]

    listed = store.list_parts("staging/imports/m1", upload_id)
    assert [(p.number, p.etag, p.size) for p in listed] == [(1, etags[0], len(FIRST)), (2, etags[1], len(LAST))]
    store.complete_multipart("staging/imports/m1", upload_id, [(1, etags[0]), (2, etags[1])])

    assert store.size("staging/imports/m1") == len(FIRST) + len(LAST)
    assert store.get_range("staging/imports/m1", len(FIRST) - 1, len(FIRST) + 3) == b"atail"
    with pytest.raises(NotFound):
        store.list_parts("staging/imports/m1", upload_id)  # completed: no longer in progress


def test_a_completion_with_a_wrong_etag_is_refused_and_the_upload_kept(store: Any) -> None:  # noqa: F811
    upload_id = store.start_multipart("staging/imports/m2")
    put_part(store, "staging/imports/m2", upload_id, 1, LAST)

    with pytest.raises(InvalidInput):
        store.complete_multipart("staging/imports/m2", upload_id, [(1, '"0123456789abcdef0123456789abcdef"')])
    assert not store.exists("staging/imports/m2")
    assert [p.number for p in store.list_parts("staging/imports/m2", upload_id)] == [1]


def test_an_abort_drops_the_parts_and_may_be_repeated(store: Any) -> None:  # noqa: F811 - the fixture
    upload_id = store.start_multipart("staging/imports/m3")
    put_part(store, "staging/imports/m3", upload_id, 1, LAST)

    store.abort_multipart("staging/imports/m3", upload_id)
    store.abort_multipart("staging/imports/m3", upload_id)  # already gone: nothing happens

    with pytest.raises(NotFound):
        store.list_parts("staging/imports/m3", upload_id)
    # (A completion of it would be S3's NoSuchUpload too; moto 5.2 raises a KeyError there, so the
    # service lists the parts, which moto answers right, before it completes.)
    assert not store.exists("staging/imports/m3")


def test_part_urls_name_the_upload_and_the_part(store: Any) -> None:  # noqa: F811 - the fixture
    upload_id = store.start_multipart("staging/imports/m4")
    url = store.presigned_part("staging/imports/m4", upload_id, 7, 60)
    assert "staging/imports/m4" in url and f"uploadId={upload_id}" in url and "partNumber=7" in url
    store.abort_multipart("staging/imports/m4", upload_id)
