"""A tag filter is served by tag rows: the page reads O(page), whatever the table size, and stays exact.

Given the catalog of test_listing_reads at 60 and 240 images, a tag page
reads about the same rows at both sizes, and every write that moves an image's
tag rows (tags, visibility, os_hidden, deletion) keeps the listing exact on
both repositories.
"""
from __future__ import annotations

from collections import Counter
import pytest

from chalicelib.api import deserializers as des
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import NotFound, QuotaExceeded
from chalicelib.domain.listing_keys import MAX_TAG_ROWS
from chalicelib.domain.patch import PatchOp
from chalicelib.services.images import ImageService
from tests.contract.test_listing_reads import LIMIT, page_reads, parse, reads, seed_in_batches, sized  # noqa: F401 - fixtures
from tests.service_factories import ImageHarness

ALICE = RequestContext("alice", "proj-a", frozenset({"member", "reader"}))
ADMIN = RequestContext("admin", "admin-proj", frozenset({"admin"}))  # may publicize
BOB = RequestContext("bob", "proj-b", frozenset({"member", "reader"}))

# rare is on every 50th image, t1 on every 5th (the catalog of test_listing_reads).
TAG_PAGES = ["tag=rare", "tag=t1", "tag=t1&visibility=all", "visibility=shared&tag=rare", "member_status=all&tag=t2",
             "visibility=public&tag=rare", "visibility=public&tag=t1", "visibility=community&tag=t1", "tag=rare&tag=t0&visibility=public", "os_hidden=true&visibility=public&tag=t1"]


def ids(svc: ImageService, ctx: RequestContext, qs: str, limit: int = 25) -> list[str]:
    return [im.id for im in svc.index(ctx, des.list_images(parse(qs), default_limit=limit, max_limit=1000)).images]


def walk(svc: ImageService, ctx: RequestContext, qs: str, limit: int) -> list[str]:
    """Every id a client following ``next`` collects."""
    seen: list[str] = []
    marker = None
    for _ in range(200):
        query = des.list_images(parse(qs + (f"&marker={marker}" if marker else "")), default_limit=limit, max_limit=1000)
        page = svc.index(ctx, query)
        seen += [im.id for im in page.images]
        if page.next_marker is None:
            return seen
        marker = page.next_marker
    raise AssertionError(f"{qs}: no end after 200 pages")


def test_a_tag_page_reads_the_same_rows_at_60_and_240_images(sized: ImageHarness, reads: Counter[str]) -> None:
    figures: dict[str, list[tuple[int, int]]] = {qs: [] for qs in TAG_PAGES}
    for count in (60, 240):
        seed_in_batches(count)  # the 60 are the first 60 of the 240
        for qs in TAG_PAGES:
            rows, shown, sources = page_reads(sized, reads, qs)
            everything = ids(sized.svc, ALICE, qs, 1000)
            assert shown == min(LIMIT, len(everything)), (count, qs, shown)
            assert rows <= 2 * sources * (LIMIT + 1), (count, qs, rows)
            figures[qs].append((rows, sources))
    for qs, ((small, _), (large, sources)) in figures.items():
        # O(page): at most (limit + 1) keys per source plus the page's images, whatever the table size.
        assert large <= sources * (LIMIT + 1) + LIMIT, (qs, small, large)


def test_tag_add_and_remove_move_the_image_in_and_out(svc: ImageService) -> None:
    made = svc.create(ADMIN, {"name": "t", "visibility": "public", "tags": ["x"]})
    assert ids(svc, BOB, "tag=x") == [made.id]
    svc.delete_tag(ADMIN, made.id, "x")
    assert ids(svc, BOB, "tag=x") == []
    svc.add_tag(ADMIN, made.id, "y")
    assert ids(svc, BOB, "tag=y") == [made.id]
    svc.update(ADMIN, made.id, [PatchOp("replace", ("tags",), ["z", "y"])])
    assert ids(svc, BOB, "tag=y&tag=z") == [made.id]
    assert ids(svc, BOB, "tag=y&tag=x") == []


def test_visibility_change_moves_the_tag_rows(svc: ImageService) -> None:
    made = svc.create(ADMIN, {"name": "v", "visibility": "private", "tags": ["x"]})
    assert ids(svc, BOB, "tag=x") == [] and ids(svc, ADMIN, "tag=x") == [made.id]
    svc.update(ADMIN, made.id, [PatchOp("replace", ("visibility",), "public")])
    assert ids(svc, BOB, "tag=x") == [made.id]
    assert ids(svc, ADMIN, "tag=x&visibility=public") == [made.id]
    svc.update(ADMIN, made.id, [PatchOp("replace", ("visibility",), "community")])
    assert ids(svc, BOB, "tag=x") == [] and ids(svc, BOB, "tag=x&visibility=community") == [made.id]


def test_hidden_images_are_listed_only_with_os_hidden(svc: ImageService) -> None:
    made = svc.create(ADMIN, {"name": "h", "visibility": "public", "tags": ["x"]})
    svc.update(ADMIN, made.id, [PatchOp("replace", ("os_hidden",), True)])
    assert ids(svc, BOB, "tag=x") == []
    assert ids(svc, BOB, "tag=x&os_hidden=true") == [made.id]


