"""MemberRepository on DynamoDB: memberships, and the "shared with me" listing in O(page).

Each membership row carries a copy of its image's listing sort values
(``s_<key>``, the same encoding as the image indexes) under the partition
``lm`` = ``s#``/``h#`` (os_hidden) ``<status>#<member_id>``, present only while
the image is listed and shared. A page of "shared with me" is then one Query on
``shared-<key>`` (keys only, ``limit`` rows) per member status, merged with the
other sources' keys before one BatchGet of the page, whatever the number of shares. The copies are refreshed after every image write that
can move them (``refresh_listing``), conditioned on the image version so an
older write never overwrites a newer one.

A tag filter reads tag rows (MemberTagRowRecord): one per membership and tag
while the image is listed and shared, in the tag's partition of ``lm``
(listing_keys.tag_partition), by ``s_created_at``. A membership write carries
its rows in its own transaction; ``refresh_listing`` moves them with the
membership rows, each conditioned on the image version.
"""
from __future__ import annotations

import heapq
import itertools
from typing import Any, Callable, Iterator

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters import aws_errors
from chalicelib.adapters.aws_errors import translated, translated_iter
from chalicelib.adapters.dynamo_images import DynamoImageRepository, IndexCursor
from chalicelib.adapters.dynamo_models import MemberRecord, MemberTagRowRecord
from chalicelib.adapters.dynamo_tags import SEP as TAG_SEP
from chalicelib.domain import listing, listing_keys
from chalicelib.domain.errors import Duplicate
from chalicelib.domain.images import Image
from chalicelib.domain.listing import Source
from chalicelib.domain.listing_keys import TAG_SORT, KeyRow, Scan, partition, sort_range, tag_partition
from chalicelib.ports import KeyCursor
from chalicelib.domain.members import MEMBER_STATUSES, Member, MemberNotFound

WHAT = "The membership"  # names the membership in a storage-limit refusal
_TRANSACTION_ITEMS = 100  # TransactWriteItems' most items

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


def _tag_rows(member: Member, image: Image | None) -> dict[str, tuple[str, str]]:
    """The membership's tag rows: range key -> (lm, s_created_at), while the image is listed and shared."""
    if image is None or not image.listed or image.visibility != "shared":
        return {}
    where = _partition(member.status, member.member_id, image.os_hidden)
    sort = sort_range(image, TAG_SORT)
    return {f"{member.member_id}{TAG_SEP}{tag}": (tag_partition(tag, where), sort) for tag in image.tags}


def _is_tag_row(member_id: str) -> bool:
    return "\x1f" in member_id


def _stored_rows(image_id: str, member_id: str) -> dict[str, Any]:
    """The membership's tag rows as stored (one Query of the image's partition, by range-key prefix)."""
    rows = MemberTagRowRecord.query(image_id, MemberTagRowRecord.member_id.startswith(f"{member_id}{TAG_SEP}"))
    return {r.member_id: r for r in translated_iter(rows, WHAT)}


