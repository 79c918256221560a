"""Index keys of a listing: the encoded range values, the scan a query needs, and its key ranges.

Pure, so the DynamoDB adapter and the in-memory fake read the same keys the
same way. Each sortable key ``k`` has a range value ``s_<k>`` = enc(value)
SEP enc(created_at) SEP id, whose string order is Glance's order with its
tie-breakers. A filter on ``k`` is then a key range on ``k``'s index: an exact
value is every key starting with enc(value) SEP, already in (created_at, id)
order; ``size_min``/``size_max`` and the date filters are ranges of values.
Whatever a scan does not narrow is judged on the fetched images
(``listing.matches``), so a scan only ever prunes.

A tag filter under a created_at order reads tag rows: one per (listed image,
tag), in partitions ``tag_partition(tag, <the image's partition>)`` (``t#``,
never a plain listing partition), sorted by the image's ``s_created_at``.
``tag_rows`` says which rows an image has; stores keep exactly those.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from chalicelib.domain import listing
from chalicelib.domain.errors import QuotaExceeded
from chalicelib.domain.images import Image
from chalicelib.domain.listing import Filters, Order

SEP = "\x00"  # sorts below every character an encoded value can hold
_AFTER = "\x01"  # enc(v) + _AFTER sorts after every key whose value is v, and before the next value's
# Order-preserving escape so that no encoded value contains the separator.
_ESCAPES = str.maketrans({"\x00": "\x01\x01", "\x01": "\x01\x02"})
# Exact filters an index can serve, most selective first.
EXACT_KEYS = ("id", "name", "status", "disk_format", "container_format")
TAG_SORT = "created_at"  # the one order tag rows are kept in; other orders with a tag filter use the budget
# Tag rows one image write may put: with the image and two usage items it stays within
# DynamoDB's 100 items per transaction; a write that would put more is refused (QuotaExceeded).
MAX_TAG_ROWS = 96
# Image fields tag rows derive from (status: whether it is listed). A write changing one of them must find
# all of them as it read them, or its rows would follow a stale copy.
TAG_ROW_FIELDS = frozenset({"tags", "owner", "visibility", "os_hidden", "created_at", "status"})


def enc(value: Any) -> str:
    """Encode a sort value so that string order is Glance's order (None lowest)."""
    if value is None:
        return "0"
    if isinstance(value, datetime):
        return "1" + value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    if isinstance(value, int):
        return "1" + f"{value:020d}"
    return "1" + str(value).translate(_ESCAPES)


def sort_range(image: Image, key: str) -> str:
    """The ``s_<key>`` index range value: the key, then the created_at and id tie-breakers."""
    return SEP.join((enc(listing.sort_value(image, key)), enc(image.created_at), image.id))


def tail(image: Image) -> str:
    """The tie-breaker part of every range value: enc(created_at) SEP id."""
    return SEP.join((enc(image.created_at), image.id))


def partition(hidden: bool, value: str) -> str:
    """A listing partition: os_hidden images sit apart, so the default (not hidden) listing never reads them."""
    return ("h#" if hidden else "s#") + value


def tag_partition(tag: str, listing_partition: str) -> str:
    """The partition of ``tag``'s rows among a listing partition's images (the length keeps it unambiguous)."""
    return f"t#{len(tag)}#{tag}#{listing_partition}"


@dataclass(frozen=True)
class TagRow:
    """One tag row's index values: the tagged owner and visibility partitions, and the created_at range value."""

    lo: str | None
    lv: str
    sort: str


def tag_rows(image: Image) -> dict[str, TagRow]:
    """The tag rows ``image`` has, by tag: one per tag while it is listed, none otherwise."""
    if not image.listed:
        return {}
    owner = partition(image.os_hidden, image.owner) if image.owner else None
    visibility = partition(image.os_hidden, image.visibility)
    sort = sort_range(image, TAG_SORT)
    return {tag: TagRow(tag_partition(tag, owner) if owner else None, tag_partition(tag, visibility), sort)
            for tag in image.tags}


