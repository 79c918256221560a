"""Pure property, format and key rules of Glance's image API (reference 3.1-3.3)."""
from __future__ import annotations

import re
from typing import Iterable, Mapping

from chalicelib.domain.errors import InvalidInput, QuotaExceeded, ReadonlyProperty, ReservedProperty

# Deserializer _check_allowed: forbidden in a create body (403).
CREATE_FORBIDDEN = frozenset({"direct_url", "self", "file", "schema", "stores"})
# ImageFactory read-only keys (403 on create).
READ_ONLY_ON_CREATE = frozenset(
    {"created_at", "updated_at", "status", "checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size"}
)
# Read-only roots for PATCH (403).
READ_ONLY_ON_PATCH = READ_ONLY_ON_CREATE | frozenset({"direct_url", "self", "file", "schema", "id"})
RESERVED = frozenset({"location", "deleted", "deleted_at"})
# Core attributes: everything else in a body is an extra property.
CORE = frozenset(
    {
        "id", "name", "status", "visibility", "protected", "os_hidden", "owner",
        "container_format", "disk_format", "min_disk", "min_ram", "size", "virtual_size",
        "checksum", "os_hash_algo", "os_hash_value", "tags", "created_at", "updated_at",
        "locations", "direct_url", "self", "file", "schema", "stores",
    }
)
# The presigned multipart upload in progress (domain/multipart.py): the uploader's, never shown.
MULTIPART_UPLOAD = "os_glance_multipart_upload"
# Internal properties Glance never returns.
HIDDEN_PROPERTIES = frozenset({"os_glance_stage_host", "os_glance_hash_op_host", MULTIPART_UPLOAD})
MAX_KEY_LENGTH = 255
MAX_INT = 2**31 - 1
# DynamoDB items hold at most 400 KB; the listing index copies need room too.
MAX_METADATA_BYTES = 256 * 1024


SERVICE_PREFIX = "os_glance"  # properties only the service itself writes (the import lock, import progress)


def is_service_property(key: str) -> bool:
    """True for the ``os_glance*`` properties the service keeps on an image (no caller may set them)."""
    return key.startswith(SERVICE_PREFIX)


def is_reserved(key: str) -> bool:
    """True for keys no caller may set: Glance's reserved list and the os_glance* namespace."""
    return key in RESERVED or is_service_property(key)


def check_create_keys(keys: Iterable[str]) -> None:
    """Raise ReadonlyProperty/ReservedProperty for keys a create body may not carry."""
    for key in keys:
        if key in CREATE_FORBIDDEN or key in READ_ONLY_ON_CREATE:
            raise ReadonlyProperty(name=key)
        if is_reserved(key) or key == "locations":
            raise ReservedProperty(name=key)


def check_patch_key(key: str) -> None:
    """Raise ReadonlyProperty/ReservedProperty when a PATCH touches a protected root key."""
    if key in READ_ONLY_ON_PATCH:
        raise ReadonlyProperty(name=key)
    if is_reserved(key):
        raise ReservedProperty(name=key)


def check_property_keys(keys: Iterable[str]) -> None:
    """Raise InvalidInput for an extra-property key that is empty or too long."""
    for key in keys:
        if not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidInput(detail=f"Property key '{key[:40]}' must be 1 to {MAX_KEY_LENGTH} characters")


def check_quotas(properties: Mapping[str, str | None], tags: Iterable[str], *, property_quota: int, tag_quota: int) -> None:
    """Raise QuotaExceeded when properties or tags exceed their per-image quota (negative = unlimited)."""
    if 0 <= property_quota < len(properties):
        raise QuotaExceeded(what="image properties", limit=property_quota)
    if 0 <= tag_quota < len(list(tags)):
        raise QuotaExceeded(what="image tags", limit=tag_quota)


def require_formats(disk_format: str | None, container_format: str | None) -> None:
    """Raise InvalidInput unless both formats are set (before data may be saved)."""
    for name, value in (("disk_format", disk_format), ("container_format", container_format)):
        if not value:
            raise InvalidInput(f"Property {name} must be set prior to saving data.")


# The image schema's id pattern, matched whole: ``re.search`` with ``$`` would take a trailing newline.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def check_image_id(image_id: object) -> None:
    """Raise InvalidInput unless ``image_id`` is a UUID string: ids name object keys and appear where the schema says UUID."""
    if not isinstance(image_id, str) or _UUID.fullmatch(image_id) is None:
        raise InvalidInput(f"Invalid image id {image_id!r}: an image id must be a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).")


def check_core_values(values: Mapping[str, object]) -> None:
    """Raise InvalidInput for min_disk/min_ram outside 0..2^31-1 (Glance's INT columns) or an empty owner."""
    for key in ("min_disk", "min_ram"):
        value = values.get(key)
        if isinstance(value, int) and value < 0:
            raise InvalidInput(f"Cannot set {key} to a negative value")
        if isinstance(value, int) and value > MAX_INT:
            raise InvalidInput(f"{key} must be at most {MAX_INT}")
    if values.get("owner", None) == "":
        raise InvalidInput("owner must not be an empty string")


def check_metadata_size(name: str | None, properties: Mapping[str, str | None], tags: Iterable[str]) -> None:
    """Raise QuotaExceeded when an image's metadata would not fit one stored item."""
    total = len((name or "").encode("utf-8"))
    total += sum(len(k.encode("utf-8")) + len((v or "").encode("utf-8")) for k, v in properties.items())
    total += sum(len(t.encode("utf-8")) for t in tags)
    if total > MAX_METADATA_BYTES:
        raise QuotaExceeded(what="image metadata size in bytes", limit=MAX_METADATA_BYTES)
