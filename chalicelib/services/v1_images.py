"""The legacy v1 images API's use cases (reference 11), built on the v2 services.

Nothing here writes on its own: create, update, delete and every status move
go through ImageService (conditional writes by the ImageWriter), data through
ImageDataService.upload under v1's terms (a failure leaves the image
``killed``; declared size and checksum must match the data), and external
locations through the new-location rules with their SSRF guard.

Listing is ImageService.index with a v1 query (the api layer translates it):
shares count whatever their member status (v1 had no acceptance).
"""
from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Iterable

from chalicelib.domain import policy, v1
from chalicelib.domain import images as images_domain
from chalicelib.domain import members as member_rules
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import Conflict, DomainError, Duplicate, Forbidden, InvalidInput, NotFound
from chalicelib.domain.images import Image
from chalicelib.domain.members import Member
from chalicelib.domain.patch import PatchOp
from chalicelib.services.image_data import Download, ImageDataService, UploadTerms
from chalicelib.services.images import ImageService, ListQuery, Page
from chalicelib.ports import STATUS
from chalicelib.services.members import MemberService
from chalicelib.services.writer import ImageWriter

_SHARED_PAGE = 100


class V1ImageService:
    """v1 images and members over the v2 image, data and member services."""

    def __init__(self, images: ImageService, data: ImageDataService, members: MemberService, writer: ImageWriter) -> None:
        self.images = images
        self.data = data
        self.members = members
        self._writer = writer

    # -- images ---------------------------------------------------------
    def create(self, ctx: RequestContext, meta: v1.V1Meta, chunks: Iterable[bytes] | None) -> Image:
        """Create from headers, then take the data, the location or ``size: 0``; raises like v2 create/upload.

        A refused location removes the new image again (v1 validated the
        location before creating anything); a failed upload leaves it killed.
        """
        _check_sources(meta, chunks)
        if meta.checksum is not None and chunks is None:
            raise InvalidInput("x-image-meta-checksum can only be checked against image data sent with the request.")
        image = self.images.create(ctx, v1.create_body(meta))
        if meta.location is not None:
            try:
                return self.images.add_location(ctx, image.id, meta.location, None)
            except DomainError:
                with contextlib.suppress(DomainError):  # e.g. protected: then it stays queued
                    self.images.delete(ctx, image.id)
                raise
        return self._take_data(ctx, image, meta, chunks)

    def update(
        self, ctx: RequestContext, image_id: str, meta: v1.V1Meta, chunks: Iterable[bytes] | None, purge_props: bool
    ) -> Image:
        """Update metadata (one conditional write), then take data or a location; 409 for data unless queued.

        Properties not sent are dropped when ``purge_props`` and no data comes with the request.
        """
        _check_sources(meta, chunks)
        if chunks is not None and not images_domain.is_queued(self.images.show(ctx, image_id)):
            raise Conflict("Cannot upload to an unqueued image")
        purge = purge_props and chunks is None

        def ops(image: Image) -> list[PatchOp]:
            v1.check_immutable(image, meta, ctx)
            return v1.update_ops(image, meta, purge)

        image = self.images.update(ctx, image_id, ops)
        if meta.location is not None and meta.location not in {loc.url for loc in image.locations}:
            return self.images.add_location(ctx, image_id, meta.location, None)
        if not images_domain.is_queued(image):
            return image  # size/checksum sent back for an image with data were judged by check_immutable
        return self._take_data(ctx, image, meta, chunks)

    def _take_data(self, ctx: RequestContext, image: Image, meta: v1.V1Meta, chunks: Iterable[bytes] | None) -> Image:
        if chunks is not None:
            terms = UploadTerms.v1(size=meta.size, checksum=meta.checksum)
            return self.data.upload(ctx, image.id, chunks, meta.size, terms)
        if meta.size == 0:
            return self._activate_empty(ctx, image.id)
        return image

    def _activate_empty(self, ctx: RequestContext, image_id: str) -> Image:
        # v1: a queued image declared with size 0 is active at once, with no data and no location.
        def change(image: Image) -> Image:
            policy.require_modify(image, ctx, "upload_image")
            return replace(images_domain.activate(image), size=0)

        return self._writer.change(ctx, image_id, change, guard=STATUS).after

    def show(self, ctx: RequestContext, image_id: str) -> Image:
        """The image's metadata (HEAD); raises NotFound."""
        return self.images.show(ctx, image_id)

    def download(self, ctx: RequestContext, image_id: str) -> Download:
        """The data of an active image: 403 deactivated (non-admins), 404 for any other status."""
        plan = self.data.download(ctx, image_id, None, None, inline=True)
        # Deactivated reaches here only for admins (the data service refused everyone else).
        if not images_domain.has_data_status(plan.image):
            raise NotFound(f"Image {image_id} is not active")
        return plan

    def delete(self, ctx: RequestContext, image_id: str) -> Image:
        """Delete (200 in v1); raises ProtectedImage, NotFound."""
        return self.images.delete(ctx, image_id)

    def index(self, ctx: RequestContext, query: ListQuery) -> Page:
        """One page of a v1 listing."""
        return self.images.index(ctx, query)

    # -- members --------------------------------------------------------
    def list_members(self, ctx: RequestContext, image_id: str) -> list[Member]:
        """The image's memberships the caller may see."""
        return self.members.index(ctx, image_id)

    def show_member(self, ctx: RequestContext, image_id: str, member_id: str) -> Member:
        """One membership; raises NotFound."""
        return self.members.show(ctx, image_id, member_id)

    def add_member(self, ctx: RequestContext, image_id: str, member_id: str) -> Member:
        """Share the image with ``member_id`` (idempotent, as v1's PUT); raises Forbidden, NotFound."""
        try:
            return self.members.create_member(ctx, image_id, member_id)
        except Duplicate:
            return self.members.show(ctx, image_id, member_id)

    def delete_member(self, ctx: RequestContext, image_id: str, member_id: str) -> None:
        """Stop sharing with ``member_id``; raises Forbidden, NotFound."""
        self.members.delete(ctx, image_id, member_id)

    def replace_members(self, ctx: RequestContext, image_id: str, member_ids: Iterable[str]) -> None:
        """Make the memberships exactly ``member_ids`` (owner or admin); row by row, as v1 did."""
        image = self.images.show(ctx, image_id)
        member_rules.require_shared(image)
        member_rules.require_add_or_delete(image, ctx, "add_member")
        wanted = list(dict.fromkeys(member_rules.check_member_id(m) for m in member_ids))
        current = {m.member_id for m in self.members.index(ctx, image_id)}
        for member_id in current - set(wanted):
            self.members.delete(ctx, image_id, member_id)
        for member_id in wanted:
            if member_id not in current:
                self.add_member(ctx, image_id, member_id)

    def shared_images(self, ctx: RequestContext, member_id: str) -> list[Image]:
        """Images shared with ``member_id`` in any member status (its own project, or an admin); Query, never Scan."""
        if not (ctx.is_admin or (ctx.is_reader and ctx.project_id == member_id)):
            raise Forbidden(action="get_shared_images")
        return self.members.shared_with(member_id, _SHARED_PAGE)


def _check_sources(meta: v1.V1Meta, chunks: Iterable[bytes] | None) -> None:
    if "copy_from" in meta.fields:
        raise InvalidInput("copy_from is not supported; create the image with x-image-meta-location or upload the data.")
    if meta.location is not None and chunks is not None:
        raise InvalidInput("Send either image data or x-image-meta-location, not both.")
