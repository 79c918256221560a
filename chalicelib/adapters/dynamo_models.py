"""PynamoDB models: the persistence shape only, and the one source of table definitions.

Listing indexes are sparse: ``lo`` (listing owner) and ``lv`` (listing
visibility) exist only while an image may be listed, so deleted and killed
images drop out of every index; both start with ``s#`` or ``h#`` (os_hidden),
so a default listing never reads hidden images. Each sortable key ``k`` has a
range attribute ``s_<k>`` = encoded value, created_at and id, which gives
Glance's order with its tie-breakers, and two indexes: ``owner-<k>`` and
``visibility-<k>``.

The listing indexes are KEYS_ONLY: a page is a Query of keys per source and
one BatchGet of the page's images. An entry is then ~100 bytes (1 write unit)
and is written only when its own key changes (delete + put: 2 units): a
property PATCH rewrites the two ``*-updated_at`` entries (4 units), a rename
also the two ``*-name`` entries (8), whatever the item's size.

Tag rows (TagRowRecord) share the images table: one per (listed image, tag),
id ``<image id>\x1ftag\x1f<tag>`` (image ids are UUIDs), holding only index
attributes: ``lo``/``lv`` in the tag's partitions (domain.listing_keys.
tag_partition, never a plain listing partition) and ``s_created_at``, so the
``*-created_at`` indexes serve a tag filter. They have no ``status``, no other
``s_<key>`` and no ``pd``: no other index and no image read sees them.
"""
from __future__ import annotations

from typing import Any, TypeVar

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.domain.listing import SORT_KEYS

BILLING_MODE = "PAY_PER_REQUEST"
_M = TypeVar("_M", bound=Model)
INDEX_FAMILIES = {"owner": "lo", "visibility": "lv"}


def index_name(family: str, key: str) -> str:
    """Name of the GSI that lists ``family`` partitions ordered by ``key``."""
    return f"{family}-{key}"


def _index(family: str, hash_attr: str, key: str) -> GlobalSecondaryIndex[Any]:
    meta = type("Meta", (), {"index_name": index_name(family, key), "projection": KeysOnlyProjection()})
    attrs = {
        "Meta": meta,
        hash_attr: UnicodeAttribute(hash_key=True),
        f"s_{key}": UnicodeAttribute(range_key=True),
    }
    cls = type(f"{family.title()}{key.title().replace('_', '')}Index", (GlobalSecondaryIndex,), attrs)
    index: GlobalSecondaryIndex[Any] = cls()
    return index


def _image_attributes() -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "id": UnicodeAttribute(hash_key=True),
        "status": UnicodeAttribute(),
        "name": UnicodeAttribute(null=True),
        "visibility": UnicodeAttribute(),
        "owner": UnicodeAttribute(null=True),
        "protected": BooleanAttribute(default=False),
        "os_hidden": BooleanAttribute(default=False),
        "container_format": UnicodeAttribute(null=True),
        "disk_format": UnicodeAttribute(null=True),
        "min_disk": NumberAttribute(default=0),
        "min_ram": NumberAttribute(default=0),
        "size": NumberAttribute(null=True),
        "virtual_size": NumberAttribute(null=True),
        "checksum": UnicodeAttribute(null=True),
        "os_hash_algo": UnicodeAttribute(null=True),
        "os_hash_value": UnicodeAttribute(null=True),
        "tags": UnicodeSetAttribute(null=True),
        # PynamoDB leaves MapAttribute.__init__ unannotated.
        "properties": MapAttribute(null=True),  # type: ignore[no-untyped-call]  # see above
        # The service's own os_glance* properties (the import lock): apart, so that status moves can be
        # conditioned on them without conflicting with users' property edits.
        "service_props": MapAttribute(null=True),  # type: ignore[no-untyped-call]  # see above
        # [{"url": ..., "metadata": {...}}]: JSON keeps location metadata exactly as given.
        "locations": JSONAttribute(null=True),
        "created_at": UTCDateTimeAttribute(),
        "updated_at": UTCDateTimeAttribute(),
        "version": NumberAttribute(default=0),
        # The token of the upload or stage holding a saving/uploading image (domain Image.holder).
        "holder": UnicodeAttribute(null=True),
        "lo": UnicodeAttribute(null=True),
        "lv": UnicodeAttribute(null=True),
        "pd": UnicodeAttribute(null=True),
        "pd_at": UnicodeAttribute(null=True),
        "idx_pending_delete": PendingDeleteIndex(),
    }
    for key in SORT_KEYS:
        attrs[f"s_{key}"] = UnicodeAttribute(null=True)
        for family, hash_attr in INDEX_FAMILIES.items():
            attrs[f"idx_{family}_{key}"] = _index(family, hash_attr, key)
    return attrs


