"""The new location API's hashing task: Glance's ``location_import`` flow (glance/async_/flows/location_import.py).

``POST /v2/images/{id}/locations`` adds the location in one conditional write that also takes
the image's import lock for a new ``location_import`` task, then starts the pipeline
(``add_location``). With ``do_secure_hash`` (Glance's default):

- without validation data the image is active at once (``_SetImageToActiveTask`` before
  ``_CalculateHash``) and the pipeline's HashLocation then reads the location's data once
  (MD5 + the service's algorithm) and stores ``checksum``/``os_hash_algo``/``os_hash_value``;
- with validation data the image is ``importing`` while HashLocation hashes with the given
  algorithm; a value that matches makes it active with the hashes (``_VerifyValidationData``,
  ``_SetImageToActiveTask``), a mismatch fails the task.

The hashing write is conditional: the lock still this task's, the status the one the task left,
the hashes unset and the locations as read (so the location is still there). RecordFailure
(``revert``) follows the flow's reverts: an active image keeps its location, without hashes; an
importing one goes back to queued without the location. Without ``do_secure_hash`` the validation
data is stored as given and no task runs (``_SetHashValues``).
"""
from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from typing import Any, Iterator, Mapping

from chalicelib.domain import imports
from chalicelib.domain import images as domain
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import Conflict, DomainError, NotFound
from chalicelib.domain.images import Image, ImageStatus
from chalicelib.domain.tasks import Task, TaskStatus
from chalicelib.ports import STATUS, Clock, Guard, IdGen, ObjectStore, WebClient
from chalicelib.services import web_source
from chalicelib.services.locations import LocationSupport, add_location
from chalicelib.services.scanning import HASH_ALGO, digest
from chalicelib.services.tasks import TaskService
from chalicelib.services.writer import ImageWriter, Judge

LOCATION_IMPORT = "location_import"
# The hashes are written only over the locations the task read: a location removed meanwhile refuses the write.
HASH_GUARD = Guard(version=False, depends=frozenset({"locations"}))


class HashMismatch(DomainError):
    """The location's data does not hash to the validation data's value (Glance's _VerifyValidationData)."""

    template = "os_hash_value: ({given}) not matched with actual os_hash_value: ({actual})"


