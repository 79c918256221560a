"""The store registry: each configured store's ObjectStore, found by id or by a location URL.

Services that handled one bucket keep the default store as their ``store``;
what names another store (a location, ``X-Image-Meta-Store``, an import's
``stores``) goes through this registry.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from chalicelib.domain.stores import StoreCatalog
from chalicelib.ports import ObjectStore


@dataclass(frozen=True)
class StoreObject:
    """Where a location's bytes are: the store's id, its adapter, and the key inside it."""

    store_id: str
    store: ObjectStore
    key: str


@dataclass(frozen=True)
class Stores:
    """Every S3 store's adapter by id, and the catalog that describes them."""

    catalog: StoreCatalog
    objects: Mapping[str, ObjectStore]

    @classmethod
    def single(cls, catalog: StoreCatalog, store: ObjectStore) -> "Stores":
        """The default store only (a deployment or a test with one bucket)."""
        return cls(catalog, {catalog.default: store})

    def default(self) -> ObjectStore:
        return self.objects[self.catalog.default]

    def get(self, store_id: str) -> ObjectStore:
        """The adapter of S3 store ``store_id``; raises UnknownStore when none is configured."""
        found = self.objects.get(store_id)
        if found is None:
            self.catalog.get(store_id)  # UnknownStore for an id the catalog does not know
            raise LookupError(f"store {store_id} has no adapter")  # pragma: no cover - a wiring bug
        return found

    def locate(self, url: str) -> StoreObject | None:
        """The store and key an ``s3://`` location names (the longest matching prefix); None otherwise."""
        store_id = self.catalog.store_of(url)
        store = self.objects.get(store_id) if store_id is not None else None
        if store_id is None or store is None:
            return None
        key = store.key_of(url)
        return StoreObject(store_id, store, key) if key is not None else None