def tag_writes(old: Image | None, new: Image) -> tuple[dict[str, TagRow], list[str]]:
    """The rows a write from ``old`` to ``new`` must put (new or changed) and the tags whose rows it must delete;
    raises QuotaExceeded past MAX_TAG_ROWS puts."""
    before = tag_rows(old) if old is not None else {}
    after = tag_rows(new)
    puts = {tag: row for tag, row in after.items() if before.get(tag) != row}
    if len(puts) > MAX_TAG_ROWS:
        raise QuotaExceeded(what="tags indexed by one image change", limit=MAX_TAG_ROWS)
    return puts, sorted(set(before) - set(after))


@dataclass(frozen=True)
class KeyRange:
    """An inclusive range of ``s_<key>`` values (None: open); ``skip`` is the marker's own key."""

    lo: str | None = None
    hi: str | None = None
    skip: str | None = None

    def admits(self, key: str) -> bool:
        """Whether ``key`` lies in the range and is not the skipped marker key."""
        if key == self.skip:
            return False
        return (self.lo is None or key >= self.lo) and (self.hi is None or key <= self.hi)

    @property
    def empty(self) -> bool:
        return self.lo is not None and self.hi is not None and self.lo > self.hi


@dataclass(frozen=True)
class Scan:
    """How one page is read: the index key, its direction, the value ranges, and how rows compare.

    ``tail``: rows compare by their tie-breakers only (an exact filter on ``key``
    under a created_at order: every range holds one value). ``grouped``: the
    order has secondary keys the index does not hold, so rows come in runs of
    equal primary value that are sorted once fetched.
    """

    key: str
    desc: bool
    ranges: tuple[KeyRange, ...] = (KeyRange(),)
    tail: bool = False
    grouped: bool = False
    hidden: bool = False
    whole: bool = False  # the rows are few (one per id asked for): fetch them all, sort them once
    tag: str | None = None  # read this tag's rows (key is TAG_SORT) instead of the plain listing partitions

    @property
    def narrowed(self) -> bool:
        """True when the ranges restrict the index (some filter is served by it)."""
        return self.ranges != (KeyRange(),)

    def compare_key(self, sort: str) -> str:
        """The part of a range value that orders rows across the scan's ranges."""
        return sort.split(SEP, 1)[1] if self.tail else sort

    def group_key(self, sort: str) -> str:
        """The encoded primary value of a range value (a run of equal values shares it)."""
        return "" if self.whole else sort.split(SEP, 1)[0]


def _exact_range(key: str, value: str) -> KeyRange:
    encoded = enc(listing.sort_value_of(key, value))
    return KeyRange(encoded + SEP, encoded + _AFTER)


def _value_range(filters: Filters, key: str) -> KeyRange | None:
    """The range of values a size or date filter allows on ``key`` (None: no such filter)."""
    if key == "size" and (filters.size_min is not None or filters.size_max is not None):
        least = enc(filters.size_min) if filters.size_min is not None else "1"  # "1": any size but None
        return KeyRange(least, enc(filters.size_max) + _AFTER if filters.size_max is not None else None)
    bounds = [(op, when) for k, op, when in filters.dates if k == key and op != "neq"]
    if not bounds:
        return None
    lo: str | None = None
    hi: str | None = None
    for op, when in bounds:
        # Glance compares at second precision: [T, T+1s) is "equal to T".
        second = when.astimezone(timezone.utc).replace(microsecond=0)
        low = {"gt": second + timedelta(seconds=1), "gte": second, "eq": second}.get(op)
        high = {"lt": second, "lte": second + timedelta(seconds=1), "eq": second + timedelta(seconds=1)}.get(op)
        if low is not None:
            lo = max(lo, enc(low)) if lo is not None else enc(low)
        if high is not None:
            hi = min(hi, enc(high)) if hi is not None else enc(high)
    return KeyRange(lo, hi)


