"""Where location URLs may point, and the new location API (reference 1.7b).

A location is either ``s3://<a store's bucket>/<its prefix>images/<image id>``
exactly (the image's own object in one of the configured stores, so no image
can point at, or later delete, another image's bytes) or an http(s) URL that
passes the SSRF guard (the read-only http store). The PATCH rules
themselves are pure (domain/locations.py); this module supplies their URL
check and the data clean-up after a location is gone.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping

from chalicelib.domain import data, imports, policy, urls
from chalicelib.domain import images as domain
from chalicelib.domain import locations as locrules
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import Forbidden, InvalidInput, QuotaExceeded
from chalicelib.domain.images import NEW_LOCATION_API, Image, Location
from chalicelib.domain.patch import LocationChanges
from chalicelib.ports import ObjectStore, WebProbe
from chalicelib.services.stores import StoreObject, Stores

_WEB = ("http://", "https://")
NEW_API_ALGORITHMS = ("md5", "sha1", "sha256", "sha512")


@dataclass(frozen=True)
class LocationSupport:
    """The location settings and the stores a URL can name."""

    rules: locrules.LocationRules = locrules.LocationRules()
    store: ObjectStore | None = None
    web: WebProbe | None = None
    size_cap: int | None = None  # IMAGES_SIZE_CAP: a location declaring more is refused (413)
    stores: Stores | None = None  # every configured store (None: ``store`` is the only one)

    def own_object(self, image_id: str, url: str) -> StoreObject | None:
        """The store and key of ``url`` if it names this image's own data object in a configured store exactly
        (no sub-keys: ``images/x/y`` would be another image's object under a non-UUID id)."""
        if self.stores is not None:
            found = self.stores.locate(url)
        else:
            key = self.store.key_of(url) if self.store is not None else None
            found = StoreObject("", self.store, key) if self.store is not None and key is not None else None
        return found if found is not None and found.key == data.data_key(image_id) else None

    def own_key(self, image_id: str, url: str) -> str | None:
        """The object key of ``url`` if it names this image's own data object (``own_object``'s key)."""
        found = self.own_object(image_id, url)
        return found.key if found is not None else None

    def checker(self, image_id: str) -> locrules.UrlCheck:
        """The URL check for one request: validates and sizes each URL once, however often the write retries."""
        seen: dict[str, int | None] = {}

        def check(url: str) -> int | None:
            if url not in seen:
                seen[url] = self._capped(url, self._size_of(image_id, url))
            return seen[url]

        return check

    def changes(self, image_id: str) -> LocationChanges:
        return LocationChanges(self.rules, self.checker(image_id))

    def _capped(self, url: str, size: int | None) -> int | None:
        """``size``, unless it is above the image size cap (QuotaExceeded: the image would count it in
        the project's usage, as an upload of that size would be refused)."""
        if size is not None and self.size_cap is not None and size > self.size_cap:
            raise QuotaExceeded(
                f"Invalid location {url}: it declares {size} bytes, more than the largest image allowed "
                f"({self.size_cap} bytes)."
            )
        return size

    def _size_of(self, image_id: str, url: str) -> int | None:
        if url.startswith("s3://"):
            found = self.own_object(image_id, url)
            if found is None or self.store is None:
                raise InvalidInput(
                    f"Invalid location {url}: an s3 location must name this image's own object in a store "
                    f"({self.store.url_of(data.data_key(image_id)) if self.store else 's3://<bucket>/images/<id>'})."
                )
            size = found.store.size(found.key)
            if size is None:
                raise InvalidInput(f"Invalid location {url}: no such object.")
            return size
        if url.lower().startswith(_WEB) and self.web is not None:
            return self.web.probe_size(url)
        raise InvalidInput(f"Invalid location {url}: the scheme is not supported (use s3:// or http(s)://).")

    def drop_data(self, image_id: str, gone: Iterable[Location]) -> None:
        """Delete the bytes of locations that are gone, when they are this image's own objects."""
        for loc in gone:
            found = self.own_object(image_id, loc.url)
            if found is not None:
                found.store.delete(found.key)


def removed(before: Image, after: Image) -> list[Location]:
    """Locations ``before`` had whose URL ``after`` no longer has."""
    kept = {loc.url for loc in after.locations}
    return [loc for loc in before.locations if loc.url not in kept]


def add_location(
    support: LocationSupport, image: Image, ctx: RequestContext, url: str, validation: Mapping[str, str] | None,
    hashed_by: str | None = None,
) -> Image:
    """The new location API's change: queued only (409), http only for non-service callers (403),
    validation data checked (400). With ``hashed_by`` (do_secure_hash) the image takes the location under
    that location_import task's lock, active at once without validation data and importing with it (the
    task hashes, verifies and activates); without, it is active with the validation data as given."""
    policy.require_add_location(image, ctx)
    locrules.require_status(image, "add", NEW_LOCATION_API)
    if "service" not in ctx.roles and not url.lower().startswith(_WEB):
        raise Forbidden("Only http(s) locations may be added by callers without the service role.")
    imports.require_unlocked(image)
    values = dict(validation or {})
    algo = values.get("os_hash_algo", support.rules.hashing_algorithm)
    if values:
        if algo not in NEW_API_ALGORITHMS:
            raise InvalidInput(f"os_hash_algo must be one of {', '.join(NEW_API_ALGORITHMS)}, not {algo}")
        locrules.check_hashes(values, str(algo), InvalidInput)
    # This API does not depend on show_multiple_locations, and takes the algorithm the caller hashed with.
    enabled = replace(support.rules, enabled=True, hashing_algorithm=str(algo))
    stored_url = urls.normalized_or_same(url)
    if hashed_by is None:  # Glance's _SetHashValues then _SetImageToActiveTask
        return locrules.add(image, "-", locrules.NewLocation(stored_url, {}, values or None), enabled,
                            support.checker(image.id))
    added = locrules.add(image, "-", locrules.NewLocation(stored_url), enabled, support.checker(image.id),
                         activate=False)
    locked = imports.take_location_lock(added, hashed_by)
    # location_import.get_flow: without validation data _SetImageToActiveTask runs before _CalculateHash; with
    # it _CalculateHash(status='importing') and _VerifyValidationData come first.
    return domain.begin_import(locked) if values else domain.activate(locked)
