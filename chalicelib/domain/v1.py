"""The legacy v1 images API's metadata (reference 11) in terms of the one Image, as pure functions.

v1 and v2 share one repository, so v1 metadata is a view of the v2 image:
``is_public`` is ``visibility == "public"``; ``is_public=false`` makes a public
image ``shared`` (the v2 default, which is private until members are added and
lets the v1 members API work) and leaves any other visibility alone. A v1 PUT
becomes JSON-patch operations on the stored image, so every v2 rule (formats
only while queued, owner for admins, publicize_image, quotas) judges it too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from chalicelib.domain import rules
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import Forbidden, ReadonlyProperty
from chalicelib.domain.images import Image, ImageStatus
from chalicelib.domain.patch import PatchOp

# The x-image-meta-<name> headers v1 accepts (glance/common/utils.py), '-' read as '_'.
FIELDS = frozenset({
    "id", "name", "size", "is_public", "disk_format", "container_format", "status", "location", "copy_from",
    "uri", "checksum", "created_at", "updated_at", "deleted_at", "min_ram", "min_disk", "owner", "store",
    "protected", "deleted", "virtual_size",
})
INTEGERS = ("size", "min_disk", "min_ram", "virtual_size")
BOOLEANS = ("is_public", "protected", "deleted")
# Fields v1 set on the image record directly (the rest are server-owned or handled apart).
SETTABLE = ("name", "disk_format", "container_format", "min_disk", "min_ram", "protected", "owner")
# Once an image has data, non-admins may not change these (reference 11).
_DATA_FIXED = ("size", "checksum")
_WITH_DATA = frozenset({ImageStatus.ACTIVE, ImageStatus.DEACTIVATED})


@dataclass(frozen=True)
class V1Meta:
    """Parsed ``x-image-meta-*`` headers: typed core fields and custom properties."""

    fields: Mapping[str, Any] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)

    @property
    def location(self) -> str | None:
        value = self.fields.get("location")
        return str(value) if value else None

    @property
    def size(self) -> int | None:
        value = self.fields.get("size")
        return value if isinstance(value, int) else None

    @property
    def checksum(self) -> str | None:
        value = self.fields.get("checksum")
        return str(value) if value else None


def visibility_for(is_public: bool, current: str | None) -> str:
    """The v2 visibility that ``is_public`` asks for, given the image's current one (None on create)."""
    if is_public:
        return "public"
    if current is None or current == "public":
        return "shared"
    return current


def create_body(meta: V1Meta) -> dict[str, Any]:
    """A v2 create body from v1 metadata; raises ReadonlyProperty for ``status``."""
    if "status" in meta.fields:
        raise ReadonlyProperty(name="status")
    body: dict[str, Any] = dict(meta.properties)  # reserved names meet the v2 create rules (403)
    body.update({k: meta.fields[k] for k in ("id", *SETTABLE) if k in meta.fields})
    if "is_public" in meta.fields:
        body["visibility"] = visibility_for(bool(meta.fields["is_public"]), None)
    return body


def check_immutable(image: Image, meta: V1Meta, ctx: RequestContext) -> None:
    """Raise Forbidden when a PUT changes ``id`` or ``status``, or (non-admins) the size/checksum of an image with data.

    Sending the stored value back is not a change: v1 clients echo what HEAD gave them.
    """
    for key in ("id", "status"):
        current = image.status.value if key == "status" else image.id
        if key in meta.fields and meta.fields[key] != current:
            raise ReadonlyProperty(name=key)
    if ctx.is_admin or image.status not in _WITH_DATA:
        return
    for key in _DATA_FIXED:
        if key in meta.fields and meta.fields[key] != getattr(image, key):
            raise Forbidden(f"Forbidden to modify '{key}' of {image.status.value} image.")


def update_ops(image: Image, meta: V1Meta, purge_props: bool) -> list[PatchOp]:
    """The JSON-patch operations that make ``image`` say what ``meta`` says (only real changes).

    With ``purge_props`` every custom property not sent is removed, except
    reserved and hidden ones, which belong to the service.
    """
    ops = [
        PatchOp("replace", (key,), meta.fields[key])
        for key in SETTABLE
        if key in meta.fields and meta.fields[key] != getattr(image, key)
    ]
    if "is_public" in meta.fields:
        wanted = visibility_for(bool(meta.fields["is_public"]), image.visibility)
        if wanted != image.visibility:
            ops.append(PatchOp("replace", ("visibility",), wanted))
    for key, value in meta.properties.items():
        if key not in image.extra_properties or image.extra_properties[key] != value:
            ops.append(PatchOp("add", (key,), value))
    if purge_props:
        kept = set(meta.properties) | rules.HIDDEN_PROPERTIES
        ops += [
            PatchOp("remove", (key,))
            for key in image.extra_properties
            if key not in kept and not rules.is_reserved(key)
        ]
    return ops