def _constraint(filters: Filters, key: str) -> tuple[KeyRange, ...] | None:
    if key in EXACT_KEYS and key in filters.exact:
        return tuple(_exact_range(key, v) for v in sorted(filters.exact[key]))
    found = _value_range(filters, key)
    return None if found is None else (found,)


def _rest_is_tie_breakers(order: Order, key: str) -> bool | None:
    """The direction of the created_at/id tie-breakers when ``order`` without ``key`` is only them."""
    rest = [pair for pair in order.keys if pair[0] != key]
    if [k for k, _ in rest] != list(listing.TIE_BREAKERS) or rest[0][1] != rest[1][1]:
        return None
    return rest[0][1]


def plan(order: Order, filters: Filters) -> Scan:
    """The scan for a query: the order's index narrowed by its own filter, else an exact filter's index.

    An exact filter on another key is served by that key's index only when the
    order is then decided by the tie-breakers alone; otherwise it is judged on
    the fetched images (within the page's read budget).
    """
    key, desc = order.primary
    if "id" in filters.exact:  # at most one row per id asked for, whatever the order
        return Scan("id", desc, _constraint(filters, "id") or (), tail=True, grouped=True, hidden=filters.os_hidden,
                    whole=True)
    grouped = not order.index_ordered
    # A tag filter under created_at reads one tag's rows (the least, for a stable choice); the other tags
    # and every other filter are judged on the fetched images.
    tag = min(filters.tags) if filters.tags and key == TAG_SORT else None
    own = _constraint(filters, key)
    if own is not None:
        return Scan(key, desc, own, grouped=grouped, hidden=filters.os_hidden, tag=tag)
    for other in EXACT_KEYS[1:]:
        ranges = _constraint(filters, other) if other in filters.exact else None
        direction = _rest_is_tie_breakers(order, other) if ranges is not None else None
        if ranges is not None and direction is not None:
            return Scan(other, direction, ranges, tail=True, hidden=filters.os_hidden)
    return Scan(key, desc, grouped=grouped, hidden=filters.os_hidden, tag=tag)


def ranges_after(scan: Scan, marker: Image | None) -> list[KeyRange]:
    """The scan's ranges restarted strictly after ``marker`` (empty ranges dropped)."""
    found = []
    for r in scan.ranges:
        restarted = _restart(scan, r, marker) if marker is not None else r
        if not restarted.empty:
            found.append(restarted)
    return found


def _restart(scan: Scan, r: KeyRange, marker: Image) -> KeyRange:
    if scan.grouped:
        # Secondary keys are sorted once fetched: restart at the marker's run of equal values.
        value = enc(listing.sort_value(marker, scan.key))
        if scan.desc:
            return KeyRange(r.lo, _min(r.hi, value + _AFTER))
        return KeyRange(_max(r.lo, value), r.hi)
    if scan.tail:
        # Same tie-breakers, this range's value: the marker's place within the range.
        bound = (r.lo or "") + tail(marker)
    else:
        bound = sort_range(marker, scan.key)
    if scan.desc:
        return KeyRange(r.lo, _min(r.hi, bound), skip=bound)
    return KeyRange(_max(r.lo, bound), r.hi, skip=bound)


def _min(a: str | None, b: str) -> str:
    return b if a is None else min(a, b)


def _max(a: str | None, b: str) -> str:
    return b if a is None else max(a, b)


@dataclass(frozen=True)
class KeyRow:
    """One index row: the range value it sorts by and the image it names."""

    sort: str
    image_id: str


def ordered_rows(rows: Iterable[KeyRow], scan: Scan, ranges: Iterable[KeyRange]) -> list[list[KeyRow]]:
    """For stores without indexes: per range, the rows it admits in scan order."""
    rows = list(rows)
    return [sorted((row for row in rows if r.admits(row.sort)), key=lambda row: row.sort, reverse=scan.desc)
            for r in ranges]