class _Index(GlobalSecondaryIndex[_M]):  # type: ignore[no-untyped-call]  # PynamoDB's __init_subclass__ is unannotated
    """A GlobalSecondaryIndex whose ``__init_subclass__`` is annotated, so the index classes below type-check."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)  # type: ignore[no-untyped-call]  # as above


class PendingDeleteIndex(_Index[Any]):
    """Sparse: only pending_delete images, oldest deletion first, for the scrubber."""

    class Meta:
        index_name = "pending-delete"
        projection = AllProjection()

    pd = UnicodeAttribute(hash_key=True)
    pd_at = UnicodeAttribute(range_key=True)


class _ImageMeta:
    table_name = "images"
    billing_mode = BILLING_MODE


# Any: the class is assembled from generated attributes, which mypy cannot see.
ImageRecord: Any = type("ImageRecord", (Model,), {"Meta": _ImageMeta, **_image_attributes()})
ImageRecord.__doc__ = "One image's metadata, plus its sparse listing-index attributes."


class TagRowRecord(Model):
    """One (image, tag) pair's listing keys, an item of the images table (see the module docstring)."""

    class Meta:
        table_name = "images"
        billing_mode = BILLING_MODE

    id = UnicodeAttribute(hash_key=True)
    image_id = UnicodeAttribute()
    lo = UnicodeAttribute(null=True)
    lv = UnicodeAttribute()
    s_created_at = UnicodeAttribute()


class MemberIndex(_Index[Any]):
    """Shares to a project: member_id, then status#image_id."""

    class Meta:
        index_name = "member-status"
        projection = AllProjection()

    member_id = UnicodeAttribute(hash_key=True)
    status_image = UnicodeAttribute(range_key=True)


def _member_listing_index(key: str) -> GlobalSecondaryIndex[Any]:
    """``shared-<key>``: partition ``lm`` = status#member_id, range = the image's ``s_<key>``.

    Keys only: a page of rows names the images to BatchGet, in order.
    """
    meta = type("Meta", (), {"index_name": index_name("shared", key), "projection": KeysOnlyProjection()})
    attrs = {"Meta": meta, "lm": UnicodeAttribute(hash_key=True), f"s_{key}": UnicodeAttribute(range_key=True)}
    cls = type(f"Shared{key.title().replace('_', '')}Index", (GlobalSecondaryIndex,), attrs)
    index: GlobalSecondaryIndex[Any] = cls()
    return index


def _member_attributes() -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "image_id": UnicodeAttribute(hash_key=True),
        "member_id": UnicodeAttribute(range_key=True),
        "status": UnicodeAttribute(),
        "status_image": UnicodeAttribute(),
        "created_at": UTCDateTimeAttribute(),
        "updated_at": UTCDateTimeAttribute(),
        "by_member": MemberIndex(),
        # Denormalised from the image so "shared with me" pages are O(limit): present only
        # while the image is listed and shared; ``iv`` is the image version they were copied at.
        "lm": UnicodeAttribute(null=True),
        "iv": NumberAttribute(null=True),
    }
    for key in SORT_KEYS:
        attrs[f"s_{key}"] = UnicodeAttribute(null=True)
        attrs[f"idx_shared_{key}"] = _member_listing_index(key)
    return attrs


