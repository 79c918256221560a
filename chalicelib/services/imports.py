"""Starting imports: interoperable import (reference 1.3), presigned uploads, and data landing in S3.

Each start takes the image's import lock in one conditional write (with the
method's status and format rules judged on the stored image), records an
``api_image_import`` task, and starts the pipeline under the task's id, so a
repeated start (a retried request, an S3 event delivered twice) runs one import.
"""
from __future__ import annotations

import dataclasses

from dataclasses import dataclass
from typing import Any, Mapping

from chalicelib.domain import data, imports, multipart, policy, urls
from chalicelib.domain import stores as store_rules
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import Conflict, DomainError, Duplicate, InvalidInput, NotFound
from chalicelib.domain.images import Image
from chalicelib.domain.tasks import Task, TaskStatus
from chalicelib.ports import STATUS, Clock, IdGen, ObjectStore
from chalicelib.services.import_steps import PIPELINE
from chalicelib.services.images import ImageService
from chalicelib.services.stores import Stores
from chalicelib.services.tasks import TaskService
from chalicelib.services.writer import ImageWriter

API_IMPORT = "api_image_import"
UPLOAD_METHOD = "s3-upload"
# The headers a client sends with a presigned PUT, single or a part (not signed into the URL: any type does).
UPLOAD_HEADERS: Mapping[str, str] = {"Content-Type": "application/octet-stream"}


@dataclass(frozen=True)
class UploadTicket:
    """Where and how to PUT an image's data directly to object storage."""

    url: str
    expires_in: int
    headers: Mapping[str, str]


