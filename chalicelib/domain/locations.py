"""Image locations: Glance's PATCH rules for ``/locations`` (reference 2.3), as pure functions.

Every rule judges the image as it was read; the service writes the result
with one conditional write on that image's version and status, so the status
a rule accepted is still the stored status when the write lands.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

from chalicelib.domain import images as domain
from chalicelib.domain import urls as url_rules
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import Conflict, Forbidden, InvalidInput, QuotaExceeded
from chalicelib.domain.images import Image, ImageStatus, Location

S = ImageStatus
# Where each operation is permitted (reference 2.3); anything else is 409.
ADD_STATUSES = frozenset({S.ACTIVE, S.QUEUED})
REPLACE_STATUSES = ADD_STATUSES
REMOVE_STATUSES = frozenset({S.ACTIVE})
VALIDATION_KEYS = ("checksum", "os_hash_algo", "os_hash_value")

# Validates a location URL for this image and returns its data size (None when unknown);
# raises InvalidInput for a URL no store accepts.
UrlCheck = Callable[[str], int | None]


@dataclass(frozen=True)
class NewLocation:
    """A location as a request gives it: ``validation_data`` is write-only."""

    url: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    validation_data: Mapping[str, str] | None = None

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> "NewLocation":
        """The location as given, its http(s) URL normalized (stored as it is checked and fetched)."""
        url = url_rules.normalized_or_same(str(value["url"]))
        return cls(url, dict(value.get("metadata") or {}), value.get("validation_data"))

    def stored(self) -> Location:
        return Location(self.url, self.metadata)


@dataclass(frozen=True)
class LocationRules:
    """The settings the rules depend on."""

    enabled: bool = False  # show_multiple_locations
    quota: int = 10  # image_location_quota; negative = unlimited
    hashing_algorithm: str = "sha512"


def require_enabled(rules: LocationRules, verb: str) -> None:
    if not rules.enabled:
        raise Forbidden(f"It's not allowed to {verb} locations if locations are invisible.")


def require_status(image: Image, verb: str, allowed: frozenset[ImageStatus]) -> None:
    """409 unless the image's status permits ``verb`` (the precondition the write is conditioned on)."""
    if image.status not in allowed:
        raise Conflict(f"It's not allowed to {verb} locations if image status is {image.status.value}.")


def new_validation_values(image: Image, locations: Sequence[NewLocation], algorithm: str) -> dict[str, str]:
    """Glance's ``_validate_validation_data``: the values a queued image should take; 409 on any conflict."""
    given: dict[str, str] = {}
    for loc in locations:
        for key, value in (loc.validation_data or {}).items():
            if given.get(key, value) != value:
                raise Conflict(f"Conflicting values for {key}")
            given[key] = value
    new: dict[str, str] = {}
    for key, value in given.items():
        current = getattr(image, key)
        if value == current:
            continue
        if current:
            raise Conflict(f"{image.id} has {key} {current}")
        new[key] = value
    if not new:
        return {}
    if image.status is not S.QUEUED:
        raise Conflict(f"New value(s) for {', '.join(new)} may only be provided when image status is 'queued'")
    check_hashes(new, algorithm, Conflict)
    return new


def check_hashes(values: Mapping[str, str | None], algorithm: str, error: type[Exception]) -> None:
    """Hex and length checks of checksum/os_hash_value; ``error`` is 409 on PATCH, 400 on the location API."""
    checksum = values.get("checksum")
    if checksum is not None:
        digest = _hex(checksum, "checksum", error)
        if len(digest) != 16:
            raise error(f"checksum ({checksum}) is not the correct size for md5 (should be 16 bytes)")
    algo = values.get("os_hash_algo")
    if algo != algorithm:
        raise error(f"os_hash_algo must be {algorithm}, not {algo}")
    value = values.get("os_hash_value") or ""
    want = hashlib.new(algorithm).digest_size
    if len(_hex(value, "os_hash_value", error)) != want:
        raise error(f"os_hash_value ({value}) is not the correct size for {algorithm} (should be {want} bytes)")


