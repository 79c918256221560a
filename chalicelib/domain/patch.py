"""Apply Glance JSON-patch changes to an image (reference 3.3), as a pure function."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from chalicelib.domain import locations, rules
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import Conflict, Forbidden, ReadonlyProperty
from chalicelib.domain.images import Image, ImageStatus
from chalicelib.domain.policy import require_visibility_change

# Core attributes a PATCH may set; anything else (not read-only/reserved) is an extra property.
MUTABLE_CORE = frozenset(
    {"name", "visibility", "protected", "os_hidden", "owner", "container_format", "disk_format", "min_disk", "min_ram", "tags"}
)
_FORMAT_KEYS = frozenset({"disk_format", "container_format"})
_FORMAT_STATUSES = frozenset({ImageStatus.QUEUED, ImageStatus.IMPORTING})


@dataclass(frozen=True)
class PatchOp:
    """One change: ``op`` is add/remove/replace; ``path`` the decoded pointer segments."""

    op: str
    path: tuple[str, ...]
    value: Any = None
    draft4: bool = False  # the v2.0 media type: "add" of an existing property is a conflict


def _is_core(key: str) -> bool:
    return key in rules.CORE


@dataclass(frozen=True)
class LocationChanges:
    """What location ops need beyond the image: the settings and a URL check (which may do I/O)."""

    rules: locations.LocationRules = locations.LocationRules()
    check: locations.UrlCheck = lambda url: None


def _locations(image: Image, change: PatchOp, ctx: RequestContext, loc: LocationChanges) -> Image:
    if change.op == "remove":
        return locations.remove(image, change.path[1], loc.rules, ctx)[0]
    if change.op == "add":
        return locations.add(image, change.path[1], locations.NewLocation.from_json(change.value), loc.rules, loc.check)
    return locations.replace_all(image, [locations.NewLocation.from_json(v) for v in change.value], loc.rules, loc.check)


def _set_core(image: Image, key: str, value: Any, ctx: RequestContext) -> Image:
    if key not in MUTABLE_CORE:
        raise ReadonlyProperty(name=key)
    if key in _FORMAT_KEYS and image.status not in _FORMAT_STATUSES and value != getattr(image, key):
        raise Forbidden(f"Attribute {key} can be only replaced for a queued image.")
    if key == "owner" and not ctx.is_admin and value != image.owner:
        raise Forbidden("Attribute 'owner' is reserved for administrators.")
    if key == "visibility" and value != image.visibility:
        require_visibility_change(ctx, value)
    rules.check_core_values({key: value})
    if key == "tags":
        value = frozenset(value)
    return replace(image, **{key: value})


def _apply_one(image: Image, change: PatchOp, ctx: RequestContext, loc: LocationChanges) -> Image:
    key = change.path[0]
    rules.check_patch_key(key)
    if key == "locations":
        return _locations(image, change, ctx, loc)
    extras = dict(image.extra_properties)
    if change.op == "remove":
        if _is_core(key):
            raise Forbidden(f"Property {key} may not be removed.")
        if key not in extras:
            raise Conflict(f"Property {key} does not exist.")
        del extras[key]
        return replace(image, extra_properties=extras)
    if change.op == "add" and change.draft4 and (_is_core(key) or key in extras):
        raise Conflict(f"Property {key} already present.")
    if _is_core(key):
        return _set_core(image, key, change.value, ctx)
    if change.op == "replace" and key not in extras:
        raise Conflict(f"Property {key} does not exist.")
    rules.check_property_keys([key])
    extras[key] = change.value
    return replace(image, extra_properties=extras)


def apply_patch(
    image: Image, changes: list[PatchOp], ctx: RequestContext, loc: LocationChanges = LocationChanges()
) -> Image:
    """Apply ``changes`` in order and return the new image; raises Forbidden/Conflict per Glance."""
    for change in changes:
        image = _apply_one(image, change, ctx, loc)
    return image
