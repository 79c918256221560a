"""Listing: sort orders, filters and the sources a caller's page is merged from (reference 4).

Everything here is pure so the in-memory fake and the DynamoDB adapter share
one definition of order and of what a filter matches.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Iterator, Literal, Mapping

from chalicelib.domain.context import RequestContext
from chalicelib.domain.images import Image

SORT_KEYS = ("name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at")
TIE_BREAKERS = ("created_at", "id")
MEMBER_STATUSES = ("pending", "accepted", "rejected", "all")
DATE_OPS = ("gt", "gte", "lt", "lte", "eq", "neq")
# v1's ``is_public=false``: every visibility but public. Not a v2 filter value (its deserializer refuses it).
NOT_PUBLIC = "not-public"
# Names sort by their first bytes only, so an index key (1024 bytes in DynamoDB) can hold them;
# only names longer than this that share this prefix order by created_at/id instead.
SORT_PREFIX_BYTES = 400


@dataclass(frozen=True)
class Order:
    """Sort keys with their directions (True = descending), tie-breakers included."""

    keys: tuple[tuple[str, bool], ...]

    @classmethod
    def build(cls, keys: list[str], dirs: list[bool], default_desc: bool) -> "Order":
        """Append Glance's created_at/id tie-breakers in the default direction."""
        pairs = list(zip(keys, dirs))
        for key in TIE_BREAKERS:
            if key not in keys:
                pairs.append((key, default_desc))
        return cls(tuple(pairs))

    @property
    def primary(self) -> tuple[str, bool]:
        return self.keys[0]

    @property
    def index_ordered(self) -> bool:
        """True when an index on the primary key (ties by created_at, id) already gives this order."""
        key, desc = self.primary
        rest = tuple(k for k in self.keys[1:] if k[0] != key)
        return rest == tuple((k, desc) for k in TIE_BREAKERS if k != key)


DEFAULT_ORDER = Order.build([], [], True)


class _Key:
    """One sort value; None sorts lowest; ``desc`` reverses the comparison."""

    __slots__ = ("value", "desc")

    def __init__(self, value: Any, desc: bool) -> None:
        self.value = value
        self.desc = desc

    def _lt(self, a: Any, b: Any) -> bool:
        if a is None or b is None:
            return a is None and b is not None
        return bool(a < b)

    def __lt__(self, other: "_Key") -> bool:
        if self.desc:
            return self._lt(other.value, self.value)
        return self._lt(self.value, other.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)


def sort_value(image: Image, key: str) -> Any:
    """The value an image sorts by for ``key`` (status enums by their wire value, names by their prefix)."""
    value = getattr(image, key)
    return sort_value_of(key, value.value if key == "status" else value)


def sort_value_of(key: str, value: Any) -> Any:
    """The sort value of a raw ``key`` value (a stored one or a filter's): names by their prefix."""
    if key == "name" and value is not None and len(value) > SORT_PREFIX_BYTES // 4:
        return value.encode("utf-8")[:SORT_PREFIX_BYTES].decode("utf-8", "ignore")
    return value


def order_key(image: Image, order: Order) -> tuple[_Key, ...]:
    """A tuple that compares images in ``order``."""
    return tuple(_Key(sort_value(image, key), desc) for key, desc in order.keys)


def after(images: Iterable[Image], order: Order, marker: Image | None) -> Iterator[Image]:
    """Drop images that do not come strictly after ``marker`` in ``order``."""
    if marker is None:
        yield from images
        return
    bound = order_key(marker, order)
    for image in images:
        if bound < order_key(image, order):
            yield image


def regroup(images: Iterable[Image], order: Order) -> Iterator[Image]:
    """Re-sort a stream already ordered by the primary key into the full ``order``.

    Only runs of equal primary values are buffered, so reads stay bounded by
    the page plus one tie group.
    """
    if order.index_ordered:
        yield from images
        return
    primary = order.primary[0]
    for _, group in itertools.groupby(images, key=lambda im: sort_value(im, primary)):
        yield from sorted(group, key=lambda im: order_key(im, order))