class _MemberMeta:
    table_name = "image-members"
    billing_mode = BILLING_MODE


class MemberTagRowRecord(Model):
    """One (membership, tag) pair's "shared with me" keys, an item of the members table.

    Range key ``<member_id>\x1ftag\x1f<tag>``; ``lm`` is the tag's partition of the
    membership's (listing_keys.tag_partition), ``s_created_at`` and ``iv`` as on the
    membership row. No ``status_image`` and no other ``s_<key>``: only ``shared-created_at`` holds it.
    """

    class Meta:
        table_name = "image-members"
        billing_mode = BILLING_MODE

    image_id = UnicodeAttribute(hash_key=True)
    member_id = UnicodeAttribute(range_key=True)
    lm = UnicodeAttribute()
    s_created_at = UnicodeAttribute()
    iv = NumberAttribute(null=True)


# Any: as ImageRecord, assembled from generated attributes.
MemberRecord: Any = type("MemberRecord", (Model,), {"Meta": _MemberMeta, **_member_attributes()})
MemberRecord.__doc__ = "One project's membership of one image, with the image's listing sort values."


class UsageRecord(Model):
    """Per-project usage counters (domain.usage.COUNTERS), moved in the image writes' transactions."""

    class Meta:
        table_name = "image-usage"
        billing_mode = BILLING_MODE

    project_id = UnicodeAttribute(hash_key=True)
    image_bytes = NumberAttribute(default=0)
    image_count = NumberAttribute(null=True)
    uploading_count = NumberAttribute(null=True)
    staged_bytes = NumberAttribute(null=True)


class NamespaceIndex(_Index["MetadefRecord"]):
    """Sparse: only namespace rows (``kind`` = "namespace"), by name, so listing never Scans."""

    class Meta:
        index_name = "namespaces"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)
    ns = UnicodeAttribute(range_key=True)


class MetadefRecord(Model):
    """One metadefs document: a namespace row, or one of its properties, objects or tags; or a resource type.

    Partition ``ns`` is ``ns:<namespace>`` (``rt`` for resource types); ``item`` is ``<kind>#<name>``.
    """

    class Meta:
        table_name = "metadefs"
        billing_mode = BILLING_MODE

    ns = UnicodeAttribute(hash_key=True)
    item = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute(null=True)
    doc = UnicodeAttribute()
    by_kind = NamespaceIndex()


class TaskOwnerIndex(_Index["TaskRecord"]):
    """A project's tasks by created_at, then id (sparse: tasks without an owner are not in it)."""

    class Meta:
        index_name = "owner-created_at"
        projection = AllProjection()

    owner = UnicodeAttribute(hash_key=True)
    s_created = UnicodeAttribute(range_key=True)


class TaskAllIndex(_Index["TaskRecord"]):
    """Every task under one constant partition, by created_at then id: the admin listing as a Query.

    Trade-off: one GSI partition takes every task write (about 1,000 writes/s and
    10 GB per partition before DynamoDB throttles or splits it). Tasks are a
    deprecated, low-rate API plus one row per import, far below that; if it ever
    is not, shard ``everyone`` into N suffixes and merge the N Queries.
    """

    class Meta:
        index_name = "all-created_at"
        projection = AllProjection()

    everyone = UnicodeAttribute(hash_key=True)
    s_created = UnicodeAttribute(range_key=True)


class TaskOwnerStatusIndex(_Index["TaskRecord"]):
    """A project's tasks by status, then created_at and id (glanceclient's task-list sorts by status)."""

    class Meta:
        index_name = "owner-status"
        projection = AllProjection()

    owner = UnicodeAttribute(hash_key=True)
    s_status = UnicodeAttribute(range_key=True)