@dataclass(frozen=True)
class LocationImports:
    """The API half (``add_location``) and the pipeline half (``begin``, ``hash_location``, ``revert``)."""

    writer: ImageWriter
    tasks: TaskService
    support: LocationSupport
    web: WebClient
    clock: Clock
    ids: IdGen
    image_size_cap: int
    secure_hash: bool = True  # Glance's do_secure_hash

    # -- the request ---------------------------------------------------------------------------------------
    def add_location(self, ctx: RequestContext, image_id: str, url: str,
                     validation: Mapping[str, str] | None) -> Image:
        """``POST /v2/images/{id}/locations`` (see the module docstring); raises what the judge raises
        (400/403/404/409). When the task cannot start (it is recorded failed) the lock goes again: an image
        with validation data goes back to queued without the location and the error is raised (503); one
        without keeps its location unhashed, as a hashing failure leaves it ("the image location add
        operation should succeed", _CalculateHash), and the add is answered."""
        task_id = self.ids.new_id() if self.secure_hash else None
        def judge(image: Image) -> Image:
            return add_location(self.support, image, ctx, url, validation, task_id)

        written = self.writer.change(ctx, image_id, judge, guard=STATUS).after
        if task_id is None:
            return written
        now = self.clock.now()
        stored_url = written.locations[-1].url
        task = Task(id=task_id, type=LOCATION_IMPORT, owner=written.owner, created_at=now, updated_at=now,
                    status=TaskStatus.PENDING, image_id=image_id, user_id=ctx.user_id,
                    request_id=ctx.request_id or None,
                    input={"image_id": image_id, "loc_url": stored_url, "validation_data": dict(validation or {})})
        try:
            self.tasks.add_task(task)
        except DomainError:
            self.writer.change_stored(image_id, self.reverter(task_id, stored_url), persistent=True, guard=STATUS)
            if written.status is ImageStatus.IMPORTING:
                raise
        return written

    # -- the pipeline --------------------------------------------------------------------------------------
    def begin(self, task: Task) -> dict[str, Any]:
        """BeginImport of a location_import task: the lock must still be the task's (Glance's _ImageLock)."""
        task_input = dict(task.input or {})
        image_id = str(task.image_id)
        if imports.lock_holder(self.writer.get(image_id)) != task.id:
            raise Conflict(f"Image {image_id} is no longer locked for task {task.id}.")
        return {"task_id": task.id, "image_id": image_id, "method": LOCATION_IMPORT, "url": task_input["loc_url"],
                "validation": dict(task_input.get("validation_data") or {})}

    def hash_location(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """HashLocation: one pass over the location's data, then the conditional write of its hashes (and, with
        validation data that matches, active). Idempotent: a retry after the write landed changes nothing."""
        image_id, task_id, url = state["image_id"], state["task_id"], state["url"]
        given = dict(state.get("validation") or {})
        algo = given.get("os_hash_algo") or HASH_ALGO
        expected = ImageStatus.IMPORTING if given else ImageStatus.ACTIVE
        image = self.writer.get(image_id)
        if _landed(image, task_id, url):
            return {**state, "checksum": image.checksum, "os_hash_value": image.os_hash_value}
        _require_held(image, task_id, url, expected)
        with self._data(image_id, url) as chunks:
            size, checksum, value = digest(chunks, algo, self.image_size_cap)
        if given and given["os_hash_value"] != value:
            raise HashMismatch(given=given["os_hash_value"], actual=value)

        def change(current: Image) -> Image:
            if _landed(current, task_id, url):
                return current
            _require_held(current, task_id, url, expected)
            if current.checksum or current.os_hash_value:
                raise Conflict(f"Image {image_id} got hash values meanwhile.")
            hashed = replace(current, checksum=checksum, os_hash_algo=algo, os_hash_value=value)
            return imports.drop_lock(domain.activate(hashed) if given else hashed, task_id)

        self.writer.change_stored(image_id, change, guard=HASH_GUARD)
        return {**state, "size": size, "checksum": checksum, "os_hash_value": value}

    def _data(self, image_id: str, url: str) -> AbstractContextManager[Iterator[bytes]]:
        """The location's bytes: an http(s) GET behind the SSRF guard, or the image's object in its store."""
        if url.lower().startswith(("http://", "https://")):
            return web_source.body_of(self.web, url, self.image_size_cap)
        found = self.support.own_object(image_id, url)
        if found is None:
            raise imports.ImportSourceError(detail=f"{url} names no object of this image in a configured store")
        return nullcontext(_object_chunks(found.store, found.key, url))

    def reverter(self, task_id: str, url: str) -> Judge:
        """RecordFailure's change (and a start that failed): the flow's reverts, where the task still holds the
        lock. Active (no validation data): it stays active with its location, hashes unset (_CalculateHash's
        revert). Importing: back to queued without the location, size or hashes (_VerifyValidationData's)."""

        def change(image: Image) -> Image:
            if imports.lock_holder(image) != task_id or domain.is_soft_deleted(image):
                return image  # not ours any more (the hashes landed and released it), or deleted meanwhile
            if image.status is ImageStatus.IMPORTING:
                kept = tuple(loc for loc in image.locations if loc.url != url)
                image = domain.requeue(replace(image, locations=kept, size=None, checksum=None, os_hash_algo=None,
                                               os_hash_value=None))
            return imports.drop_lock(image, task_id)

        return change

    def revert(self, task: Task) -> None:
        """Take back what the failed task ``task`` did to its image (``reverter``); a gone image is left alone."""
        url = str((task.input or {}).get("loc_url") or "")
        try:
            self.writer.change_stored(str(task.image_id), self.reverter(task.id, url), persistent=True, guard=STATUS)
        except NotFound:
            pass  # deleted meanwhile: nothing to give back


def _object_chunks(store: ObjectStore, key: str, url: str) -> Iterator[bytes]:
    """A store object's chunks; its absence is the task's source error (glance_store's NotFound)."""
    try:
        yield from store.iter_object(key)
    except NotFound:
        raise imports.ImportSourceError(detail=f"no data at {url}") from None


def _landed(image: Image, task_id: str, url: str) -> bool:
    """The hashing write of ``task_id`` landed: the lock released, the hashes there, the location kept."""
    return (imports.lock_holder(image) != task_id and image.os_hash_value is not None
            and any(loc.url == url for loc in image.locations))


def _require_held(image: Image, task_id: str, url: str, status: ImageStatus) -> None:
    """Conflict unless ``image`` is still as the task left it: its lock, ``status``, the location there."""
    if imports.lock_holder(image) != task_id:
        raise Conflict(f"Image {image.id} is no longer locked for task {task_id}.")
    if image.status is not status or not any(loc.url == url for loc in image.locations):
        raise Conflict(f"Image {image.id} is {image.status.value}, or lost the location {url}, while it was hashed.")
