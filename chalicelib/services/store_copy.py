"""Importing into several stores and copy-image (Glance's _ImportToStore, one store per pipeline step).

The pipeline's ActivateImage runs once per target store (the ASL loops while
``more``): the data is copied server-side into the store (from staging, or for
copy-image from the image's first readable store, any bucket or region), then
one conditional write adds that store's location and keeps
``os_glance_importing_to_stores``/``os_glance_failed_import`` up to date. A
store that fails permanently is skipped when the import allows failures
(``all_stores_must_succeed: false``); otherwise the import fails and
RecordFailure takes back what it wrote (``reverter``).
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Mapping

from chalicelib.domain import data, imports
from chalicelib.domain import images as domain
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import BackendFailure, Conflict, DomainError, Forbidden, NotFound
from chalicelib.domain.images import Image, ImageStatus, Location
from chalicelib.domain.stores import StoreCatalog
from chalicelib.ports import STATUS
from chalicelib.services.stores import StoreObject, Stores

if TYPE_CHECKING:
    from chalicelib.services.import_steps import ImportStepService

COPY = "copy-image"
# Faults of one store that no retry fixes (denied, missing object or bucket): skipped when failures are allowed.
PERMANENT = (NotFound, Forbidden, BackendFailure)


class NoStoresSucceeded(DomainError):
    """Every store of an import that allowed failures failed (Glance's _VerifyImageState)."""

    template = "None of the uploads finished! Failed stores: {stores}"


def source_of(stores: Stores, image: Image) -> str:
    """copy-image's source: the image's first location in a configured S3 store; ImportSourceError if none."""
    for loc in image.locations:
        found = stores.locate(loc.url)
        if found is not None and found.key == data.data_key(image.id):
            return loc.url
    raise imports.ImportSourceError(detail=f"image {image.id} has no data in any configured store to copy")


def import_to_next_store(steps: "ImportStepService", state: Mapping[str, Any], ctx: RequestContext,
                         ) -> dict[str, Any]:
    """One ImportToStore: see the module docstring. Idempotent: a store whose location landed is not copied
    again, and the write judges the stored image."""
    registry = steps._registry()
    image_id, task_id = state["image_id"], state["task_id"]
    remaining = list(state.get("remaining") or [registry.catalog.default])
    store_id, rest = remaining[0], remaining[1:]
    copying, must = state.get("method") == COPY, state.get("must_succeed", True) is not False
    target = registry.get(store_id)
    key = data.data_key(image_id)
    location = Location(target.url_of(key), {})
    failed = False
    if location not in steps.writer.get(image_id).locations:
        try:
            _copy(registry, target, state, key)
        except PERMANENT:
            if must:
                raise
            failed = True  # Glance: "... failed but since all_stores_must_succeed is set to false, continue."
    last = not rest

    def change(image: Image) -> Image:
        landed = store_id not in imports.importing_to(image) and (
            location in image.locations or store_id in (image.extra_properties.get(imports.FAILED) or "").split(","))
        if imports.lock_holder(image) != task_id:
            if landed:
                return image  # a retry of a step whose write landed and released the lock
            raise Conflict(f"Image {image_id} is no longer locked for task {task_id}.")
        if landed:
            return _finish(image, task_id, last)  # this store's write landed already
        moved = imports.store_done(image, store_id, failed=failed)
        if not failed and location not in moved.locations:
            moved = replace(moved, locations=(*moved.locations, location))
            if not copying and moved.status is ImageStatus.IMPORTING:
                moved = _with_data(moved, state, activate=not must or last)
        return _finish(moved, task_id, last)

    written = steps.writer.change(ctx, image_id, change, persistent=True, guard=STATUS).after
    if last and not copying:
        if written.status is not ImageStatus.ACTIVE:
            raise NoStoresSucceeded(stores=written.extra_properties.get(imports.FAILED) or store_id)
        registry.default().delete(state["staged_key"])
    return {**state, "remaining": rest, "more": bool(rest)}


def _copy(registry: Stores, target: Any, state: Mapping[str, Any], key: str) -> None:
    """The data into ``target`` server-side: from the default store's staging, or copy-image's source."""
    if state.get("method") == COPY:
        source = registry.locate(state["source"])
        if source is None:
            raise NotFound(f"The source location of image {state['image_id']} is in no configured store.")
        _copy_object(source, target, key)
        return
    _copy_object(StoreObject(registry.catalog.default, registry.default(), state["staged_key"]), target, key)


def _copy_object(source: StoreObject, target: Any, key: str) -> None:
    if source.store is target:
        target.copy(source.key, key)
    else:
        target.copy_from(source.store, source.key, key)


def _with_data(image: Image, state: Mapping[str, Any], *, activate: bool) -> Image:
    """The verified data's checksums on the image, and active when this store makes it so."""
    moved = domain.activate(image) if activate else image
    return replace(moved, size=state["size"], virtual_size=state.get("virtual_size"), checksum=state["checksum"],
                   os_hash_algo="sha512", os_hash_value=state["os_hash_value"])


def _finish(image: Image, task_id: str, last: bool) -> Image:
    """After the last store the lock goes, unless nothing was imported (RecordFailure reverts then)."""
    if not last or image.status is ImageStatus.IMPORTING:
        return image
    return imports.release_lock(image, task_id, failed=False)


def reverter(catalog: StoreCatalog, task_id: str, *, legacy: bool, targets: list[str],
             copying: bool) -> Callable[[Image], Image]:
    """RecordFailure's change: a legacy task's image is deleted; an import's image goes back to queued without
    the locations it gained (an image already active keeps its data and is only unlocked); copy-image drops
    the copies it made. The lock is released with the stores left to do marked failed."""

    def ours(loc: Location) -> bool:
        return catalog.store_of(loc.url) in targets

    def change(image: Image) -> Image:
        holder = imports.lock_holder(image)
        if copying or (image.status is ImageStatus.ACTIVE and not legacy):
            if holder != task_id:
                return image
            kept = tuple(loc for loc in image.locations if not ours(loc)) if copying else image.locations
            return imports.release_lock(replace(image, locations=kept), task_id, failed=True)
        if not imports.reverted_by(image, task_id, legacy=legacy):
            return image  # another import's now: not ours to move
        if legacy:
            # The task made this image; ``protected`` guards users' deletes, not the import's revert.
            return domain.discard(image)
        kept = tuple(loc for loc in image.locations if not ours(loc))
        return domain.give_back(imports.release_lock(replace(image, locations=kept), task_id, failed=True))

    return change

