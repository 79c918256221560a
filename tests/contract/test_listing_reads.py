"""Every list filter reads O(page) on DynamoDB, whatever the table size; following ``next`` finds every match.

Given tables of 60 and 240 images, one page of each filter Glance clients send
reads at most 2 x sources x (limit + 1) rows (index keys from Query, images
from BatchGet); the filters the indexes serve (name, status, id, formats,
size/date ranges on their own order) return full pages.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest

from chalicelib.api import deserializers as des
from chalicelib.domain import listing
from chalicelib.domain.context import RequestContext
from chalicelib.domain.images import Image, ImageStatus
from chalicelib.domain.members import Member
from tests.service_factories import ImageHarness

ALICE = RequestContext("alice", "proj-a", frozenset({"member", "reader"}))
BASE = datetime(2026, 1, 1, tzinfo=timezone.utc)
LIMIT = 5
STAMP = (BASE + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")


def seed(harness: ImageHarness, count: int) -> None:
    """Alice's images, others' public and community ones, shares to Alice (accepted and pending)."""
    for image, member in catalog(count):
        harness.repo.add(image)
        if member is not None:
            harness.members.add(member, image)


def seed_in_batches(count: int) -> None:
    """The same catalog as the adapters' own records, by BatchWriteItem (moto copies the table per transaction)."""
    from chalicelib.adapters import dynamo_images, dynamo_members, dynamo_tags
    from chalicelib.adapters.dynamo_models import ImageRecord, MemberRecord, TagRowRecord

    with ImageRecord.batch_write() as images, MemberRecord.batch_write() as members, TagRowRecord.batch_write() as tags:
        for image, member in catalog(count):
            images.save(dynamo_images._to_record(image))  # noqa: SLF001 - the adapter's own record
            for row in dynamo_tags.records(image):
                tags.save(row)
            if member is not None:
                members.save(dynamo_members._to_record(member, image))  # noqa: SLF001 - as above
                for row in dynamo_members._row_writes(member, image, {})[0]:  # noqa: SLF001 - as above
                    members.save(row)


def catalog(count: int) -> Iterator[tuple[Image, Member | None]]:
    for n in range(count):
        owner = "proj-a" if n % 3 else "proj-o"
        visibility = ["shared", "public", "private", "community"][n % 4]
        when = BASE + timedelta(seconds=n)
        image = Image(
            id=f"img-{n:05d}", owner=owner, created_at=when, updated_at=when, name=f"seed{n}",
            status=ImageStatus.ACTIVE if n % 5 else ImageStatus.QUEUED, visibility=visibility,
            os_hidden=n % 7 == 0, disk_format=["raw", "qcow2"][n % 2], container_format=["bare", "ovf"][n % 3 == 1],
            size=n * 10, tags=frozenset({f"t{n % 5}"} | ({"rare"} if n % 50 == 0 else set())),
            extra_properties={"os_distro": f"d{n % 4}", **({"rare_prop": "yes"} if n % 40 == 0 else {})},
        )
        shared = owner == "proj-o" and visibility == "shared"
        yield image, Member(image.id, "proj-a", ["accepted", "pending"][n // 12 % 2], when, when) if shared else None


def parse(qs: str) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for part in filter(None, qs.split("&")):
        key, _, value = part.partition("=")
        params.setdefault(key, []).append(value)
    return params


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Rows read per DynamoDB operation (Query: items returned; BatchGetItem: items answered)."""
    from pynamodb.connection.base import Connection

    counted: Counter[str] = Counter()
    original = Connection._make_api_call

    def counting(self: Any, operation: str, params: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, operation, params, *args, **kwargs)
        counted[f"{operation} calls"] += 1
        if operation in ("Query", "Scan"):
            counted["rows"] += int(result.get("ScannedCount", len(result.get("Items", []))))
        if operation == "BatchGetItem":
            counted["rows"] += sum(len(v) for v in result.get("Responses", {}).values())
        if operation == "GetItem":
            counted["rows"] += 1 if "Item" in result else 0
        return result

    monkeypatch.setattr(Connection, "_make_api_call", counting)
    return counted


# (query, served by an index: the page is full at both sizes)
FILTERS = [
    ("", True), ("name=seed20", True), ("name=in:seed20,seed32", True), ("status=queued", True),
    ("id=img-00040", True), ("disk_format=qcow2", True), ("container_format=ovf", True),
    ("visibility=public", True), ("visibility=private", False), ("visibility=shared", False),
    ("visibility=community", True), ("visibility=all", True), ("visibility=shared&member_status=pending", False),
    ("member_status=all", True), ("os_hidden=true", True), ("owner=proj-o", False), ("tag=t1", True),
    ("tag=rare", True), ("size_min=100&size_max=300&sort=size:asc", True), ("size_min=100", False),
    (f"created_at=gt:{STAMP}", True), (f"created_at=lte:{STAMP}", True), (f"updated_at=gte:{STAMP}", False),
    (f"updated_at=lt:{STAMP}&sort=updated_at", True), ("os_distro=d1", False), ("rare_prop=yes", False),
    ("protected=true", False), ("sort=name:asc", True), ("sort=size:asc&status=active", False),
]


def page_reads(harness: ImageHarness, reads: Counter[str], qs: str) -> tuple[int, int, int]:
    query = des.list_images(parse(qs), default_limit=LIMIT, max_limit=1000)
    sources = listing.sources_for(ALICE, query.filters.visibility, query.filters.member_status)
    reads.clear()
    page = harness.svc.index(ALICE, query)
    assert reads["Scan calls"] == 0
    return reads["rows"], len(page.images), len(sources)


@pytest.fixture
def sized(aws: Any) -> ImageHarness:
    return ImageHarness(aws.ports.images, aws.ports.members)


def walk(harness: ImageHarness, qs: str, limit: int) -> list[str]:
    """Every id a client following ``next`` collects."""
    seen: list[str] = []
    marker = None
    for _ in range(500):
        params = parse(qs + (f"&marker={marker}" if marker else ""))
        page = harness.svc.index(ALICE, des.list_images(params, default_limit=limit, max_limit=1000))
        seen += [im.id for im in page.images]
        if page.next_marker is None:
            return seen
        marker = page.next_marker
    raise AssertionError(f"{qs}: no end after 500 pages")


@pytest.mark.parametrize("count", [60, 240])
def test_each_filter_reads_within_the_page_budget(sized: ImageHarness, reads: Counter[str], count: int) -> None:
    seed_in_batches(count)
    for qs, indexed in FILTERS:
        rows, shown, sources = page_reads(sized, reads, qs)
        assert rows <= 2 * sources * (LIMIT + 1), (qs, rows, sources)
        everything = walk(sized, qs, 1000)
        if indexed:
            assert shown == min(LIMIT, len(everything)), (qs, shown)


@pytest.mark.parametrize("qs", ["", "name=in:seed20,seed32", "tag=t1", "tag=rare"] + [qs for qs, indexed in FILTERS if not indexed])
def test_following_next_finds_every_match_once_in_order(harness: ImageHarness, qs: str) -> None:
    """Given 40 images, pages of 5 (short ones included) walk exactly the matches of one large page."""
    seed(harness, 40)
    assert walk(harness, qs, LIMIT) == walk(harness, qs, 1000)