def test_a_deleted_image_leaves_the_tag_listing(svc: ImageService, harness: ImageHarness) -> None:
    made = svc.create(ADMIN, {"name": "d", "visibility": "public", "tags": ["x", "y"]})
    svc.delete(ADMIN, made.id)
    assert ids(svc, ADMIN, "tag=x") == [] and ids(svc, BOB, "tag=y") == []
    assert tag_rows_of(harness, made.id) == []


def test_following_next_gives_every_tagged_image_once(svc: ImageService) -> None:
    made = [svc.create(ADMIN, {"name": f"w{n}", "visibility": ["public", "private"][n % 2],
                               "tags": ["x"] if n % 3 else ["y"]}) for n in range(14)]
    tagged = [im.id for im in reversed(made) if "x" in im.tags]
    assert walk(svc, ADMIN, "tag=x", 2) == tagged
    assert walk(svc, ADMIN, "tag=x&sort=created_at:asc", 3) == tagged[::-1]
    public = {im.id for im in made if im.visibility == "public"}
    assert walk(svc, BOB, "tag=x", 2) == [i for i in tagged if i in public]


def test_a_write_putting_more_tag_rows_than_a_transaction_holds_is_refused(svc: ImageService) -> None:
    with pytest.raises(QuotaExceeded):
        svc.create(ADMIN, {"name": "many", "tags": [f"t{n}" for n in range(MAX_TAG_ROWS + 1)]})
    made = svc.create(ADMIN, {"name": "most", "tags": [f"t{n}" for n in range(MAX_TAG_ROWS)]})
    svc.update(ADMIN, made.id, [PatchOp("replace", ("visibility",), "public")])  # every row moves: still one write
    assert ids(svc, BOB, f"tag=t{MAX_TAG_ROWS - 1}") == [made.id]


def test_tag_rows_are_no_images(svc: ImageService, harness: ImageHarness) -> None:
    made = svc.create(ADMIN, {"name": "r", "visibility": "public", "tags": ["x"]})
    rows = tag_rows_of(harness, made.id)
    assert len(rows) == (1 if type(harness.repo).__name__.startswith("Dynamo") else 0)
    for row_id in rows:
        with pytest.raises(NotFound):
            harness.repo.get(row_id)
        assert harness.repo.get_many([row_id]) == {}
    assert ids(svc, ADMIN, "") == [made.id] and ids(svc, ADMIN, "sort=name:asc") == [made.id]


def tag_rows_of(harness: ImageHarness, image_id: str) -> list[str]:
    """The ids of the image's tag rows in the DynamoDB table (none to look for in memory)."""
    if not type(harness.repo).__name__.startswith("Dynamo"):
        return []
    from chalicelib.adapters.dynamo_models import TagRowRecord

    return [r.id for r in TagRowRecord.scan(TagRowRecord.image_id == image_id)]


def test_shares_follow_tags_member_status_and_removal(svc: ImageService, harness: ImageHarness) -> None:
    """Given an image shared with Bob, the tag listing of "shared with me" follows every write that moves it."""
    members = harness.member_service()
    made = svc.create(ALICE, {"name": "s", "visibility": "shared", "tags": ["x"]})
    members.create_member(ALICE, made.id, "proj-b")
    assert ids(svc, BOB, "tag=x") == [] and ids(svc, BOB, "tag=x&member_status=pending&visibility=shared") == [made.id]
    members.update(BOB, made.id, "proj-b", "accepted")
    assert ids(svc, BOB, "tag=x") == [made.id]
    svc.add_tag(ALICE, made.id, "y")
    svc.delete_tag(ALICE, made.id, "x")
    assert ids(svc, BOB, "tag=y") == [made.id] and ids(svc, BOB, "tag=x") == []
    svc.update(ALICE, made.id, [PatchOp("replace", ("visibility",), "private")])
    assert ids(svc, BOB, "tag=y") == []
    svc.update(ALICE, made.id, [PatchOp("replace", ("visibility",), "shared")])
    assert ids(svc, BOB, "tag=y") == [made.id]
    assert [m.member_id for m in harness.members.list_for_image(made.id)] == ["proj-b"]
    dynamo = type(harness.repo).__name__.startswith("Dynamo")
    assert member_tag_rows_of(harness, made.id) == (["proj-b\x1ftag\x1fy"] if dynamo else [])
    members.delete(ALICE, made.id, "proj-b")
    assert ids(svc, BOB, "tag=y") == [] and harness.members.list_for_image(made.id) == []
    assert member_tag_rows_of(harness, made.id) == []


def member_tag_rows_of(harness: ImageHarness, image_id: str) -> list[str]:
    """The range keys of the image's membership tag rows in DynamoDB (none in memory)."""
    if not type(harness.repo).__name__.startswith("Dynamo"):
        return []
    from chalicelib.adapters.dynamo_models import MemberTagRowRecord

    return [r.member_id for r in MemberTagRowRecord.query(image_id) if "\x1f" in r.member_id]
