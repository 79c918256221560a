""""Shared with me" listing through MemberService on both repositories, and its read cost on DynamoDB."""
from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from chalicelib.api import deserializers as des
from chalicelib.domain.context import RequestContext
from chalicelib.domain.patch import PatchOp
from chalicelib.services.images import ImageService
from tests.service_factories import ImageHarness

ALICE = RequestContext("alice", "proj-a", frozenset({"member", "reader"}))
BOB = RequestContext("bob", "proj-b", frozenset({"member", "reader"}))


def names(svc: ImageService, ctx: RequestContext, qs: str = "", limit: int = 25) -> list[str]:
    params: dict[str, list[str]] = {}
    for part in filter(None, qs.split("&")):
        key, _, value = part.partition("=")
        params.setdefault(key, []).append(value)
    page = svc.index(ctx, des.list_images(params, default_limit=limit, max_limit=1000))
    return [str(im.name) for im in page.images]


def shared_to_bob(harness: ImageHarness, count: int, status: str = "accepted") -> list[str]:
    svc, members = harness.svc, harness.member_service()
    made = []
    for n in range(count):
        image = svc.create(ALICE, {"name": f"img-{n:02d}"})
        members.create_member(ALICE, image.id, "proj-b")
        if status != "pending":
            members.update(BOB, image.id, "proj-b", status)
        made.append(image.id)
    return made


def test_pages_follow_sort_order_after_renames(svc: ImageService, harness: ImageHarness) -> None:
    ids = shared_to_bob(harness, 5)
    # Renaming moves an image in the name order: the member rows must follow.
    svc.update(ALICE, ids[0], [PatchOp("replace", ("name",), "zzz")])
    svc.update(ALICE, ids[4], [PatchOp("replace", ("name",), "aaa")])
    bob_sees = names(svc, BOB, "sort_key=name&sort_dir=asc&visibility=shared")
    assert bob_sees == ["aaa", "img-01", "img-02", "img-03", "zzz"]
    page1 = svc.index(BOB, des.list_images({"sort_key": ["name"], "sort_dir": ["asc"], "visibility": ["shared"]}, default_limit=2, max_limit=1000))
    page2 = svc.index(BOB, des.list_images(
        {"sort_key": ["name"], "sort_dir": ["asc"], "visibility": ["shared"], "marker": [str(page1.next_marker)]},
        default_limit=2, max_limit=1000))
    assert [im.name for im in page1.images + page2.images] == ["aaa", "img-01", "img-02", "img-03"]
    # Default order (created_at desc) after updates, and deleted images drop out.
    svc.delete(ALICE, ids[2])
    assert names(svc, BOB) == ["aaa", "img-03", "img-01", "zzz"]


def test_status_filter_and_all_merge(svc: ImageService, harness: ImageHarness) -> None:
    accepted = shared_to_bob(harness, 2)
    pending = shared_to_bob(harness, 1, status="pending")
    rejected = shared_to_bob(harness, 1, status="rejected")
    by_id = {im_id: harness.repo.get(im_id).name for im_id in accepted + pending + rejected}
    assert names(svc, BOB, "member_status=all&visibility=shared&sort_key=created_at&sort_dir=asc") == list(by_id.values())
    assert names(svc, BOB, "member_status=rejected") == [by_id[rejected[0]]]


def test_shared_page_reads_are_bounded_by_the_page(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given 30 shares to Bob, a page of 5 costs the same calls as with 3 shares: O(page), not O(shares)."""
    from pynamodb.connection.base import Connection

    harness = ImageHarness(aws.ports.images, aws.ports.members)
    svc = harness.svc
    shared_to_bob(harness, 30)
    calls: Counter[str] = Counter()
    items: Counter[str] = Counter()
    original = Connection._make_api_call

    def counting(self: Any, operation: str, params: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, operation, params, *args, **kwargs)
        calls[operation] += 1
        if operation == "Query":
            items["Query"] += len(result.get("Items", []))
        if operation == "BatchGetItem":
            items["BatchGetItem"] += sum(len(v) for v in result.get("Responses", {}).values())
        return result

    monkeypatch.setattr(Connection, "_make_api_call", counting)
    page = svc.index(BOB, des.list_images({"visibility": ["shared"]}, default_limit=5, max_limit=1000))
    assert len(page.images) == 5
    assert calls["BatchGetItem"] == 1 and calls["Scan"] == 0
    assert items["BatchGetItem"] <= 5 and items["Query"] <= 5 + 5  # owner index + shares index, one page each
