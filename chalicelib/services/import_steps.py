"""The import pipeline's steps, one use case each (DESIGN.md 4): begin, fetch, verify, activate, succeed, fail.

Step Functions runs them in that order and retries them, so each is idempotent:
it takes the small state the previous step returned (ids, keys, checksums, never
bytes), does its work, and returns the state for the next. Every image change is
a conditional write (the ImageWriter) that judges the stored image, and the
import lock (``os_glance_import_task``) is checked in the same write.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

from chalicelib.domain import data, imports
from chalicelib.domain import images as domain
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import Conflict, Duplicate, NotFound
from chalicelib.domain.images import Image, Location
from chalicelib.ports import STATUS, FormatInspector, ObjectStore, WebClient
from chalicelib.services import store_copy, web_source
from chalicelib.services.scanning import scan
from chalicelib.services.images import ImageService
from chalicelib.services.location_import import LOCATION_IMPORT, LocationImports
from chalicelib.services.stores import Stores
from chalicelib.services.tasks import TaskService
from chalicelib.services.writer import ImageWriter

# The pipeline acts for the service itself: it sees every image, as an admin does.
PIPELINE = RequestContext(user_id="glance-import", project_id=None, roles=frozenset({"admin"}))
LEGACY = "import"


@dataclass(frozen=True)
class ImportStepService:
    """One method per Task state of stepfunctions/import_image.asl.json."""

    images: ImageService
    writer: ImageWriter
    tasks: TaskService
    store: ObjectStore
    web: WebClient
    inspector: FormatInspector
    image_size_cap: int
    stores: Stores | None = None
    locations: LocationImports | None = None  # the new location API's hashing task (location_import)

    def _registry(self) -> Stores:
        """The stores (a single-store registry over ``store`` when none were wired)."""
        if self.stores is not None:
            return self.stores
        from chalicelib.domain.stores import Store, StoreCatalog

        return Stores(StoreCatalog((Store("s3"),), "s3"), {"s3": self.store})

    # -- begin -----------------------------------------------------------------------
    def begin(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Mark the task processing; for a legacy task create its image; move the image to importing."""
        task = self.tasks.mark_processing(state["task_id"])
        if task.type == LOCATION_IMPORT:
            return self._location_imports().begin(task)
        task_input = dict(task.input or {})
        targets = list(task_input.get("stores") or [self._registry().catalog.default])
        if task.type == LEGACY:
            image_id = image_of_task(task.id, task.image_id)
            self._create_legacy_image(task_input, task.owner, image_id)
            method, uri, staged = LEGACY, task_input.get("import_from"), data.staging_key(image_id)
        else:
            image_id = str(task.image_id)
            method = task_input.get("method", {}).get("name", "")
            uri = task_input.get("method", {}).get("uri")
            staged = task_input.get("staged_key") or data.staging_key(image_id)

        def change(image: Image) -> Image:
            if imports.importing_for(image, task.id):
                return image  # a retry of this step
            if task.type == LEGACY:
                image = imports.take_lock(image, task.id, holder_stale=False, stores=targets)
            elif imports.lock_holder(image) != task.id:
                raise Conflict(f"Image {image_id} is no longer locked for task {task.id}.")
            if method == store_copy.COPY:
                imports.check_copy_source(image)
                return image  # copy-image: the image stays active while its data is copied
            return domain.begin_import(image)

        self.writer.change(PIPELINE, image_id, change, guard=STATUS)
        return {"task_id": task.id, "image_id": image_id, "method": method, "uri": uri, "staged_key": staged,
                "remaining": targets, "must_succeed": task_input.get("all_stores_must_succeed", True) is not False}

    def _create_legacy_image(self, task_input: Mapping[str, Any], owner: str | None, image_id: str) -> None:
        body = imports.legacy_image_body(task_input, owner, image_id)
        try:
            self.images.create(PIPELINE, body)
        except Duplicate:
            pass  # created by an earlier try of this step

    # -- fetch -----------------------------------------------------------------------
    def fetch(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Stream an http(s) source into staging behind the SSRF guard; staged methods have their data;
        copy-image reads the image's first readable store object."""
        if state.get("method") == store_copy.COPY:
            return {**state, "source": store_copy.source_of(self._registry(), self.writer.get(state["image_id"]))}
        if state["method"] not in ("web-download", LEGACY):
            if self.store.size(state["staged_key"]) is None:
                raise imports.ImportSourceError(detail=f"no staged data for image {state['image_id']}")
            return dict(state)
        with web_source.body_of(self.web, str(state["uri"]), self.image_size_cap) as chunks:
            size = self.store.put_stream(state["staged_key"], chunks)
        return {**state, "size": size}

    def hash_location(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """HashLocation (location_import tasks): checksum and hash of an added location's data."""
        return self._location_imports().hash_location(state)

    def _location_imports(self) -> LocationImports:
        if self.locations is None:  # pragma: no cover - wiring always passes them
            raise LookupError("ImportStepService needs the location imports")
        return self.locations

    # -- verify ----------------------------------------------------------------------
    def verify(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """One pass over the staged data: MD5 + SHA-512, size cap, format inspection; raises UnsafeImage/mismatch.
        copy-image's data was verified when the image was made active: nothing to read."""
        image = self.writer.get(state["image_id"])
        if state.get("method") == store_copy.COPY:
            return dict(state)
        task = self.tasks.find(state["task_id"])
        found = scan(self.store.iter_object(state["staged_key"]), _drain, inspector=self.inspector,
                     container_format=image.container_format,
                     disk_format=imports.expected_format(image, task.input if task.type == LEGACY else None),
                     cap=self.image_size_cap)
        return {**state, "size": found.size, "virtual_size": found.virtual_size, "checksum": found.checksum,
                "os_hash_value": found.os_hash_value}

    # -- activate --------------------------------------------------------------------
    def activate(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """ImportToStore for the next store of ``remaining``: copy the data there (server-side), then add the
        location in a conditional write: the image goes active with its checksums at the first store (or
        only at the last under all_stores_must_succeed), and the lock is released after the last store."""
        return store_copy.import_to_next_store(self, state, PIPELINE)

    def succeed(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Record the task's success with ``result.image_id`` (and its expiry)."""
        self.tasks.record_success(state["task_id"], {"image_id": state["image_id"]})
        return {"task_id": state["task_id"], "image_id": state["image_id"], "status": "success"}

    # -- fail ------------------------------------------------------------------------
    def fail(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """The Catch target: put the image back, remove this import's bytes, record failure with a readable message.

        A legacy task's image is deleted (Glance's _CreateImage.revert); an interoperable
        import's image goes back to queued with the lock released and os_glance_failed_import
        set. Bytes go only where this import still owns the image (its lock, or its legacy
        image) or the image is deleted, so a later import that broke a stale lock keeps its
        data. A location's hashing task has services/location_import revert it. The failure is
        recorded even when putting the image back fails.
        """
        task = self.tasks.find(state["task_id"])
        message = failure_message(state.get("error"))
        legacy = task.type == LEGACY
        image_id = image_of_task(task.id, task.image_id) if legacy else task.image_id
        try:
            if task.type == LOCATION_IMPORT:
                self._location_imports().revert(task)
            elif image_id is not None:
                staged = state.get("staged_key") or (task.input or {}).get("staged_key") or data.staging_key(image_id)
                targets = list((task.input or {}).get("stores") or [self._registry().catalog.default])
                copying = (task.input or {}).get("method", {}).get("name") == store_copy.COPY
                for store, key in self._revert_image(image_id, task.id, legacy, staged, targets, copying):
                    store.delete(key)
        finally:
            self.tasks.record_failure(task.id, message)
        return {"task_id": task.id, "image_id": image_id, "status": "failure", "message": message}

    def _revert_image(self, image_id: str, task_id: str, legacy: bool, staged: str, targets: list[str],
                      copying: bool) -> list[tuple[ObjectStore, str]]:
        """Move the image back if this import still owns it; the (store, key) of bytes that must go."""
        registry = self._registry()
        change = store_copy.reverter(registry.catalog, task_id, legacy=legacy, targets=targets, copying=copying)
        default = registry.default()
        staging = [(default, staged), (default, data.staging_key(image_id))]
        copies = [(registry.get(t), data.data_key(image_id)) for t in targets if t in registry.objects]
        try:
            written = self.writer.change(PIPELINE, image_id, change, persistent=True, guard=STATUS)
        except NotFound:
            # Gone (deleted during the import) or pending_delete (restorable: its data stays).
            try:
                gone = domain.is_deleted(self.writer.get(image_id))
            except NotFound:
                return staging + copies
            return staging + copies if gone else staging[:1]
        if not written.changed:
            return []
        kept = {loc.url for loc in written.after.locations}
        return staging + [(store, key) for store, key in copies if store.url_of(key) not in kept]


def image_of_task(task_id: str, image_id: str | None) -> str:
    """A legacy task's image id: recorded, or derived from the task id (stable across retries)."""
    return image_id or imports.derived_id("task-image", task_id)


def failure_message(error: Mapping[str, Any] | None) -> str:
    """A person-readable message from a Catch's ``{Error, Cause}`` (the Lambda's errorMessage when there is one)."""
    if not error:
        return "Import failed."
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        parsed = None
    if isinstance(parsed, dict) and parsed.get("errorMessage"):
        return str(parsed["errorMessage"])
    return f"Import failed: {error.get('Error', 'error')}{': ' + cause if cause else ''}"


def _drain(chunks: Iterable[bytes]) -> int:
    """Read every chunk (VerifyData keeps no bytes); their total size."""
    return sum(len(chunk) for chunk in chunks)