def _hex(value: str, name: str, error: type[Exception]) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise error(f"{name} ({value}) is not a valid hexadecimal value") from None


def position(token: str, count: int, allow_end: bool) -> int | None:
    """Glance's ``_get_locations_op_pos``: an index, ``-`` for the end, else None."""
    pos = count if allow_end else count - 1
    if token.isdigit():
        pos = int(token)
    elif token != "-":
        return None
    if not (allow_end or 0 <= pos < count):
        return None
    return pos


def _check_quota(count: int, rules: LocationRules) -> None:
    if 0 <= rules.quota < count:
        raise QuotaExceeded(what="image locations", limit=rules.quota)


def _with_locations(
    image: Image, locations: tuple[Location, ...], values: Mapping[str, str], check: UrlCheck, fresh: Sequence[str],
    activate: bool = True,
) -> Image:
    """Validate the fresh URLs, refuse duplicates, fill a missing size, and (``activate``) activate a queued image."""
    urls = [loc.url for loc in locations]
    sizes = [check(url) for url in fresh]
    for url in fresh:
        if urls.count(url) > 1:
            raise InvalidInput(f"The location {url} already exists")
    updated = replace(image, locations=locations)
    if image.size is None:
        size = next((s for s in sizes if s is not None), None)
        updated = replace(updated, size=size)
    if image.status is S.QUEUED and activate:
        updated = domain.activate(replace(updated, **values))  # type: ignore[arg-type]  # values are Image's own str fields (checksum, os_hash_*), from new_validation_values
    return updated


def add(image: Image, token: str, value: NewLocation, rules: LocationRules, check: UrlCheck, *,
        activate: bool = True) -> Image:
    """``add /locations/N|-``: active or queued only; a queued image becomes active (stays queued without
    ``activate``: the new location API's hashing task moves it)."""
    require_enabled(rules, "add")
    require_status(image, "add", ADD_STATUSES)
    values = new_validation_values(image, [value], rules.hashing_algorithm)
    pos = position(token, len(image.locations), allow_end=True)
    if pos is None:
        raise InvalidInput("Invalid position for adding a location.")
    _check_quota(len(image.locations) + 1, rules)
    locations = list(image.locations)
    locations.insert(pos, value.stored())
    return _with_locations(image, tuple(locations), values, check, [value.url], activate)


def replace_all(image: Image, values_in: Sequence[NewLocation], rules: LocationRules, check: UrlCheck) -> Image:
    """``replace /locations``: a non-empty list; with locations present only metadata may change."""
    if not values_in:
        raise Forbidden("Cannot set locations to empty list.")
    require_enabled(rules, "update")
    require_status(image, "replace", REPLACE_STATUSES)
    values = new_validation_values(image, values_in, rules.hashing_algorithm)
    _check_quota(len(values_in), rules)
    locations = tuple(v.stored() for v in values_in)
    old_urls = sorted(loc.url for loc in image.locations)
    new_urls = sorted(loc.url for loc in locations)
    if image.locations and old_urls != new_urls:
        raise InvalidInput(f"Original locations is not empty: {[loc.url for loc in image.locations]}")
    fresh = [] if old_urls == new_urls else new_urls
    return _with_locations(image, locations, values, check, fresh)


def remove(image: Image, token: str, rules: LocationRules, ctx: RequestContext) -> tuple[Image, Location]:
    """``remove /locations/N``: admin only, active only, never the last location."""
    if not ctx.is_admin:
        raise Forbidden(action="delete_image_location")
    require_enabled(rules, "remove")
    require_status(image, "remove", REMOVE_STATUSES)
    if len(image.locations) == 1:
        raise Forbidden("Cannot remove last location in the image.")
    pos = position(token, len(image.locations), allow_end=False)
    if pos is None:
        raise InvalidInput("Invalid position for removing a location.")
    gone = image.locations[pos]
    return replace(image, locations=image.locations[:pos] + image.locations[pos + 1:]), gone
