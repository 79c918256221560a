"""MemberRepository on DynamoDB: memberships, and the "shared with me" listing in O(page).

Each membership row carries a copy of its image's listing sort values
(``s_<key>``, the same encoding as the image indexes) under the partition
``lm`` = ``s#``/``h#`` (os_hidden) ``<status>#<member_id>``, present only while
the image is listed and shared. A page of "shared with me" is then one Query on
``shared-<key>`` (keys only, ``limit`` rows) per member status, merged with the
other sources' keys before one BatchGet of the page, whatever the number of shares. The copies are refreshed after every image write that
can move them (``refresh_listing``), conditioned on the image version so an
older write never overwrites a newer one.
"""
from __future__ import annotations

import heapq
import itertools
from typing import Any, Iterator

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib.adapters import aws_errors
from chalicelib.adapters.aws_errors import translated, translated_iter
from chalicelib.adapters.dynamo_images import DynamoImageRepository, IndexCursor
from chalicelib.adapters.dynamo_models import MemberRecord
from chalicelib.domain import listing, listing_keys
from chalicelib.domain.errors import Duplicate
from chalicelib.domain.images import Image
from chalicelib.domain.listing import Source
from chalicelib.domain.listing_keys import KeyRow, Scan, partition, sort_range
from chalicelib.ports import KeyCursor
from chalicelib.domain.members import MEMBER_STATUSES, Member, MemberNotFound

WHAT = "The membership"  # names the membership in a storage-limit refusal

def _partition(status: str, member_id: str, hidden: bool = False) -> str:
    # Status first: statuses never contain '#', member ids may.
    return partition(hidden, f"{status}#{member_id}")


def _listing_values(member: Member, image: Image | None) -> dict[str, Any]:
    """The denormalised attributes: partition and sort values while listed and shared, else none."""
    indexed = image is not None and image.listed and image.visibility == "shared"
    hidden = image is not None and image.os_hidden
    values: dict[str, Any] = {"lm": _partition(member.status, member.member_id, hidden) if indexed else None}
    values["iv"] = image.version if image is not None else None
    for key in listing.SORT_KEYS:
        values[f"s_{key}"] = sort_range(image, key) if indexed and image is not None else None
    return values


def _to_record(member: Member, image: Image | None) -> Any:
    return MemberRecord(
        member.image_id,
        member.member_id,
        status=member.status,
        status_image=f"{member.status}#{member.image_id}",
        created_at=member.created_at,
        updated_at=member.updated_at,
        **_listing_values(member, image),
    )


def _to_member(record: Any) -> Member:
    return Member(record.image_id, record.member_id, record.status, record.created_at, record.updated_at)


class DynamoMemberRepository:
    """Image memberships in one table; Query only (base table by image, GSIs by member)."""

    def find(self, image_id: str, member_id: str) -> Member | None:
        """One GetItem; None when the project is not a member."""
        if not image_id or not member_id:
            return None
        with translated(WHAT, action="read"):
            try:
                return _to_member(MemberRecord.get(image_id, member_id, consistent_read=True))
            except DoesNotExist:
                return None

    def add(self, member: Member, image: Image | None = None) -> Member:
        """PutItem conditioned on the membership being new; raises Duplicate."""
        duplicate = Duplicate(f"Member {member.member_id} already exists for image {member.image_id}.")
        with translated(WHAT, on_condition=duplicate):
            _to_record(member, image).save(condition=MemberRecord.member_id.does_not_exist())
        return member

    def list_for_image(self, image_id: str) -> list[Member]:
        """Every membership of the image: one (paged) Query on the base table, oldest first."""
        rows = [_to_member(r) for r in translated_iter(MemberRecord.query(image_id, consistent_read=True), WHAT)]
        return sorted(rows, key=lambda m: (m.created_at, m.member_id))

    def update(self, member: Member, image: Image) -> Member:
        """PutItem conditioned on the row existing; raises MemberNotFound."""
        with translated(WHAT, on_condition=MemberNotFound(image_id=member.image_id, member_id=member.member_id)):
            _to_record(member, image).save(condition=MemberRecord.member_id.exists())
        return member

    def remove(self, image_id: str, member_id: str) -> None:
        """DeleteItem conditioned on the row existing; raises MemberNotFound."""
        with translated(WHAT, on_condition=MemberNotFound(image_id=image_id, member_id=member_id)):
            MemberRecord(image_id, member_id).delete(condition=MemberRecord.member_id.exists())

    def refresh_listing(self, image: Image) -> None:
        """One Query for the image's rows, then one conditional update per row (none for unshared images)."""
        for record in translated_iter(MemberRecord.query(image.id), WHAT):
            values = _listing_values(_to_member(record), image)
            actions = [
                getattr(MemberRecord, name).set(value) if value is not None else getattr(MemberRecord, name).remove()
                for name, value in values.items()
            ]
            newer = MemberRecord.iv.does_not_exist() | (MemberRecord.iv < image.version)
            try:
                record.update(actions=actions, condition=MemberRecord.member_id.exists() & newer)
            except UpdateError as exc:
                if not aws_errors.condition_failures(exc):
                    raise aws_errors.translate(exc, what=WHAT) from exc
                # Removed meanwhile, or a newer image version was copied already.

    def shared_cursors(self, source: Source, scan: Scan, marker: Image | None) -> list[KeyCursor]:
        """One cursor per member status asked for and key range, on ``shared-<scan.key>`` (keys only)."""
        statuses = MEMBER_STATUSES if source.member_status == "all" else (source.member_status,)
        index = getattr(MemberRecord, f"idx_shared_{scan.key}")
        MemberRecord._get_connection().connection.client  # noqa: B018, SLF001 - build the client before cursors run in threads
        return [
            IndexCursor(index, MemberRecord, _partition(status, source.value, scan.hidden), scan, r, "image_id",
                        "The shared-image listing")
            for status in statuses for r in listing_keys.ranges_after(scan, marker)
        ]

    def iter_shared(self, source: Source, page_size: int) -> Iterator[Image]:
        """Images shared with ``source.value`` (newest first), ``page_size`` keys per Query, then BatchGets."""
        scan = listing_keys.plan(listing.DEFAULT_ORDER, listing.Filters())
        streams = [_cursor_rows(c, page_size) for c in self.shared_cursors(source, scan, None)]
        rows = heapq.merge(*streams, key=lambda row: row.sort, reverse=scan.desc)
        while chunk := [row.image_id for row in itertools.islice(rows, max(page_size, 1))]:
            found = DynamoImageRepository().get_many(chunk)
            yield from (found[i] for i in chunk if i in found)


def _cursor_rows(cursor: KeyCursor, page_size: int) -> Iterator[KeyRow]:
    while not cursor.exhausted:
        yield from cursor.fetch(max(page_size, 1))