@dataclass(frozen=True)
class ImportService:
    images: ImageService
    writer: ImageWriter
    tasks: TaskService
    store: ObjectStore
    clock: Clock
    ids: IdGen
    enabled_methods: tuple[str, ...]
    fetch_policy: urls.FetchPolicy
    upload_url_seconds: int = 3600
    stores: Stores | None = None

    def import_image(self, ctx: RequestContext, image_id: str, body: Any, store_header: str | None = None,
                     ) -> Task | None:
        """``POST /v2/images/{id}/import`` into the stores the body (or ``X-Image-Meta-Store``) names: 400 bad
        body, 404 unseen, 403 policy, 409 status, lock or unknown store; None for a no-op copy."""
        request = imports.parse_import_body(body, self.enabled_methods)
        image = self.images.show(ctx, image_id)
        if request.method == "copy-image":
            imports.check_copy_source(image)
            policy.require_copy_image(ctx)
        else:
            policy.require_modify(image, ctx, "import_image")
            self.images.require_within_size_total(image)
        catalog = self._stores().catalog
        targets = catalog.import_targets(request.stores, request.all_stores, store_header, request.stores_given)
        if request.method == "copy-image":
            targets = store_rules.copy_targets(catalog, image, targets, request.all_stores)
            if not targets:
                return None  # every store already holds the image (Glance's no-op 202)
        if not targets:
            raise InvalidInput("'stores' is empty: name at least one store to import to.")
        if request.uri is not None:
            # Glance's import filtering at request time (scheme, port); addresses are checked again at fetch.
            urls.check_port(request.uri, urls.parse(request.uri), self.fetch_policy)
            request = dataclasses.replace(request, uri=urls.normalize(request.uri))  # stored as checked
        return self._start(ctx, image_id, request.method, request.task_input(targets), self.ids.new_id(), targets)

    def _stores(self) -> Stores:
        if self.stores is None:  # pragma: no cover - wiring always passes them
            raise LookupError("ImportService needs its stores")
        return self.stores

    def _start(self, ctx: RequestContext, image_id: str, method: str, task_input: Mapping[str, Any],
               task_id: str, targets: list[str]) -> Task:
        """Lock the image for ``task_id`` (``targets`` importing), record the task, start the pipeline (each
        step safe to repeat)."""

        def lock(image: Image) -> Image:
            imports.check_can_import(image, method)
            if method == UPLOAD_METHOD:
                image = multipart.forget(image)  # its data landed: no multipart upload is in progress any more
            else:
                multipart.require_none_pending(image)
            holder = imports.lock_holder(image)
            stale = holder is not None and holder != task_id and self._stale(holder)
            return imports.take_lock(image, task_id, holder_stale=stale, stores=targets)

        written = self.writer.change(ctx, image_id, lock, guard=STATUS)
        locked = written.after
        broken = imports.lock_holder(written.before)
        if broken is not None and broken != task_id:  # Glance fails the task whose stale lock was broken
            self._preempt(broken, task_id)
        now = self.clock.now()
        task = Task(id=task_id, type=API_IMPORT, owner=locked.owner, created_at=now, updated_at=now,
                    status=TaskStatus.PENDING, input=dict(task_input), image_id=image_id,
                    user_id=ctx.user_id, request_id=ctx.request_id or None)
        try:
            return self.tasks.add_task(task)  # stores it, then starts the execution named by its id
        except Duplicate:
            self.tasks.relaunch(task_id)  # a no-op when it already runs
            return self.tasks.find(task_id)
        except DomainError:
            # Not started (the task is recorded failed): the image must not stay locked by it.
            unlock = lambda image: imports.release_lock(image, task_id, failed=False)  # noqa: E731 - one expression
            self.writer.change_stored(image_id, unlock, persistent=True, guard=STATUS)
            raise

    def _preempt(self, holder: str, task_id: str) -> None:
        try:
            self.tasks.record_failure(holder, f"Expired lock preempted by task {task_id}.")
        except DomainError:
            pass  # finished meanwhile, or already gone: nothing to fail

    def _stale(self, holder: str) -> bool:
        """True when the task holding a lock is gone, finished, or has not moved for Glance's stale-lock time."""
        try:
            task = self.tasks.find(holder)
        except NotFound:
            return True
        if task.status in (TaskStatus.SUCCESS, TaskStatus.FAILURE):
            return True
        return imports.lock_is_stale(task.updated_at, task.status is TaskStatus.PENDING, self.clock.now())

    # -- direct upload to S3 ----------------------------------------------------------
    def upload_url(self, ctx: RequestContext, image_id: str) -> UploadTicket:
        """A presigned PUT for the image's upload key; the S3 event then imports it (image must be queued)."""
        image = self.images.show(ctx, image_id)
        policy.require_modify(image, ctx, "upload_image")
        imports.check_can_import(image, UPLOAD_METHOD)
        multipart.require_none_pending(image)
        url = self.store.presigned_put(data.upload_key(image_id), self.upload_url_seconds)
        return UploadTicket(url, self.upload_url_seconds, dict(UPLOAD_HEADERS))

    def object_created(self, key: str, etag: str, sequencer: str) -> Task | None:
        """An S3 "Object Created" under the upload prefix: start its image's import once per object version.

        The task id is derived from the object's key, ETag and sequencer, so the same
        event delivered twice finds its task and starts nothing new. Data no import can
        claim (no such image, wrong status) is removed; None is returned then.
        """
        image_id = data.image_of_upload_key(key)
        if image_id is None:
            return None
        task_id = imports.derived_id("s3", key, etag, sequencer)
        try:
            return self.tasks.find(task_id)  # a repeated delivery
        except NotFound:
            pass
        try:
            image = self.writer.get(image_id)
            if imports.lock_holder(image) is not None:
                return None  # an import is running on this data (a re-PUT of the URL): leave it be
            imports.check_can_import(image, UPLOAD_METHOD)
        except (NotFound, Conflict):
            self.store.delete(key)  # data no import can claim
            return None
        default = self._stores().catalog.default
        task_input = {"method": {"name": UPLOAD_METHOD}, "staged_key": key, "stores": [default]}
        try:
            return self._start(PIPELINE, image_id, UPLOAD_METHOD, task_input, task_id, [default])
        except imports.ImportLocked:
            return None  # another delivery took the lock first
