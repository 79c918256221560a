"""Image metadata use cases: create, show, list, update, delete, tags.

Each use case loads, checks policy, calls the domain, then saves with a
conditional write. A write that loses a race re-reads and retries on the
fresh image, so the domain rules always judge the stored state.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

from chalicelib.domain import images as domain
from chalicelib.domain import listing, policy, rules, usage
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import (
    BadTransition, ConcurrentUpdate, Conflict, Forbidden, InvalidInput, InvalidTransition, NotFound,
)
from chalicelib.domain.images import Image
from chalicelib.domain.patch import PatchOp, apply_patch
from chalicelib.domain.data import data_key, staging_key, upload_key
from chalicelib.ports import Clock, IdGen, ImageRepository, MemberRepository, ObjectStore
from chalicelib.services.locations import LocationSupport, add_location, removed

_RETRIES = 5
# Soft-deleted: 404 on every read (Glance's ImageRepo.get), and never changed again.
_SOFT_DELETED = frozenset({domain.S.DELETED, domain.S.PENDING_DELETE})
# Core attributes a create body sets directly on the Image.
_CREATE_CORE = frozenset(
    {"name", "visibility", "protected", "os_hidden", "container_format", "disk_format", "min_disk", "min_ram"}
)


@dataclass(frozen=True)
class Limits:
    """Per-image quotas (negative = unlimited)."""

    property_quota: int = 128
    tag_quota: int = 128
    storage_quota: int = 0  # bytes per project; 0 = unlimited
    # Keystone-style per-project limits (reference 7.5); sizes in MiB; negative = unlimited.
    count_total: int = -1
    count_uploading: int = -1
    size_total_mib: int = -1
    stage_total_mib: int = -1

    def counters(self) -> dict[str, int]:
        """The limit of each usage counter."""
        return usage.project_limits(
            storage_quota=self.storage_quota, count_total=self.count_total, count_uploading=self.count_uploading,
            size_total_mib=self.size_total_mib, stage_total_mib=self.stage_total_mib,
        )


@dataclass(frozen=True)
class ListQuery:
    """A parsed ``GET /v2/images``."""

    filters: listing.Filters
    order: listing.Order
    limit: int
    marker: str | None = None


@dataclass(frozen=True)
class Page:
    images: list[Image]
    next_marker: str | None


class ImageService:
    """Image metadata use cases over an ImageRepository."""

    def __init__(
        self,
        repo: ImageRepository,
        members: MemberRepository,
        clock: Clock,
        ids: IdGen,
        limits: Limits,
        store: ObjectStore | None = None,
        delayed_delete: bool = False,
        locations: LocationSupport | None = None,
    ) -> None:
        self.repo = repo
        self.members = members
        self.clock = clock
        self.ids = ids
        self.limits = limits
        self.store = store
        self.delayed_delete = delayed_delete
        self.locations = locations if locations is not None else LocationSupport(store=store)

    # -- reads ---------------------------------------------------------
    def show(self, ctx: RequestContext, image_id: str, *, include_deleted: bool = False) -> Image:
        """Return a visible, undeleted image; raises NotFound otherwise (also for a caller with no role).

        ``include_deleted`` lets an admin's PATCH judge a deleted or pending_delete image (409)
        instead of answering 404 as Glance's reads do.
        """
        if not ctx.is_reader:
            raise NotFound(image_id=image_id)  # get_image fails, so the image is hidden (reference 0)
        image = self.repo.get(image_id)
        hidden = image.status in _SOFT_DELETED and not (include_deleted and ctx.is_admin)
        if hidden or not self._visible(image, ctx):
            raise NotFound(image_id=image_id)
        return image

    def _visible(self, image: Image, ctx: RequestContext) -> bool:
        # The membership read happens only for someone else's shared image.
        needs_member = (
            image.visibility == "shared" and not ctx.is_admin and ctx.project_id is not None and image.owner != ctx.project_id
        )
        is_member = needs_member and self.members.find(image.id, str(ctx.project_id)) is not None
        return policy.can_see(image, ctx, is_member=is_member)

    def index(self, ctx: RequestContext, query: ListQuery) -> Page:
        """One page of the images ``ctx`` may list, merged from one read stream per source."""
        policy.require_reader(ctx, "get_images")
        marker = self._marker(ctx, query.marker)
        if query.limit == 0:
            return Page([], None)
        order = query.order
        sources = listing.sources_for(ctx, query.filters.visibility, query.filters.member_status)
        streams = [self._source(s, order, marker, query.limit) for s in sources]
        found: list[Image] = []
        last_id = None
        for image in heapq.merge(*streams, key=lambda im: listing.order_key(im, order)):
            if image.id == last_id:  # one image can sit in two sources (owner and public)
                continue
            last_id = image.id
            if listing.listable(image, ctx, query.filters.visibility) and listing.matches(image, query.filters):
                found.append(image)
                if len(found) == query.limit:
                    break
        # As Glance: a full page carries ``next`` even when it happens to be the last.
        next_marker = found[-1].id if len(found) == query.limit else None
        return Page(found, next_marker)

    def _source(self, source: listing.Source, order: listing.Order, marker: Image | None, limit: int) -> Any:
        # "Shared with me" is read from the membership index (O(page)), the rest from the image indexes.
        if source.kind == "member":
            return self.members.iter_shared(source, order, marker, limit)
        return self.repo.iter_source(source, order, marker, limit)

    def usage(self, ctx: RequestContext) -> dict[str, dict[str, int]]:
        """``/v2/info/usage`` for the caller's project: counters and the configured limits."""
        policy.require_reader(ctx, "get_images")
        counters = self.repo.usage(ctx.project_id) if ctx.project_id else {}
        lim = self.limits
        return usage.report(counters, count_total=lim.count_total, count_uploading=lim.count_uploading,
                            size_total_mib=lim.size_total_mib, stage_total_mib=lim.stage_total_mib)

    def _marker(self, ctx: RequestContext, marker_id: str | None) -> Image | None:
        if marker_id is None:
            return None
        try:
            return self.show(ctx, marker_id)
        except NotFound:
            raise InvalidInput(f"Invalid marker {marker_id}: no such image.") from None

    # -- writes --------------------------------------------------------
    def create(self, ctx: RequestContext, body: Mapping[str, Any]) -> Image:
        """Create a queued image from a schema-valid body; raises Forbidden/QuotaExceeded/Duplicate."""
        rules.check_create_keys(body)
        owner = body.get("owner", ctx.project_id)
        policy.require_add_image(ctx, owner)
        visibility = body.get("visibility", "shared")
        if visibility != "shared":
            policy.require_visibility_change(ctx, visibility)
        extras = {k: v for k, v in body.items() if k not in rules.CORE}
        rules.check_property_keys(extras)
        rules.check_core_values(body)
        tags = frozenset(body.get("tags", ()))
        rules.check_quotas(extras, tags, property_quota=self.limits.property_quota, tag_quota=self.limits.tag_quota)
        rules.check_metadata_size(body.get("name"), extras, tags)
        now = self.clock.now()
        core = {k: v for k, v in body.items() if k in _CREATE_CORE}
        image = Image(
            id=body.get("id") or self.ids.new_id(),
            owner=owner,
            created_at=now,
            updated_at=now,
            tags=tags,
            extra_properties=extras,
            **core,
        )
        return self.repo.add(image, usage_limits=self.limits.counters())

    def update(
        self, ctx: RequestContext, image_id: str, changes: list[PatchOp] | Callable[[Image], list[PatchOp]]
    ) -> Image:
        """Apply JSON-patch ``changes`` atomically; raises Forbidden/Conflict/QuotaExceeded.

        ``changes`` may be a function of the stored image (v1's PUT derives its
        removals from it); it runs again on the fresh image after a lost race.
        """

        loc = self.locations.changes(image_id)

        def change(image: Image) -> Image:
            policy.require_modify(image, ctx)
            updated = apply_patch(image, changes(image) if callable(changes) else changes, ctx, loc)
            rules.check_quotas(
                updated.extra_properties,
                updated.tags,
                property_quota=self.limits.property_quota,
                tag_quota=self.limits.tag_quota,
            )
            rules.check_metadata_size(updated.name, updated.extra_properties, updated.tags)
            return updated

        before: list[Image] = []
        updated = self.mutate(ctx, image_id, change, seen=before, include_deleted=True)
        # Bytes go only after the record no longer names them (Glance removes a dropped location's data).
        self.locations.drop_data(image_id, removed(before[-1], updated))
        return updated

    def add_location(self, ctx: RequestContext, image_id: str, url: str, validation: Mapping[str, str] | None) -> Image:
        """The new location API: a queued image gets ``url`` and becomes active, in one conditional write."""
        return self.mutate(ctx, image_id, lambda image: add_location(self.locations, image, ctx, url, validation))

    def list_locations(self, ctx: RequestContext, image_id: str) -> list[domain.Location]:
        """The image's locations, for the service role (and admins) only."""
        policy.require_fetch_locations(ctx)
        image = self.repo.get(image_id)  # the service role reads any image, as an admin does
        if image.status in _SOFT_DELETED:
            raise NotFound(image_id=image_id)
        return list(image.locations)

    def add_tag(self, ctx: RequestContext, image_id: str, tag: str) -> Image:
        """Add ``tag`` (idempotent); raises InvalidInput for a long tag, QuotaExceeded past the quota."""
        if len(tag) > rules.MAX_KEY_LENGTH:
            raise InvalidInput(f"Tag is longer than {rules.MAX_KEY_LENGTH} characters.")

        def change(image: Image) -> Image:
            policy.require_modify(image, ctx)
            tags = image.tags | {tag}
            rules.check_quotas({}, tags, property_quota=-1, tag_quota=self.limits.tag_quota)
            return replace(image, tags=tags)

        return self.mutate(ctx, image_id, change)

    def delete_tag(self, ctx: RequestContext, image_id: str, tag: str) -> Image:
        """Remove ``tag``; raises NotFound when the image lacks it."""

        def change(image: Image) -> Image:
            policy.require_modify(image, ctx)
            if tag not in image.tags:
                raise NotFound(f"Tag {tag} not found.")
            return replace(image, tags=image.tags - {tag})

        return self.mutate(ctx, image_id, change)

    def delete(self, ctx: RequestContext, image_id: str) -> Image:
        """Mark the image deleted (or pending_delete); raises ProtectedImage, BadTransition."""

        def change(image: Image) -> Image:
            policy.require_modify(image, ctx, "delete_image")
            try:
                return domain.mark_deleted(image, delayed_delete=self.delayed_delete, has_data=image.size is not None)
            except InvalidTransition as exc:
                raise BadTransition(**exc.kwargs) from None

        deleted = self.mutate(ctx, image_id, change)
        if deleted.status is domain.S.DELETED:
            # Data goes only after the record says deleted; pending_delete keeps it for the scrubber.
            self._drop_all_data(deleted)
        return deleted

    def _drop_all_data(self, image: Image) -> None:
        if self.store is None:
            return
        self.locations.drop_data(image.id, image.locations)
        self.store.delete(data_key(image.id))
        self.store.delete(staging_key(image.id))
        self.store.delete(upload_key(image.id))  # a presigned upload not yet imported

    def scrub(self, now: datetime, delay: timedelta) -> list[str]:
        """Purge pending_delete images deleted more than ``delay`` ago: deleted first, then their data.

        Each move is conditional on the image still being pending_delete, so a
        restore or a second scrubber racing this one is never overridden.
        """
        purged = []
        for image in self.repo.iter_pending_delete(now - delay):
            try:
                self.repo.save(replace(domain.transition(image, domain.S.DELETED), updated_at=now), expected=image)
            except ConcurrentUpdate:
                continue
            self._drop_all_data(image)
            purged.append(image.id)
        return purged

    def deactivate(self, ctx: RequestContext, image_id: str) -> Image:
        """active -> deactivated (no-op when already there); other statuses are Forbidden."""
        return self._toggle(ctx, image_id, "deactivate", domain.S.ACTIVE, domain.S.DEACTIVATED, domain.deactivate)

    def reactivate(self, ctx: RequestContext, image_id: str) -> Image:
        """deactivated -> active (no-op when already there); other statuses are Forbidden."""
        return self._toggle(ctx, image_id, "reactivate", domain.S.DEACTIVATED, domain.S.ACTIVE, domain.activate)

    def _toggle(
        self, ctx: RequestContext, image_id: str, action: str, source: domain.ImageStatus, target: domain.ImageStatus,
        move: domain.Transition,
    ) -> Image:
        def change(image: Image) -> Image:
            policy.require_modify(image, ctx, action)
            if image.status is target:
                return image
            if image.status is not source:
                raise Forbidden(f"Not allowed to {action} image in status '{image.status.value}'")
            return move(image)

        return self.mutate(ctx, image_id, change)

    def mutate(
        self, ctx: RequestContext, image_id: str, change: Callable[[Image], Image], seen: list[Image] | None = None,
        include_deleted: bool = False,
    ) -> Image:
        """Read, change, conditionally write; on a lost race re-read and judge again.

        ``change`` sees the stored image each time and raises to refuse; the
        write is conditioned on the version and status it saw, so a status
        rule ``change`` applied still holds when the write lands. The image
        the accepted write replaced is appended to ``seen``.
        """
        for _ in range(_RETRIES):
            current = self.show(ctx, image_id, include_deleted=include_deleted)
            updated = change(current)
            if seen is not None:
                seen.append(current)
            if updated == current:
                return current
            if current.status in _SOFT_DELETED:
                raise Conflict(f"Image {image_id} is {current.status.value} and cannot be changed.")
            try:
                stored = self.repo.save(
                    replace(updated, updated_at=self.clock.now()), expected=current,
                    usage_delta=usage.delta(current, updated), usage_limits=self.limits.counters(),
                )
            except ConcurrentUpdate:
                continue
            self.refresh_members(current, stored)
            return stored
        raise ConcurrentUpdate(image_id=image_id)

    def refresh_members(self, before: Image, after: Image) -> None:
        """Keep the member rows' copies of the listing sort values in step (only shared images have rows)."""
        if "shared" in (before.visibility, after.visibility):
            self.members.refresh_listing(after)

