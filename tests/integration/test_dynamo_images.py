"""The DynamoDB adapter against moto: conditional writes, sparse indexes, Query-only listing."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest

from chalicelib.adapters.dynamo_images import DynamoImageRepository
from chalicelib.adapters.dynamo_models import ImageRecord
from chalicelib.domain import listing, listing_keys
from chalicelib.domain.errors import ConcurrentUpdate, Duplicate, NotFound
from chalicelib.domain.images import Image, ImageStatus

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def repo(aws: Any) -> DynamoImageRepository:
    return aws.ports.images


def img(n: int, **kw: Any) -> Image:
    base = dict(id=f"id-{n:03d}", owner="p", created_at=T0 + timedelta(seconds=n), updated_at=T0, name=f"n{n}")
    base.update(kw)
    return Image(**base)  # type: ignore[arg-type]


def raw_item(image_id: str) -> dict[str, Any]:
    """The item as DynamoDB holds it, in its wire form."""
    item = ImageRecord._get_connection().get_item(image_id, consistent_read=True)["Item"]  # noqa: SLF001
    return {k: next(iter(v.values())) for k, v in item.items()}


def test_round_trip_keeps_every_field(repo: DynamoImageRepository) -> None:
    image = img(1, tags=frozenset({"a", "b"}), extra_properties={"k": "v"}, size=10, min_ram=5, protected=True,
                checksum="c", os_hash_algo="sha512", os_hash_value="h", virtual_size=20, disk_format="raw")
    repo.add(image)
    assert repo.get(image.id) == image


def test_add_existing_id_is_duplicate(repo: DynamoImageRepository) -> None:
    repo.add(img(1))
    with pytest.raises(Duplicate):
        repo.add(img(1, name="other"))
    assert repo.get("id-001").name == "n1"


def test_stale_version_write_is_refused_and_item_unchanged(repo: DynamoImageRepository) -> None:
    first = repo.add(img(1))
    winner = repo.save(replace(first, name="winner"), expected=first)
    assert winner.version == 1
    before = raw_item(first.id)
    with pytest.raises(ConcurrentUpdate):
        repo.save(replace(first, name="stale"), expected=first)  # still holds version 0
    assert raw_item(first.id) == before
    assert repo.get(first.id).name == "winner"


def test_write_conditioned_on_status_is_refused_when_status_moved(repo: DynamoImageRepository) -> None:
    queued = repo.add(img(1, disk_format="raw", container_format="bare"))
    # Someone else moved it to saving, without our knowing the version.
    ImageRecord(queued.id).update(actions=[ImageRecord.status.set("saving")])
    with pytest.raises(ConcurrentUpdate):
        repo.save(replace(queued, name="x"), expected=queued)
    assert repo.get(queued.id).status is ImageStatus.SAVING


def test_get_missing_is_not_found(repo: DynamoImageRepository) -> None:
    with pytest.raises(NotFound):
        repo.get("missing")


def test_deleted_image_leaves_every_index(repo: DynamoImageRepository) -> None:
    image = repo.add(img(1))
    assert raw_item(image.id)["lo"] == "s#p" and raw_item(image.id)["s_name"].startswith("1n1")
    repo.save(replace(image, status=ImageStatus.DELETED), expected=image)
    item = raw_item(image.id)
    assert "lo" not in item and "lv" not in item and not any(k.startswith("s_") for k in item)
    src = listing.Source("owner", "p")
    [cursor] = repo.key_cursors(src, listing_keys.plan(listing.DEFAULT_ORDER, listing.Filters()), None)
    assert cursor.fetch(10) == [] and cursor.exhausted


class CallCounter:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, event_name: str, **_: Any) -> None:
        self.calls.append(event_name.split(".")[-1])


@pytest.fixture
def counted(repo: DynamoImageRepository) -> Iterator[CallCounter]:
    counter = CallCounter()
    conn = ImageRecord._get_connection().connection  # noqa: SLF001 - test reaches PynamoDB's client
    events = conn.client.meta.events
    events.register("before-call.dynamodb", counter)
    yield counter
    events.unregister("before-call.dynamodb", counter)


@pytest.mark.parametrize("order", [listing.DEFAULT_ORDER, listing.Order.build(["name"], [False], False)])
def test_a_page_is_one_query_whatever_the_partition_size(repo: DynamoImageRepository, counted: CallCounter, order: listing.Order) -> None:
    for n in range(40):
        repo.add(img(n))
    counted.calls.clear()
    [cursor] = repo.key_cursors(listing.Source("owner", "p"), listing_keys.plan(order, listing.Filters()), None)
    page = cursor.fetch(5)
    assert counted.calls == ["Query"]
    assert len(page) == 5 and not cursor.exhausted


def test_resume_after_marker_reads_from_the_marker(repo: DynamoImageRepository, counted: CallCounter) -> None:
    for n in range(40):
        repo.add(img(n))
    marker = repo.get("id-030")
    counted.calls.clear()
    scan = listing_keys.plan(listing.DEFAULT_ORDER, listing.Filters())
    [cursor] = repo.key_cursors(listing.Source("owner", "p"), scan, marker)
    # The range starts at the marker's own key (inclusive), which the cursor drops.
    assert [row.image_id for row in cursor.fetch(4)] == ["id-029", "id-028", "id-027"]
    assert counted.calls == ["Query"]
