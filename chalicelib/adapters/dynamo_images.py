"""ImageRepository on DynamoDB (PynamoDB); memberships live in dynamo_members.

Every write is conditional: a new image must not exist, a save must find the
version and status it was read with. A failed condition becomes a domain
error here, every other AWS fault aws_errors' translation; no PynamoDB or
botocore exception leaves this module.
"""
from __future__ import annotations

import zlib
from dataclasses import replace
from datetime import datetime
from typing import Any, Callable, Iterator, Mapping

from pynamodb.attributes import MapAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.transactions import TransactWrite

from chalicelib.adapters import dynamo_tags
from chalicelib.adapters.aws_errors import translated, translated_iter
from chalicelib.adapters.dynamo_models import ImageRecord, UsageRecord
from chalicelib.adapters.dynamo_tags import TagChanges
from chalicelib.domain import listing, listing_keys, rules, usage
from chalicelib.domain.errors import ConcurrentUpdate, DomainError, Duplicate, NotFound, QuotaExceeded, TransientFault
from chalicelib.domain.images import Image, ImageStatus, Location, awaits_scrub
from chalicelib.domain.listing import Source
from chalicelib.domain.listing_keys import KeyRange, KeyRow, Scan, enc, partition, sort_range, tag_partition
from chalicelib.ports import VERSION, Guard, KeyCursor

WHAT = "The image metadata"  # names the image in a storage-limit refusal
PENDING = "pending"  # the one partition of the pending-delete index
# Counters without a configured limit are spread over this many items per project (see _write_with_usage).
USAGE_SHARDS = 16
_SHARD = "\x1f"  # joins a project id and a shard number; no project id holds a unit separator
# DynamoDB refuses hash keys over 2048 bytes; no image id is that long.
_MAX_KEY_BYTES = 2048
_BATCH = 100  # BatchGetItem's most keys per call
_TRANSACTION_ITEMS = 100  # TransactWriteItems' most items


def range_condition(model: Any, key: str, r: KeyRange) -> Any:
    """The Query range-key condition for ``r`` on ``model``'s ``s_<key>`` (None: the whole partition)."""
    attr = getattr(model, f"s_{key}")
    if r.lo is not None and r.hi is not None:
        return attr.between(r.lo, r.hi)
    if r.lo is not None:
        return attr >= r.lo
    if r.hi is not None:
        return attr <= r.hi
    return None


class IndexCursor:
    """Keys of one key range on one KEYS_ONLY index partition, a Query page per ``fetch``."""

    def __init__(self, index: Any, model: Any, partition: str, scan: Scan, r: KeyRange, id_attr: str, what: str,
                 image_of: Callable[[str], str] = str) -> None:
        self._index, self._partition, self._scan, self._range = index, partition, scan, r
        self._condition = range_condition(model, scan.key, r)
        self._id_attr, self._what, self._image_of = id_attr, what, image_of
        self._start: Any = None
        self.exhausted = False

    def fetch(self, count: int) -> list[KeyRow]:
        """One Query of at most ``count`` keys after the previous page; the marker's own key is dropped."""
        if self.exhausted or count <= 0:
            return []
        results = self._index.query(
            self._partition, range_key_condition=self._condition, scan_index_forward=not self._scan.desc,
            limit=count, page_size=count, last_evaluated_key=self._start,
        )
        rows = [KeyRow(getattr(r, f"s_{self._scan.key}"), self._image_of(getattr(r, self._id_attr)))
                for r in translated_iter(results, self._what)]
        self._start = results.last_evaluated_key
        self.exhausted = self._start is None or len(rows) < count
        return [row for row in rows if row.sort != self._range.skip]