class TaskAllStatusIndex(_Index["TaskRecord"]):
    """Every task by status, then created_at and id: the admin listing sorted by status (see TaskAllIndex)."""

    class Meta:
        index_name = "all-status"
        projection = AllProjection()

    everyone = UnicodeAttribute(hash_key=True)
    s_status = UnicodeAttribute(range_key=True)


class TaskImageIndex(_Index["TaskRecord"]):
    """An image's tasks (sparse: only tasks with an image_id), oldest first."""

    class Meta:
        index_name = "image-created_at"
        projection = AllProjection()

    image_id = UnicodeAttribute(hash_key=True)
    s_created = UnicodeAttribute(range_key=True)


class TaskRecord(Model):
    """One task. ``ttl`` mirrors expires_at so DynamoDB deletes finished tasks (lazily: reads still filter)."""

    class Meta:
        table_name = "tasks"
        billing_mode = BILLING_MODE

    id = UnicodeAttribute(hash_key=True)
    type = UnicodeAttribute()
    status = UnicodeAttribute()
    owner = UnicodeAttribute(null=True)
    input = JSONAttribute(null=True)
    result = JSONAttribute(null=True)
    message = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute(null=True)
    image_id = UnicodeAttribute(null=True)
    request_id = UnicodeAttribute(null=True)
    user_id = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)
    ttl = TTLAttribute(null=True)
    everyone = UnicodeAttribute()
    s_created = UnicodeAttribute()
    s_status = UnicodeAttribute()
    by_owner = TaskOwnerIndex()
    by_everyone = TaskAllIndex()
    by_owner_status = TaskOwnerStatusIndex()
    by_everyone_status = TaskAllStatusIndex()
    by_image = TaskImageIndex()


TABLE_MODELS: dict[str, type[Model]] = {
    "images": ImageRecord, "members": MemberRecord, "usage": UsageRecord, "metadefs": MetadefRecord,
    "tasks": TaskRecord,
}
# Models of items kept in another model's table (not tables of their own), by role.
SHARED_TABLE_MODELS: tuple[tuple[str, type[Model]], ...] = (("images", TagRowRecord), ("members", MemberTagRowRecord))


def configure(table_names: dict[str, str], region: str, host: str | None) -> None:
    """Point every model at its table; call once before first use (never at import)."""
    for role, model in [*TABLE_MODELS.items(), *SHARED_TABLE_MODELS]:
        model.Meta.table_name = table_names[role]
        model.Meta.region = region
        model.Meta.host = host
        # PynamoDB rebinds its cached connection only when the table name changes;
        # a new endpoint or region under the same name needs a fresh one.
        model._connection = None  # noqa: SLF001


def table_schema(model: type[Model]) -> dict[str, Any]:
    """The CreateTable shape (keys, attribute definitions, GSIs) of ``model``: one source for runner and CDK."""
    # A plain dict: PynamoDB's ModelSchema TypedDict omits key_schema, which it does return.
    schema: dict[str, Any] = dict(model._get_schema())  # noqa: SLF001 - PynamoDB's public-in-practice schema hook
    # DynamoDB wants the HASH key first; PynamoDB lists keys in attribute order.
    for keyed in [schema, *schema.get("global_secondary_indexes", []), *schema.get("local_secondary_indexes", [])]:
        keyed["key_schema"] = sorted(keyed["key_schema"], key=lambda k: k["KeyType"] != "HASH")
    return schema


def ttl_attribute(model: type[Model]) -> str | None:
    """The stored name of the model's TTLAttribute, if it has one (DynamoDB TTL goes on it)."""
    names = [a.attr_name for a in model.get_attributes().values() if isinstance(a, TTLAttribute)]
    if len(names) > 1:
        raise ValueError(f"{model.__name__} has more than one TTLAttribute: {names}")
    return names[0] if names else None
