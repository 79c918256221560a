"""Stores (Glance's ``enabled_backends``): configured S3 buckets, one the default, and the read-only http store.

Pure: which store a location URL belongs to, which stores an upload or an import
targets (Glance's ``get_stores_from_request``), and the rules of copying to and
deleting from a store. The adapters behind each store id live in services.stores.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from chalicelib.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from chalicelib.domain.images import Image, ImageStatus, Location

S3 = "s3"
HTTP = "http"
_WEB = ("http://", "https://")


class UnknownStore(Conflict):
    """A store id no configuration names (Glance: UnknownScheme, 409 on import)."""

    template = "Unknown store(s): {stores}."


class StoreReadOnly(Conflict):
    """Data cannot be written to a read-only store."""

    template = "Store '{store}' is read-only: image data cannot be written to it."


@dataclass(frozen=True)
class Store:
    """One store: an S3 bucket (``kind`` s3, any region, keys under ``prefix``) or the http store."""

    id: str
    bucket: str = ""
    region: str | None = None  # None: the service's own region
    prefix: str = ""
    storage_class: str | None = None
    description: str = ""
    read_only: bool = False
    weight: int = 0
    kind: str = S3

    def url_prefix(self) -> str:
        """Every location URL of this store starts with this (``s3://bucket/prefix``)."""
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class StoreCatalog:
    """The configured stores in configuration order (the http store last) and the default one's id."""

    stores: tuple[Store, ...]
    default: str

    def get(self, store_id: str) -> Store:
        """The store named ``store_id``; raises UnknownStore."""
        for store in self.stores:
            if store.id == store_id:
                return store
        raise UnknownStore(stores=store_id)

    def s3(self) -> tuple[Store, ...]:
        """The S3 stores, in configuration order."""
        return tuple(s for s in self.stores if s.kind == S3)

    def ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.stores)

    def store_of(self, url: str) -> str | None:
        """The id of the store a location URL belongs to: the S3 store whose bucket and prefix it names, the
        http store for http(s) URLs; None for anything else (an s3 URL of a bucket no store names)."""
        best: Store | None = None
        for store in self.s3():
            if url.startswith(store.url_prefix()) and (best is None or len(store.prefix) > len(best.prefix)):
                best = store  # the longest prefix wins: two stores may share a bucket under different prefixes
        if best is not None:
            return best.id
        if url.lower().startswith(_WEB):
            http = [s for s in self.stores if s.kind == HTTP]
            return http[0].id if http else None
        return None

    def stores_of(self, locations: Iterable[Location]) -> list[str]:
        """The store of each location, in the locations' order (Glance's ``stores`` attribute)."""
        found = (self.store_of(loc.url) for loc in locations)
        return [s for s in found if s is not None]

    def writable(self) -> tuple[str, ...]:
        """Stores an import may write to (Glance's ``_get_available_stores``: not http, not read-only)."""
        return tuple(s.id for s in self.s3() if not s.read_only)

    def upload_target(self, header: str | None) -> str:
        """The store an upload writes to: ``X-Image-Meta-Store`` or the default; 400 unknown, 409 read-only."""
        store_id = self.default if header is None else header.strip()
        try:
            store = self.get(store_id)
        except UnknownStore:
            raise InvalidInput(f"Store for scheme {store_id} not found") from None
        return self.require_writable(store).id

    def require_writable(self, store: Store) -> Store:
        """``store``, if data can be written to it; raises StoreReadOnly."""
        if store.read_only or store.kind != S3:
            raise StoreReadOnly(store=store.id)
        return store

    def import_targets(self, stores: tuple[str, ...], all_stores: bool, header: str | None,
                       given: bool) -> list[str]:
        """Glance's ``get_stores_from_request``: all writable stores, the listed ``stores``, or the header's
        (else the default) store; 400 for contradicting choices, 409 for unknown or read-only stores."""
        if all_stores:
            if given or header is not None:
                raise InvalidInput("All_stores parameter can't be used with x-image-meta-store header or "
                                   "stores parameter")
            return list(self.writable())
        if given and header is not None:
            raise InvalidInput("Stores parameter and x-image-meta-store header can't be both specified")
        targets = list(stores) if given else [header.strip() if header is not None else self.default]
        unknown = [s for s in targets if s not in self.ids()]
        if unknown:
            raise UnknownStore(stores=", ".join(unknown))
        for store_id in targets:
            self.require_writable(self.get(store_id))
        return list(dict.fromkeys(targets))  # a store listed twice is imported to once


def copy_targets(catalog: StoreCatalog, image: Image, targets: list[str], all_stores: bool) -> list[str]:
    """copy-image's stores: with ``all_stores`` those not holding the image yet (maybe none), else 400 if
    any listed store already holds it (Glance's import_image)."""
    present = set(catalog.stores_of(image.locations))
    if all_stores:
        return [s for s in targets if s not in present]
    already = [s for s in targets if s in present]
    if already:
        raise InvalidInput(f"Image is already present at store '{already[0]}'")
    return targets


def check_delete_from_store(catalog: StoreCatalog, image: Image, store_id: str) -> Location:
    """Glance's delete_from_store rules after policy: 409 not active, 403 the only location, 404 not
    stored there. Returns the location to remove (the first in that store)."""
    if image.status is not ImageStatus.ACTIVE:
        raise Conflict("It's not allowed to remove image data from store if image status is not 'active'")
    if len(image.locations) == 1:
        raise Forbidden("Cannot delete image data from the only store containing it. Consider deleting the "
                        "image instead.")
    for loc in image.locations:
        if catalog.store_of(loc.url) == store_id:
            return loc
    raise NotFound(f"Image {image.id} is not stored in store {store_id}.")


def require_configured(catalog: StoreCatalog, store_id: str) -> Store:
    """The store ``DELETE /v2/stores/{id}/...`` names; 409 when no store has that id (Glance)."""
    try:
        return catalog.get(store_id)
    except UnknownStore:
        raise Conflict(f"The selected store {store_id} is not available on this node.") from None