def _to_record(image: Image) -> Any:
    listed = image.listed
    record = ImageRecord(
        image.id,
        status=image.status.value,
        name=image.name,
        visibility=image.visibility,
        owner=image.owner,
        protected=image.protected,
        os_hidden=image.os_hidden,
        container_format=image.container_format,
        disk_format=image.disk_format,
        min_disk=image.min_disk,
        min_ram=image.min_ram,
        size=image.size,
        virtual_size=image.virtual_size,
        checksum=image.checksum,
        os_hash_algo=image.os_hash_algo,
        os_hash_value=image.os_hash_value,
        tags=set(image.tags) or None,
        properties={k: v for k, v in image.extra_properties.items() if not rules.is_service_property(k)},
        service_props={k: v for k, v in image.extra_properties.items() if rules.is_service_property(k)} or None,
        locations=[{"url": loc.url, "metadata": dict(loc.metadata)} for loc in image.locations] or None,
        created_at=image.created_at,
        updated_at=image.updated_at,
        version=image.version,
        holder=image.holder,
        lo=partition(image.os_hidden, image.owner) if listed and image.owner else None,
        lv=partition(image.os_hidden, image.visibility) if listed else None,
    )
    if awaits_scrub(image):
        record.pd, record.pd_at = PENDING, enc(image.updated_at)
    for key in listing.SORT_KEYS:
        setattr(record, f"s_{key}", sort_range(image, key) if listed else None)
    return record


def _to_domain(record: Any) -> Image:
    props = record.properties.as_dict() if record.properties is not None else {}
    if record.service_props is not None:
        props.update(record.service_props.as_dict())
    return Image(
        id=record.id,
        owner=record.owner,
        created_at=record.created_at,
        updated_at=record.updated_at,
        status=ImageStatus(record.status),
        name=record.name,
        visibility=record.visibility,
        protected=bool(record.protected),
        os_hidden=bool(record.os_hidden),
        container_format=record.container_format,
        disk_format=record.disk_format,
        min_disk=int(record.min_disk),
        min_ram=int(record.min_ram),
        size=None if record.size is None else int(record.size),
        virtual_size=None if record.virtual_size is None else int(record.virtual_size),
        checksum=record.checksum,
        os_hash_algo=record.os_hash_algo,
        os_hash_value=record.os_hash_value,
        tags=frozenset(record.tags or ()),
        extra_properties={str(k): (None if v is None else str(v)) for k, v in props.items()},
        locations=tuple(Location(loc["url"], loc.get("metadata") or {}) for loc in record.locations or ()),
        version=int(record.version),
        holder=record.holder,
    )


# Attributes a status-guarded update may write (all but the key and the version, which it increments).
_WRITABLE = tuple(name for name in ImageRecord.get_attributes() if name not in ("id", "version"))
# Derived from other attributes (listing keys): rewritten with them, never a reason to refuse.
_DERIVED = frozenset({"updated_at", "lo", "lv", "pd", "pd_at", *(f"s_{key}" for key in listing.SORT_KEYS)})
# A status move also owns the service's properties (the import lock): any change to them refuses it.
_ALWAYS_GUARDED = frozenset({"service_props"})


def _plain(record: Any, name: str) -> Any:
    value: Any = getattr(record, name)
    if isinstance(value, MapAttribute):
        value = value.as_dict()  # type: ignore[no-untyped-call]  # PynamoDB leaves as_dict unannotated
    return value


def _assign(name: str, value: Any) -> Any:
    attr = getattr(ImageRecord, name)
    return attr.remove() if value is None else attr.set(value)


def _unchanged(name: str, value: Any) -> Any:
    attr = getattr(ImageRecord, name)
    return attr.does_not_exist() if value is None else attr == value


def shard_key(project_id: str, image: str | int) -> str:
    """The usage item of ``project_id`` that an image's (or shard number's) unlimited counters move in."""
    shard = image if isinstance(image, int) else zlib.crc32(image.encode("utf-8", "surrogatepass")) % USAGE_SHARDS
    return f"{project_id}{_SHARD}{shard:02d}"


def _storable_key(image_id: str) -> bool:
    # A tag row's id is no image id: reads by id never see the rows.
    return (bool(image_id) and len(image_id.encode("utf-8", "surrogatepass")) <= _MAX_KEY_BYTES
            and not dynamo_tags.is_row_id(image_id))


