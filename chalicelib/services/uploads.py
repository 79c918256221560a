"""Presigned uploads straight to object storage (our extension): one PUT, or a multipart upload.

``POST /v2/images/{id}/upload-url`` gives a single presigned PUT (ImportService.upload_url)
or, for images beyond one PUT or when asked, a multipart upload: CreateMultipartUpload on
the image's upload key, recorded on the image in a conditional write (a second one is
refused, a delete aborts it), and presigned UploadPart URLs for the planned parts. The
completion checks the parts S3 holds against the plan and completes the upload; S3's
"Object Created" event then imports the object as it imports a single PUT. An abort drops
the parts and leaves the image ``queued``.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Mapping

from chalicelib.domain import imports, multipart, policy
from chalicelib.domain.context import RequestContext
from chalicelib.domain.data import upload_key
from chalicelib.domain.errors import DomainError, InvalidInput, NotFound, QuotaExceeded
from chalicelib.domain.images import Image
from chalicelib.domain.multipart import PartPlan, PendingUpload
from chalicelib.ports import STATUS, ObjectStore
from chalicelib.services.imports import UPLOAD_HEADERS, UPLOAD_METHOD, ImportService, UploadTicket
from chalicelib.services.writer import ImageWriter


@dataclass(frozen=True)
class PartUrl:
    """Where to PUT one part, and how many bytes it must hold."""

    number: int
    url: str
    size: int


@dataclass(frozen=True)
class MultipartTicket:
    """A multipart upload in progress and a page of its part URLs (from ``parts[0]``; ``next_part`` continues)."""

    upload_id: str
    plan: PartPlan
    parts: tuple[PartUrl, ...]
    next_part: int | None
    expires_in: int
    headers: Mapping[str, str] = field(default_factory=lambda: dict(UPLOAD_HEADERS))  # the single PUT's


@dataclass(frozen=True)
class PresignedUploads:
    imports: ImportService
    writer: ImageWriter
    store: ObjectStore
    image_size_cap: int
    min_part_size: int = multipart.S3_MIN_PART

    @property
    def expires_in(self) -> int:
        return self.imports.upload_url_seconds

    def upload_url(self, ctx: RequestContext, image_id: str, body: Any) -> UploadTicket | MultipartTicket:
        """A single presigned PUT, or a new multipart upload: 400 bad body or plan, 413 beyond the size cap,
        404 unseen, 403 policy, 409 not queued, formats unset, locked, or a multipart upload in progress."""
        request = multipart.parse_upload_request(body)
        if request.size is not None and request.size > self.image_size_cap:
            raise QuotaExceeded(what="image size", limit=self.image_size_cap)
        if not request.multipart or request.size is None:  # (a multipart request always has a size)
            return self.imports.upload_url(ctx, image_id)
        plan = multipart.plan_parts(request.size, request.part_size, self.min_part_size)
        self._check_can_start(ctx, self.writer.visible(ctx, image_id))  # refuse before S3 holds anything
        key = upload_key(image_id)
        upload = PendingUpload(self.store.start_multipart(key), plan)

        def start(image: Image) -> Image:
            self._check_can_start(ctx, image)
            return multipart.record(image, upload)

        try:
            self.writer.change(ctx, image_id, start, guard=STATUS)
        except BaseException:
            # Not recorded: nothing may refer to it. Should the abort fail too, the lifecycle rule ends it.
            with contextlib.suppress(DomainError):
                self.store.abort_multipart(key, upload.upload_id)
            raise
        return self._ticket(image_id, upload, 1)

    def part_urls(self, ctx: RequestContext, image_id: str, first_part: int) -> MultipartTicket:
        """Fresh part URLs of the upload in progress from ``first_part``: 404 when none, 403 policy."""
        upload = self._pending(ctx, image_id)[1]
        if first_part > upload.plan.part_count:
            raise InvalidInput(f"part must be between 1 and {upload.plan.part_count}.")
        return self._ticket(image_id, upload, first_part)

    def complete(self, ctx: RequestContext, image_id: str, body: Any) -> None:
        """CompleteMultipartUpload once every planned part is there (the S3 event then imports the object):
        400 parts missing, misfit or refused, 404 no upload, 409 another upload id or the image not queued."""
        upload_id, etags = multipart.parse_completion(body)
        image, upload = self._pending(ctx, image_id, upload_id)
        imports.check_can_import(image, UPLOAD_METHOD)
        key = upload_key(image_id)
        try:
            parts = multipart.check_parts(upload.plan, self.store.list_parts(key, upload.upload_id), etags)
            self.store.complete_multipart(key, upload.upload_id, parts)
        except NotFound:
            self._forget(image_id, upload.upload_id)  # gone from S3 (expired, aborted): no longer in progress
            raise
        self._forget(image_id, upload.upload_id)  # the import of the object forgets it too, whichever comes first

    def abort(self, ctx: RequestContext, image_id: str) -> None:
        """AbortMultipartUpload and forget it; the image stays as it is (queued): 404 when none, 403 policy."""
        upload = self._pending(ctx, image_id)[1]
        self.store.abort_multipart(upload_key(image_id), upload.upload_id)  # first: a forgotten upload is orphaned
        self._forget(image_id, upload.upload_id)

    def _pending(self, ctx: RequestContext, image_id: str, upload_id: str | None = None) -> tuple[Image, PendingUpload]:
        """The image and its multipart upload in progress (``upload_id``'s, when given): 404 unseen or none,
        403 policy, 409 another upload id."""
        image = self.writer.visible(ctx, image_id)
        policy.require_modify(image, ctx, "upload_image")
        return image, multipart.require_pending(image, upload_id)

    def _check_can_start(self, ctx: RequestContext, image: Image) -> None:
        policy.require_modify(image, ctx, "upload_image")
        imports.check_can_import(image, UPLOAD_METHOD)
        imports.require_no_import(image)

    def _forget(self, image_id: str, upload_id: str) -> None:
        forget = lambda image: multipart.forget(image, upload_id)  # noqa: E731 - one expression
        self.writer.change_stored(image_id, forget, persistent=True, guard=STATUS)

    def _ticket(self, image_id: str, upload: PendingUpload, first: int) -> MultipartTicket:
        key, plan = upload_key(image_id), upload.plan
        last = min(plan.part_count, first + multipart.URLS_PER_ANSWER - 1)
        parts = tuple(PartUrl(n, self.store.presigned_part(key, upload.upload_id, n, self.expires_in),
                              plan.part_length(n)) for n in range(first, last + 1))
        return MultipartTicket(upload.upload_id, plan, parts, last + 1 if last < plan.part_count else None,
                               self.expires_in)
