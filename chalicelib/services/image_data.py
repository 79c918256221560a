"""Image data use cases: upload, stage, download, and their failure handling (reference 5).

Status moves are conditional writes through the ImageWriter. Bytes pass
once: hashes (MD5 and SHA-512, in parallel), size cap and format inspection
happen while the data streams to the store. Any failure removes what was
written and puts the image back to ``queued`` (Glance's v2 behaviour), or,
under v1's terms (``UploadTerms.v1``), leaves it ``killed``.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Mapping

from chalicelib.config import DataSettings
from chalicelib.domain import data, imports, policy
from chalicelib.domain import images as domain
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import (
    BackendFailure, DomainError, Forbidden, Gone, InvalidInput, NotFound, QuotaExceeded, ServiceUnavailable,
)
from chalicelib.domain.images import Image, ImageStatus, Location
from chalicelib.ports import STATUS, FormatInspector, ObjectStore, WebClient
from chalicelib.services import location_relay as relay
from chalicelib.services.locations import LocationSupport
from chalicelib.services.scanning import HASH_ALGO, capped, scan
from chalicelib.services.stores import Stores
from chalicelib.services.writer import ImageWriter

PRESIGN_SECONDS = 300  # presigned download URLs live five minutes


@dataclass(frozen=True)
class UploadTerms:
    """What an upload promises beyond the data: the values the client declared, and the status a failure leaves.

    v2 requeues a failed upload; v1 leaves the image ``killed`` (reference 2.1, 11) and
    checks the ``x-image-meta-size``/``-checksum`` it was given against the data.
    """

    on_failure: domain.Transition = domain.requeue
    size: int | None = None
    checksum: str | None = None

    @classmethod
    def v1(cls, size: int | None = None, checksum: str | None = None) -> "UploadTerms":
        return cls(domain.kill, size, checksum)


@dataclass(frozen=True)
class Download:
    """How to answer a download: a redirect, bytes, or nothing (204)."""

    image: Image
    url: str | None = None
    body: bytes | None = None
    byte_range: data.ByteRange | None = None
    partial: bool = False  # the client asked for a range: 206

    @property
    def empty(self) -> bool:
        return self.url is None and self.body is None


@dataclass(frozen=True)
class Hold:
    """What one upload or stage owns: the status its begin moved the image to, with its own token. Only a
    write that finds both finishes or gives the image back, so a later upload's hold is never taken over."""

    status: ImageStatus
    token: str | None

    def kept_by(self, image: Image) -> bool:
        return domain.in_status(image, self.status) and image.holder == self.token