class DynamoImageRepository:
    """Images in one DynamoDB table; listings read the sparse GSIs with Query only."""

    def get(self, image_id: str) -> Image:
        """Return the stored image (one strongly consistent GetItem); raises NotFound."""
        if not _storable_key(image_id):
            raise NotFound(image_id=image_id)
        with translated(WHAT, action="read"):
            try:
                return _to_domain(ImageRecord.get(image_id, consistent_read=True))
            except DoesNotExist:
                raise NotFound(image_id=image_id) from None

    def add(self, image: Image, *, usage_limits: Mapping[str, int] | None = None) -> Image:
        """PutItem conditioned on the id being new, with the owner's counters in one transaction; raises Duplicate."""
        moves = usage.delta(None, image)
        tags = dynamo_tags.changes(None, image)
        if image.owner or not tags.empty:
            self._write_with_usage(image, ImageRecord.id.does_not_exist(), image.owner, moves, usage_limits or {},
                                   new=True, tags=tags)
            return image
        with translated(WHAT, on_condition=Duplicate(image_id=image.id)):
            _to_record(image).save(condition=ImageRecord.id.does_not_exist())
        return image

    def save(
        self, image: Image, *, expected: Image, usage_delta: Mapping[str, int] | None = None,
        usage_limits: Mapping[str, int] | None = None, guard: Guard = VERSION,
    ) -> Image:
        """PutItem conditioned on the expected version and status (VERSION), or an UpdateItem of only the
        changed attributes conditioned on the status, the service properties and those attributes'
        expected values (a status guard); raises ConcurrentUpdate.

        A usage change makes it one TransactWriteItems with the owner's counter
        update, conditioned on staying within each growing counter's limit; raises QuotaExceeded.
        So does a change of the image's tag rows, which the transaction puts and deletes.
        """
        stored = replace(image, version=expected.version + 1)
        if not guard.version:
            return self._update(stored, expected, guard, usage_delta or {}, usage_limits or {})
        condition = (ImageRecord.version == expected.version) & (ImageRecord.status == expected.status.value)
        tags = dynamo_tags.changes(expected, stored)
        if (usage_delta and image.owner) or not tags.empty:
            self._write_with_usage(stored, condition, image.owner, usage_delta or {}, usage_limits or {}, new=False,
                                   tags=tags)
            return stored
        with translated(WHAT, on_condition=ConcurrentUpdate(image_id=image.id)):
            _to_record(stored).save(condition=condition)
        return stored

    def _update(
        self, stored: Image, expected: Image, guard: Guard, moves: Mapping[str, int], limits: Mapping[str, int],
    ) -> Image:
        old, new = _to_record(expected), _to_record(stored)
        changed = [name for name in _WRITABLE if _plain(old, name) != _plain(new, name)]
        actions = [_assign(name, _plain(new, name)) for name in changed] + [ImageRecord.version.add(1)]
        condition = ImageRecord.status == expected.status.value
        guarded = (set(changed) - _DERIVED) | _ALWAYS_GUARDED | set(guard.depends)
        tags = dynamo_tags.changes(expected, stored)
        if not tags.empty:
            # The tag rows follow ``expected``: the stored image must still hold what they derive from. A move
            # that leaves the rows as they are (an upload between listed statuses) needs no such condition.
            guarded |= listing_keys.TAG_ROW_FIELDS - {"status"}
        for name in sorted(guarded):
            condition &= _unchanged(name, _plain(old, name))
        if (moves and stored.owner) or not tags.empty:
            self._write_with_usage(stored, condition, stored.owner, moves, limits, new=False, actions=actions,
                                   tags=tags)
            try:
                return self.get(stored.id)  # a transaction returns no item: read the one now stored
            except TransientFault:
                return stored  # the write landed; failing to read it back must not make it look refused
        record = ImageRecord(stored.id)
        with translated(WHAT, on_condition=ConcurrentUpdate(image_id=stored.id)):
            record.update(actions=actions, condition=condition)
        return _to_domain(record)

    def usage(self, project_id: str) -> dict[str, int]:
        """The project's counters: its own item (counters with a configured limit) plus its shards (the rest),
        one strongly consistent BatchGetItem of USAGE_SHARDS + 1 keys."""
        totals = {k: 0 for k in usage.COUNTERS}
        keys = [project_id, *(shard_key(project_id, n) for n in range(USAGE_SHARDS))]
        with translated("The project's usage", action="read"):
            for record in translated_iter(UsageRecord.batch_get(keys, consistent_read=True), "The project's usage"):
                for name in usage.COUNTERS:
                    totals[name] += int(getattr(record, name) or 0)
        return totals

    @staticmethod
    def _write_with_usage(
        stored: Image, condition: Any, owner: str | None, moves: Mapping[str, int], limits: Mapping[str, int], *,
        new: bool, actions: list[Any] | None = None, tags: TagChanges | None = None,
    ) -> None:
        """The image write (a full put, or ``actions`` as an update), the counters and the tag rows, in one
        transaction; tag-row deletes beyond DynamoDB's 100 items follow it (dynamo_tags).

        A counter with a configured limit moves in the project's own item, conditioned on the limit when
        it grows (every write of such a counter meets there: the price of an exact limit). Every other
        counter moves in one of the project's shards, chosen by the image id, so writes of different
        images rarely meet in a transaction (DynamoDB cancels transactions that touch one item at once).
        """
        moves = moves if owner else {}
        tags = tags or TagChanges([], [])
        caps = usage.enforced(limits, moves)
        for name, limit in caps.items():
            if moves[name] > limit:
                raise QuotaExceeded(what=usage.COUNTERS[name], limit=limit)
        within = None
        for name, limit in caps.items():
            attr = getattr(UsageRecord, name)
            check = attr.does_not_exist() | (attr <= limit - moves[name])
            within = check if within is None else within & check
        limited = [getattr(UsageRecord, n).add(m) for n, m in moves.items() if limits.get(n, -1) >= 0]
        sharded = [getattr(UsageRecord, n).add(m) for n, m in moves.items() if limits.get(n, -1) < 0]

        def refused(failed: tuple[int, ...]) -> DomainError:
            """Item 0 is the image (its own condition); the project's own item carries the limits."""
            if 0 in failed or owner is None:
                return Duplicate(image_id=stored.id) if new else ConcurrentUpdate(image_id=stored.id)
            name = next(iter(caps))
            if len(caps) > 1:  # name the counter that is actually over
                used = DynamoImageRepository().usage(owner)
                name = next((n for n, lim in caps.items() if used[n] + moves[n] > lim), name)
            return QuotaExceeded(what=usage.COUNTERS[name], limit=caps[name])

        connection = ImageRecord._get_connection().connection  # noqa: SLF001 - the model's own connection
        with translated(WHAT, on_condition=refused), TransactWrite(connection=connection) as tx:
            if actions is None:
                tx.save(_to_record(stored), condition=condition)
            else:
                tx.update(ImageRecord(stored.id), actions=actions, condition=condition)
            if owner and limited:
                tx.update(UsageRecord(owner), actions=limited, condition=within)
            if owner and sharded:
                tx.update(UsageRecord(shard_key(owner, stored.id)), actions=sharded)
            for row in tags.puts:
                tx.save(row)
            room = _TRANSACTION_ITEMS - 1 - bool(owner and limited) - bool(owner and sharded) - len(tags.puts)
            for row in tags.deletes[:room]:
                tx.delete(row)
        dynamo_tags.delete_rest(tags.deletes[room:], WHAT)

    def key_cursors(self, source: Source, scan: Scan, marker: Image | None) -> list[KeyCursor]:
        """One cursor per key range on ``<source.kind>-<scan.key>``, in the source's (hidden or not) partition,
        or that partition's tag rows for a tag scan."""
        index = getattr(ImageRecord, f"idx_{source.kind}_{scan.key}")
        ImageRecord._get_connection().connection.client  # noqa: B018, SLF001 - build the client before cursors run in threads
        where = partition(scan.hidden, source.value)
        if scan.tag is not None:  # the tag's rows among the same partition's images (same index, same order)
            where = tag_partition(scan.tag, where)
        return [IndexCursor(index, ImageRecord, where, scan, r, "id", "The image listing", image_of=dynamo_tags.image_of)
                for r in listing_keys.ranges_after(scan, marker)]

    def get_many(self, image_ids: list[str]) -> dict[str, Image]:
        """BatchGetItem in chunks of 100 (PynamoDB retries unprocessed keys); missing images are left out."""
        found: dict[str, Image] = {}
        wanted = [i for i in dict.fromkeys(image_ids) if _storable_key(i)]
        for start in range(0, len(wanted), _BATCH):
            batch = ImageRecord.batch_get(wanted[start:start + _BATCH])
            found.update((r.id, _to_domain(r)) for r in translated_iter(batch, "The image listing"))
        return found

    def iter_pending_delete(self, deleted_before: datetime) -> Iterator[Image]:
        """pending_delete images whose deletion is older than ``deleted_before`` (one Query, paged lazily)."""
        index = ImageRecord.idx_pending_delete
        records = index.query(PENDING, range_key_condition=ImageRecord.pd_at < enc(deleted_before))
        return (_to_domain(r) for r in translated_iter(records, "The pending-delete listing"))