@dataclass(frozen=True)
class Source:
    """One partition a page is read from: an owner's images, a visibility, or shares to a project."""

    kind: Literal["owner", "visibility", "member"]
    value: str
    member_status: str = "accepted"


@dataclass(frozen=True)
class Filters:
    """Parsed listing filters; exact-match sets hold the ``in:`` alternatives."""

    exact: Mapping[str, frozenset[str]] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    size_min: int | None = None
    size_max: int | None = None
    protected: bool | None = None
    os_hidden: bool = False
    dates: tuple[tuple[str, str, datetime], ...] = ()
    visibility: str | None = None
    member_status: str = "accepted"


def _exact_value(image: Image, key: str) -> str | None:
    if hasattr(image, key) and key not in ("extra_properties", "tags", "version", "listed"):
        value = getattr(image, key)
        value = value.value if key == "status" else value
        return None if value is None else str(value)
    return image.extra_properties.get(key)


_DATE_TESTS = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
}


def matches(image: Image, filters: Filters) -> bool:
    """True when ``image`` passes every filter (visibility is handled by ``listable``)."""
    for key, wanted in filters.exact.items():
        if _exact_value(image, key) not in wanted:
            return False
    if not filters.tags <= image.tags:
        return False
    if filters.size_min is not None and (image.size is None or image.size < filters.size_min):
        return False
    if filters.size_max is not None and (image.size is None or image.size > filters.size_max):
        return False
    if filters.protected is not None and image.protected != filters.protected:
        return False
    if image.os_hidden != filters.os_hidden:
        return False
    for key, op, when in filters.dates:
        # Glance compares at second precision, as timestamps are shown.
        if not _DATE_TESTS[op](getattr(image, key).replace(microsecond=0), when.replace(microsecond=0)):
            return False
    return True


def listable(image: Image, ctx: RequestContext, visibility: str | None) -> bool:
    """Whether a listing may show ``image`` to ``ctx`` under the visibility filter (reference 4, 7.1)."""
    if not image.listed:
        return False
    mine = ctx.project_id is not None and image.owner == ctx.project_id
    if visibility == NOT_PUBLIC:
        if image.visibility == "public":
            return False
    elif visibility not in (None, "all") and image.visibility != visibility:
        return False
    if visibility is None and image.visibility == "community" and not mine:
        return False
    if ctx.is_admin or mine:
        return True
    # Sources only offer others' images that are public, community or shared to us;
    # a share whose image went private no longer grants access.
    return image.visibility in ("public", "community", "shared")


def sources_for(ctx: RequestContext, visibility: str | None, member_status: str) -> list[Source]:
    """The partitions whose union holds every image ``ctx`` may list under ``visibility``."""
    project = ctx.project_id
    own = [Source("owner", project)] if project else []
    shared = [Source("member", project, member_status)] if project else []
    if ctx.is_admin:
        everything = [Source("visibility", v) for v in ("public", "private", "shared", "community")]
        if visibility == "all":
            return everything
        if visibility == NOT_PUBLIC:
            return everything[1:]
        if visibility is not None:
            return [Source("visibility", visibility)]
        return everything[:3] + own
    by_filter: dict[str | None, list[Source]] = {
        None: own + [Source("visibility", "public")] + shared,
        "public": [Source("visibility", "public")],
        "community": [Source("visibility", "community")],
        "private": own,
        "shared": own + shared,
        "all": own + [Source("visibility", "public"), Source("visibility", "community")] + shared,
        NOT_PUBLIC: own + shared,
    }
    return by_filter[visibility]


def in_source(image: Image, source: Source, member_status_of: Mapping[str, str] | None = None) -> bool:
    """Whether ``image`` belongs to ``source`` (for stores that filter rather than index)."""
    if not image.listed:
        return False
    if source.kind == "owner":
        return image.owner == source.value
    if source.kind == "visibility":
        return image.visibility == source.value
    status = (member_status_of or {}).get(image.id)
    return status is not None and source.member_status in ("all", status)
