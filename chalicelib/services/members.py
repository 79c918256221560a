"""Image member use cases (reference 1.5, 7.3): create, list, show, update, delete.

Visibility first (an image the caller cannot see is 404), then "only shared
images have members" (403), then the member policies. The membership row
carries its image's listing sort values, so each write passes the image.
"""
from __future__ import annotations

from dataclasses import replace

from chalicelib.domain import members as rules
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import Forbidden, NotFound
from chalicelib.domain.images import Image
from chalicelib.domain import listing
from chalicelib.domain.members import Member
from chalicelib.ports import Clock, MemberRepository
from chalicelib.services.writer import ImageWriter


class MemberService:
    """Memberships of images, over the ImageWriter (for visibility and fresh reads) and a MemberRepository."""

    def __init__(self, writer: ImageWriter, repo: MemberRepository, clock: Clock, member_quota: int = 128) -> None:
        self._writer = writer
        self._repo = repo
        self._clock = clock
        self._member_quota = member_quota

    def _shared_image(self, ctx: RequestContext, image_id: str) -> Image:
        image = self._writer.visible(ctx, image_id)
        rules.require_shared(image)
        return image

    def create_member(self, ctx: RequestContext, image_id: str, member_id: object) -> Member:
        """Add ``member_id`` as pending; raises NotFound, Forbidden, InvalidInput, Duplicate, QuotaExceeded."""
        image = self._shared_image(ctx, image_id)
        rules.require_add_or_delete(image, ctx, "add_member")
        project = rules.check_member_id(member_id)
        rules.check_quota(len(self._repo.list_for_image(image_id)), self._member_quota)
        now = self._clock.now()
        member = self._repo.add(Member(image_id, project, "pending", now, now), image)
        self._catch_up(image, member)
        return member

    def index(self, ctx: RequestContext, image_id: str) -> list[Member]:
        """The memberships ``ctx`` may see: all for the owner/admin, else its own row."""
        image = self._shared_image(ctx, image_id)
        return rules.visible_rows(image, self._repo.list_for_image(image_id), ctx)

    def show(self, ctx: RequestContext, image_id: str, member_id: str) -> Member:
        """One membership; anything the caller may not do or see is NotFound (Glance hides it)."""
        try:
            image = self._shared_image(ctx, image_id)
        except Forbidden:
            raise NotFound(image_id=image_id) from None
        member = self._repo.find(image_id, member_id)
        if member is None or not rules.may_read(image, member, ctx):
            raise rules.MemberNotFound(image_id=image_id, member_id=member_id)
        return member

    def update(self, ctx: RequestContext, image_id: str, member_id: str, status: object) -> Member:
        """Set the status (member project or admin only); raises NotFound, Forbidden, InvalidInput."""
        image = self._shared_image(ctx, image_id)
        member = rules.require_found(self._repo.find(image_id, member_id), image_id, member_id)
        if not rules.may_read(image, member, ctx):
            raise rules.MemberNotFound(image_id=image_id, member_id=member_id)
        rules.require_modify(member, ctx)
        changed = replace(member, status=rules.check_status(status), updated_at=self._clock.now())
        stored = self._repo.update(changed, image)
        self._catch_up(image, stored)
        return stored

    def delete(self, ctx: RequestContext, image_id: str, member_id: str) -> None:
        """Remove a membership (owner or admin only); raises NotFound, Forbidden."""
        image = self._shared_image(ctx, image_id)
        member = rules.require_found(self._repo.find(image_id, member_id), image_id, member_id)
        if not rules.may_read(image, member, ctx):
            raise rules.MemberNotFound(image_id=image_id, member_id=member_id)
        rules.require_add_or_delete(image, ctx, "delete_member")
        self._repo.remove(image_id, member_id)

    def _catch_up(self, seen: Image, member: Member) -> None:
        # An image write racing this one may have refreshed the rows before ours existed:
        # if the image moved since we read it, copy its current values onto the rows.
        current = self._writer.get(seen.id)
        if current.version != seen.version:
            self._repo.refresh_listing(current)

    def shared_with(self, member_id: str, page_size: int) -> list[Image]:
        """Images shared with ``member_id`` in any member status, listed and still shared (one index read)."""
        source = listing.Source("member", member_id, "all")
        found = self._repo.iter_shared(source, page_size)
        return [im for im in found if im.listed and im.visibility == "shared"]