class ImageDataService:
    """Upload, stage and download over an ObjectStore."""

    def __init__(
        self, writer: ImageWriter, locations: LocationSupport, store: ObjectStore, inspector: FormatInspector,
        limits: DataSettings, web: WebClient | None = None, stores: Stores | None = None,
    ) -> None:
        self._writer = writer
        self._stores = stores
        self._web = web  # reads external locations for callers who may not see them
        self._locations = locations
        self.store = store
        self.inspector = inspector
        self.limits = limits

    # -- upload --------------------------------------------------------
    def upload(
        self, ctx: RequestContext, image_id: str, chunks: Iterable[bytes], declared_size: int | None,
        terms: UploadTerms = UploadTerms(), store_id: str | None = None,
    ) -> Image:
        """queued -> saving -> active with checksums and virtual size, the data in the default store or
        ``store_id`` (X-Image-Meta-Store: 400 unknown, 409 read-only); 400/413/415 paths requeue (or kill,
        per ``terms``)."""
        store = self._target(store_id)
        saving = self._begin(ctx, image_id, domain.begin_upload, "upload_image")
        key = data.data_key(image_id)
        hold = Hold(saving.status, saving.holder)

        def write() -> Image:
            self._check_declared(declared_size)
            found = scan(chunks, lambda passing: store.put_stream(key, passing), inspector=self.inspector,
                         container_format=saving.container_format, disk_format=saving.disk_format,
                         cap=self.limits.image_size_cap)
            data.check_supplied("size", terms.size, found.size)
            data.check_supplied("checksum", terms.checksum, found.checksum)
            fields = dict(size=found.size, virtual_size=found.virtual_size, checksum=found.checksum,
                          os_hash_algo=HASH_ALGO, os_hash_value=found.os_hash_value,
                          locations=(Location(store.url_of(key), {}),))
            return self._finish(ctx, image_id, hold, fields, key, store=store)

        return self._guarded(image_id, key, hold, write, terms.on_failure, store)

    def _target(self, store_id: str | None) -> ObjectStore:
        """The store an upload writes to (the default one without ``store_id``)."""
        if self._stores is None:
            return self.store
        return self._stores.get(self._stores.catalog.upload_target(store_id))

    def stage(self, ctx: RequestContext, image_id: str, chunks: Iterable[bytes], declared_size: int | None) -> Image:
        """queued -> uploading with the data in the staging area and ``size`` set."""
        uploading = self._begin(ctx, image_id, domain.begin_stage, "upload_image")
        key = data.staging_key(image_id)
        hold = Hold(uploading.status, uploading.holder)

        def write() -> Image:
            self._check_declared(declared_size)
            size = self.store.put_stream(key, capped(chunks, self.limits.image_size_cap, None))
            return self._finish(ctx, image_id, hold, {"size": size}, key, activate=False)

        return self._guarded(image_id, key, hold, write)

    def _guarded(
        self, image_id: str, key: str, hold: Hold, write: Callable[[], Image],
        on_failure: "domain.Transition" = domain.requeue, store: ObjectStore | None = None,
    ) -> Image:
        """Run ``write``; on any failure but Gone (already cleaned) remove the bytes and move the image on."""
        try:
            return write()
        except Gone:
            raise
        except BaseException:
            self._abandon(image_id, key, hold, on_failure, store)
            raise

    def _begin(self, ctx: RequestContext, image_id: str, move: "domain.Transition", action: str) -> Image:
        def change(image: Image) -> Image:
            policy.require_modify(image, ctx, action)
            moved = move(image)
            imports.require_unlocked(image)  # after the status rule: a wrong status is the answer first
            return replace(moved, holder=uuid.uuid4().hex)  # this upload's own hold (see Hold)

        return self._writer.change(ctx, image_id, change, guard=STATUS).after

    def _check_declared(self, declared_size: int | None) -> None:
        if declared_size is not None and declared_size > self.limits.image_size_cap:
            raise QuotaExceeded(what="image size", limit=self.limits.image_size_cap)

    def _finish(
        self, ctx: RequestContext, image_id: str, hold: Hold, fields: Mapping[str, object], key: str,
        activate: bool = True, store: ObjectStore | None = None,
    ) -> Image:
        def change(image: Image) -> Image:
            if domain.holds(image, fields, active=activate):
                return image  # this finish already landed (its answer was lost, then another write came)
            if not hold.kept_by(image):
                raise Gone(image_id=image_id)
            moved = domain.activate(image) if activate else image
            return replace(moved, **fields, holder=None)  # type: ignore[arg-type]  # fields are Image's own

        try:
            return self._writer.change(ctx, image_id, change, persistent=True, guard=STATUS).after
        except (Gone, NotFound):
            # Deleted (or moved on) while the data streamed: keep nothing (Glance: 410).
            (store or self.store).delete(key)
            raise Gone(image_id=image_id) from None

    def _abandon(self, image_id: str, key: str, hold: Hold, move: "domain.Transition",
                 store: ObjectStore | None = None) -> None:
        """Remove written data (in ``store``, else the default one) and ``move`` the image (back to queued, or
        killed), if it is still ours to move."""
        (store or self.store).delete(key)

        def give_back(image: Image) -> Image:
            # Still held by our upload: ours to move (the move releases the "uploading" count and the hold).
            return move(image) if hold.kept_by(image) else image

        try:
            self._writer.change_stored(image_id, give_back, persistent=True, guard=STATUS)
        except NotFound:
            pass  # deleted meanwhile: nothing to give back

    # -- download ------------------------------------------------------
    def download(
        self, ctx: RequestContext, image_id: str, range_header: str | None, content_range: str | None,
        *, inline: bool = False,
    ) -> Download:
        """Checks in Glance's order (404, 403 deactivated, policy, 204 no data, ranges), then redirect or bytes.

        ``inline`` serves a whole image that fits ``proxy_max_bytes`` through the
        function (v1, whose clients read data and metadata headers from one response).
        An external location is redirected to only for callers who may see it
        (``can_see_locations``); anyone else gets its bytes through the function
        within ``proxy_max_bytes`` (403 beyond), never its URL.
        """
        image = self._writer.visible(ctx, image_id)
        domain.check_download(image, is_admin=ctx.is_admin)
        if not (ctx.is_admin or ctx.is_member):
            raise Forbidden(action="download_image")
        if not domain.serves_data(image):
            return Download(image)
        # Glance's default location strategy: locations in order; one whose store fails is skipped.
        failure: DomainError | None = None
        for location in image.locations:
            try:
                return self._serve(ctx, image, location.url, range_header, content_range, inline)
            except (ServiceUnavailable, BackendFailure) as exc:
                failure = exc
        raise failure or ServiceUnavailable(detail=f"no store of image {image_id} could be read")

    def _serve(self, ctx: RequestContext, image: Image, url: str, range_header: str | None,
               content_range: str | None, inline: bool) -> Download:
        """The answer from one location: its store's object (redirect or bytes), or an external URL."""
        found = self._locations.own_object(image.id, url)
        if found is None:
            if policy.can_see_locations(image, ctx):
                # An http(s) location the caller may see anyway: it fetches it there, Range and all.
                return Download(image, url=url)
            return self._relay(image, url, range_header, content_range)
        store, key = found.store, found.key
        if image.size is None:
            return Download(image, url=store.presigned_get(key, PRESIGN_SECONDS))
        byte_range = self._byte_range(image.size, range_header, content_range)
        if byte_range is not None and range_header is None:
            # The deprecated Content-Range form cannot be handed to S3: always served here.
            return self._proxy(image, store, key, byte_range, partial=True)
        partial = byte_range is not None
        fits = byte_range is None and image.size <= self.limits.proxy_max_bytes
        if self.limits.download_mode == "proxy" or (inline and fits):
            whole = data.ByteRange(0, image.size - 1, image.size)
            return self._proxy(image, store, key, byte_range or whole, partial)
        return Download(image, url=store.presigned_get(key, PRESIGN_SECONDS), byte_range=byte_range, partial=partial)

    def _relay(self, image: Image, url: str, range_header: str | None, content_range: str | None) -> Download:
        """An external location's bytes through the function, for a caller who may not learn its URL."""
        limit = self.limits.proxy_max_bytes
        if image.size is not None and image.size > limit:
            raise relay.too_large(image.id, image.size, limit)
        # With a recorded size, a bad range is 400/416 before any fetch.
        early = self._byte_range(image.size, range_header, content_range) if image.size is not None else None
        body = relay.read_external(self._web, image.id, url, limit)
        if image.size is not None and len(body) != image.size:
            raise ServiceUnavailable(detail="the image's external location no longer holds the image's size")
        byte_range = early if image.size is not None else self._byte_range(len(body), range_header, content_range)
        if byte_range is None:
            return Download(image, body=body, byte_range=data.ByteRange(0, len(body) - 1, len(body)))
        return Download(image, body=body[byte_range.start : byte_range.end + 1], byte_range=byte_range, partial=True)

    @staticmethod
    def _byte_range(size: int, range_header: str | None, content_range: str | None) -> data.ByteRange | None:
        if range_header is not None:
            return data.parse_range(range_header, size)
        return data.parse_content_range(content_range, size) if content_range is not None else None

    def _proxy(self, image: Image, store: ObjectStore, key: str, byte_range: data.ByteRange,
               partial: bool) -> Download:
        if byte_range.length > self.limits.proxy_max_bytes:
            raise InvalidInput(
                f"The requested range is {byte_range.length} bytes; at most {self.limits.proxy_max_bytes} bytes "
                "can pass through the API. Download with a Range header (served from object storage) instead."
            )
        body = b"" if byte_range.total == 0 else store.get_range(key, byte_range.start, byte_range.end)
        return Download(image, body=body, byte_range=byte_range, partial=partial)