def _row_writes(member: Member, image: Image | None, stored: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """Rows to put (new or moved) and stored rows to delete, taking ``stored`` to the membership's rows."""
    wanted = _tag_rows(member, image)
    version = image.version if image is not None else None
    puts = [MemberTagRowRecord(member.image_id, key, lm=lm, s_created_at=sort, iv=version)
            for key, (lm, sort) in sorted(wanted.items())
            if key not in stored or (stored[key].lm, stored[key].s_created_at) != (lm, sort)]
    return puts, [row for key, row in sorted(stored.items()) if key not in wanted]


def _transact(own: Callable[[TransactWrite], None], puts: list[Any], deletes: list[Any], on_condition: Any) -> None:
    """The membership's own write (item 0) and its row writes in one transaction; what exceeds 100 items follows."""
    writes = [(True, row) for row in puts] + [(False, row) for row in deletes]
    connection = MemberRecord._get_connection().connection  # noqa: SLF001 - the model's own connection
    with translated(WHAT, on_condition=on_condition), TransactWrite(connection=connection) as tx:
        own(tx)
        for is_put, row in writes[:_TRANSACTION_ITEMS - 1]:
            if is_put:
                tx.save(row)
            else:
                tx.delete(row)
    rest = writes[_TRANSACTION_ITEMS - 1:]
    if rest:
        with translated(WHAT), MemberTagRowRecord.batch_write() as batch:
            for is_put, row in rest:
                if is_put:
                    batch.save(row)
                else:
                    batch.delete(row)


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
        if not image_id or not member_id or _is_tag_row(member_id):
            return None
        with translated(WHAT, action="read"):
            try:
                return _to_member(MemberRecord.get(image_id, member_id, consistent_read=True))
            except DoesNotExist:
                return None

    def add(self, member: Member, image: Image | None = None) -> Member:
        """PutItem conditioned on the membership being new; raises Duplicate."""
        duplicate = Duplicate(f"Member {member.member_id} already exists for image {member.image_id}.")
        condition = MemberRecord.member_id.does_not_exist()
        puts, deletes = _row_writes(member, image, _stored_rows(member.image_id, member.member_id) if image else {})
        if puts or deletes:
            _transact(lambda tx: tx.save(_to_record(member, image), condition=condition), puts, deletes, duplicate)
            return member
        with translated(WHAT, on_condition=duplicate):
            _to_record(member, image).save(condition=condition)
        return member

    def list_for_image(self, image_id: str) -> list[Member]:
        """Every membership of the image: one (paged) Query on the base table, oldest first."""
        records = translated_iter(MemberRecord.query(image_id, consistent_read=True), WHAT)
        rows = [_to_member(r) for r in records if not _is_tag_row(r.member_id)]
        return sorted(rows, key=lambda m: (m.created_at, m.member_id))

    def update(self, member: Member, image: Image) -> Member:
        """PutItem conditioned on the row existing, in one transaction with its tag rows' moves; raises MemberNotFound."""
        missing = MemberNotFound(image_id=member.image_id, member_id=member.member_id)
        condition = MemberRecord.member_id.exists()
        puts, deletes = _row_writes(member, image, _stored_rows(member.image_id, member.member_id))
        if puts or deletes:
            _transact(lambda tx: tx.save(_to_record(member, image), condition=condition), puts, deletes, missing)
            return member
        with translated(WHAT, on_condition=missing):
            _to_record(member, image).save(condition=condition)
        return member

    def remove(self, image_id: str, member_id: str) -> None:
        """DeleteItem conditioned on the row existing, with its tag rows in one transaction; raises MemberNotFound."""
        missing = MemberNotFound(image_id=image_id, member_id=member_id)
        if _is_tag_row(member_id):
            raise missing
        condition = MemberRecord.member_id.exists()
        rows = list(_stored_rows(image_id, member_id).values())
        if rows:
            _transact(lambda tx: tx.delete(MemberRecord(image_id, member_id), condition=condition), [], rows, missing)
            return
        with translated(WHAT, on_condition=missing):
            MemberRecord(image_id, member_id).delete(condition=condition)

    def refresh_listing(self, image: Image) -> None:
        """One Query for the image's rows, then one conditional update per membership (none for unshared images)
        and one conditional write per tag row that moves."""
        records = list(translated_iter(MemberRecord.query(image.id), WHAT))
        tag_rows = {r.member_id: MemberTagRowRecord(r.image_id, r.member_id, lm=r.lm, s_created_at=r.s_created_at, iv=r.iv)
                    for r in records if _is_tag_row(r.member_id)}
        for record in records:
            if _is_tag_row(record.member_id):
                continue
            member = _to_member(record)
            prefix = f"{member.member_id}{TAG_SEP}"
            _refresh_tag_rows(member, image, {k: v for k, v in tag_rows.items() if k.startswith(prefix)})
            values = _listing_values(member, image)
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
        """One cursor per member status asked for and key range, on ``shared-<scan.key>`` (keys only), in the
        tag's rows for a tag scan."""
        statuses = MEMBER_STATUSES if source.member_status == "all" else (source.member_status,)
        index = getattr(MemberRecord, f"idx_shared_{scan.key}")
        MemberRecord._get_connection().connection.client  # noqa: B018, SLF001 - build the client before cursors run in threads

        def where(status: str) -> str:
            plain = _partition(status, source.value, scan.hidden)
            return plain if scan.tag is None else tag_partition(scan.tag, plain)

        return [
            IndexCursor(index, MemberRecord, where(status), scan, r, "image_id", "The shared-image listing")
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


def _refresh_tag_rows(member: Member, image: Image, stored: dict[str, Any]) -> None:
    """Move the membership's tag rows to ``image``'s values, each write conditioned on no newer copy."""
    puts, deletes = _row_writes(member, image, stored)
    newer = MemberTagRowRecord.iv.does_not_exist() | (MemberTagRowRecord.iv < image.version)
    for row in puts:
        try:
            row.save(condition=MemberTagRowRecord.member_id.does_not_exist() | newer)
        except PutError as exc:
            if not aws_errors.condition_failures(exc):
                raise aws_errors.translate(exc, what=WHAT) from exc
    for row in deletes:
        try:
            row.delete(condition=newer)
        except DeleteError as exc:
            if not aws_errors.condition_failures(exc):
                raise aws_errors.translate(exc, what=WHAT) from exc


def _cursor_rows(cursor: KeyCursor, page_size: int) -> Iterator[KeyRow]:
    while not cursor.exhausted:
        yield from cursor.fetch(max(page_size, 1))
