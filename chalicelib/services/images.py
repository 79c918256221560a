"""Image metadata use cases: create, show, list, update, delete, tags.

Each write is a judge (policy, then the domain's rule) handed to the
ImageWriter, which loads, judges and saves conditionally, and judges the
fresh image again after a lost race, so the domain rules always judge the
stored state.
"""
from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

from chalicelib.config import LimitSettings
from chalicelib.domain import images as domain
from chalicelib.domain import listing, listing_keys, multipart, policy, rules, usage
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import BadTransition, Forbidden, InvalidInput, InvalidTransition, NotFound, QuotaExceeded
from chalicelib.domain.images import Image
from chalicelib.domain.patch import PatchOp, apply_patch
from chalicelib.domain import stores
from chalicelib.domain.data import data_key, staging_key, upload_key
from chalicelib.domain.stores import StoreCatalog
from chalicelib.ports import STATUS, Clock, IdGen, ImageRepository, KeyCursor, MemberRepository, ObjectStore
from chalicelib.services import listing_page
from chalicelib.services.locations import LocationSupport, add_location, removed
from chalicelib.services.writer import ImageWriter
# Core attributes a create body sets directly on the Image.
_CREATE_CORE = frozenset(
    {"name", "visibility", "protected", "os_hidden", "container_format", "disk_format", "min_disk", "min_ram"}
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
    """Image metadata use cases: reads from the ImageRepository, every write through the ImageWriter."""

    def __init__(
        self,
        writer: ImageWriter,
        repo: ImageRepository,
        members: MemberRepository,
        clock: Clock,
        ids: IdGen,
        limits: LimitSettings,
        locations: LocationSupport,
        store: ObjectStore | None = None,
        delayed_delete: bool = False,
        executor: Executor | None = None,
    ) -> None:
        self._writer = writer
        self._repo = repo
        self._members = members
        self._clock = clock
        self._ids = ids
        self._limits = limits
        self._store = store
        self._delayed_delete = delayed_delete
        self._locations = locations
        self._executor = executor  # runs the sources' first Queries concurrently (default: a shared pool)

    # -- reads ---------------------------------------------------------
    def show(self, ctx: RequestContext, image_id: str) -> Image:
        """Return a visible, undeleted image; raises NotFound otherwise (also for a caller with no role)."""
        return self._writer.visible(ctx, image_id)

    def index(self, ctx: RequestContext, query: ListQuery) -> Page:
        """One page of the images ``ctx`` may list: every source's index keys merged, then the page fetched.

        A page reads at most 2 x sources x (limit + 1) rows; a filter the indexes
        cannot narrow may end it short, with ``next`` (see services/listing_page).
        """
        policy.require_reader(ctx, "get_images")
        marker = self._marker(ctx, query.marker)
        if query.limit == 0:
            return Page([], None)
        filters = query.filters
        scan = listing_keys.plan(query.order, filters)
        sources = listing.sources_for(ctx, filters.visibility, filters.member_status)
        cursors = [c for s in sources for c in self._cursors(s, scan, marker)]
        found, next_marker = listing_page.assemble(
            cursors, scan, query.order, marker, sources=len(sources), limit=query.limit, fetch=self._repo.get_many,
            # Any image the caller may list can carry ``next``; the page holds those that pass the filters.
            visible=lambda im: listing.listable(im, ctx, "all"),
            wanted=lambda im: listing.listable(im, ctx, filters.visibility) and listing.matches(im, filters),
            executor=self._executor or listing_page.shared_pool(),
        )
        return Page(found, next_marker)

    def _cursors(self, source: listing.Source, scan: listing_keys.Scan, marker: Image | None) -> list[KeyCursor]:
        # "Shared with me" is read from the membership rows (O(page)), the rest from the image indexes.
        if source.kind == "member":
            return self._members.shared_cursors(source, scan, marker)
        return self._repo.key_cursors(source, scan, marker)

    def usage(self, ctx: RequestContext) -> dict[str, dict[str, int]]:
        """``/v2/info/usage`` for the caller's project: counters and the configured limits."""
        policy.require_reader(ctx, "get_images")
        counters = self._writer.usage(ctx.project_id) if ctx.project_id else {}
        lim = self._limits
        return usage.report(counters, count_total=lim.limit_image_count_total,
                            count_uploading=lim.limit_image_count_uploading,
                            size_total_mib=lim.limit_image_size_total, stage_total_mib=lim.limit_image_stage_total)

    def require_within_size_total(self, image: Image) -> None:
        """Glance enforces image_size_total when an import is asked for (delta 0: already over is 413)."""
        limit = self._writer.usage_limit("image_bytes")
        if limit >= 0 and image.owner is not None and self._writer.usage(image.owner)["image_bytes"] > limit:
            raise QuotaExceeded(what=usage.COUNTERS["image_bytes"], limit=limit)

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
        if "id" in body:
            rules.check_image_id(body["id"])  # v1 headers reach here unchecked by the schema
        owner = body.get("owner", ctx.project_id)
        policy.require_add_image(ctx, owner)
        visibility = body.get("visibility", "shared")
        if visibility != "shared":
            policy.require_visibility_change(ctx, visibility)
        extras = {k: v for k, v in body.items() if k not in rules.CORE}
        rules.check_property_keys(extras)
        rules.check_core_values(body)
        tags = frozenset(body.get("tags", ()))
        rules.check_quotas(extras, tags, property_quota=self._limits.image_property_quota, tag_quota=self._limits.image_tag_quota)
        rules.check_metadata_size(body.get("name"), extras, tags)
        now = self._clock.now()
        core = {k: v for k, v in body.items() if k in _CREATE_CORE}
        image = Image(
            id=body.get("id") or self._ids.new_id(),
            owner=owner,
            created_at=now,
            updated_at=now,
            tags=tags,
            extra_properties=extras,
            **core,
        )
        return self._writer.add(image)

    def update(
        self, ctx: RequestContext, image_id: str, changes: list[PatchOp] | Callable[[Image], list[PatchOp]]
    ) -> Image:
        """Apply JSON-patch ``changes`` atomically; raises Forbidden/Conflict/QuotaExceeded.

        ``changes`` may be a function of the stored image (v1's PUT derives its
        removals from it); it runs again on the fresh image after a lost race.
        """

        loc = self._locations.changes(image_id)

        def change(image: Image) -> Image:
            policy.require_modify(image, ctx)
            updated = apply_patch(image, changes(image) if callable(changes) else changes, ctx, loc)
            rules.check_quotas(
                updated.extra_properties,
                updated.tags,
                property_quota=self._limits.image_property_quota,
                tag_quota=self._limits.image_tag_quota,
            )
            rules.check_metadata_size(updated.name, updated.extra_properties, updated.tags)
            return updated

        written = self._writer.change(ctx, image_id, change, include_deleted=True)
        # Bytes go only after the record no longer names them (Glance removes a dropped location's data).
        self._locations.drop_data(image_id, removed(written.before, written.after))
        return written.after

    def add_location(self, ctx: RequestContext, image_id: str, url: str, validation: Mapping[str, str] | None) -> Image:
        """v1's ``x-image-meta-location`` under the new location API's rules: a queued image gets ``url`` and
        becomes active, in one conditional write, with no hashing task (v1 never hashed a location's data).
        ``POST /v2/images/{id}/locations`` goes through services/location_import."""
        judge = lambda image: add_location(self._locations, image, ctx, url, validation)  # noqa: E731 - one expression
        return self._writer.change(ctx, image_id, judge, guard=STATUS).after

    def delete_from_store(self, ctx: RequestContext, catalog: StoreCatalog, store_id: str, image_id: str) -> Image:
        """``DELETE /v2/stores/{store_id}/{image_id}``: drop that store's location, then its bytes. Glance's
        rules: 409 unknown store, 404 unseen, 403 policy or the only location, 409 not active, 404 not there."""
        stores.require_configured(catalog, store_id)

        def change(image: Image) -> Image:
            if not policy.can_see_locations(image, ctx):
                raise Forbidden(action="get_image_location")
            policy.require_modify(image, ctx, "delete_image_location")
            gone = stores.check_delete_from_store(catalog, image, store_id)
            return replace(image, locations=tuple(loc for loc in image.locations if loc != gone))

        written = self._writer.change(ctx, image_id, change, guard=STATUS)
        self._locations.drop_data(image_id, removed(written.before, written.after))
        return written.after

    def list_locations(self, ctx: RequestContext, image_id: str) -> list[domain.Location]:
        """The image's locations, for the service role (and admins) only."""
        policy.require_fetch_locations(ctx)
        image = self._writer.get(image_id)  # the service role reads any image, as an admin does
        if domain.is_soft_deleted(image):
            raise NotFound(image_id=image_id)
        return list(image.locations)

    def add_tag(self, ctx: RequestContext, image_id: str, tag: str) -> Image:
        """Add ``tag`` (idempotent); raises InvalidInput for a long tag, QuotaExceeded past the quota."""
        if len(tag) > rules.MAX_KEY_LENGTH:
            raise InvalidInput(f"Tag is longer than {rules.MAX_KEY_LENGTH} characters.")

        def change(image: Image) -> Image:
            policy.require_modify(image, ctx)
            tags = image.tags | {tag}
            rules.check_quotas({}, tags, property_quota=-1, tag_quota=self._limits.image_tag_quota)
            return replace(image, tags=tags)

        return self._writer.change(ctx, image_id, change).after

    def delete_tag(self, ctx: RequestContext, image_id: str, tag: str) -> Image:
        """Remove ``tag``; raises NotFound when the image lacks it."""

        def change(image: Image) -> Image:
            policy.require_modify(image, ctx)
            if tag not in image.tags:
                raise NotFound(f"Tag {tag} not found.")
            return replace(image, tags=image.tags - {tag})

        return self._writer.change(ctx, image_id, change).after

    def delete(self, ctx: RequestContext, image_id: str) -> Image:
        """Mark the image deleted (or pending_delete); raises ProtectedImage, BadTransition."""

        def change(image: Image) -> Image:
            policy.require_modify(image, ctx, "delete_image")
            try:
                return domain.mark_deleted(image, delayed_delete=self._delayed_delete, has_data=image.size is not None)
            except InvalidTransition as exc:
                raise BadTransition(**exc.kwargs) from None

        deleted = self._writer.change(ctx, image_id, change).after
        if domain.is_deleted(deleted):
            # Data goes only after the record says deleted; pending_delete keeps it for the scrubber.
            self._drop_all_data(deleted)
        return deleted

    def _drop_all_data(self, image: Image) -> None:
        if self._store is None:
            return
        self._locations.drop_data(image.id, image.locations)
        self._store.delete(data_key(image.id))
        self._store.delete(staging_key(image.id))
        self._store.delete(upload_key(image.id))  # a presigned upload not yet imported
        upload = multipart.pending(image)
        if upload is not None:  # a multipart upload in progress: its parts go too
            self._store.abort_multipart(upload_key(image.id), upload.upload_id)

    def scrub(self, now: datetime, delay: timedelta) -> list[str]:
        """Purge pending_delete images deleted more than ``delay`` ago: deleted first, then their data.

        Each move is conditional on the image still being pending_delete, so a
        restore or a second scrubber racing this one is never overridden.
        """
        purged = []
        for image in self._repo.iter_pending_delete(now - delay):

            def purge(current: Image, seen: Image = image) -> Image:
                # Only the pending_delete image the index showed: a restore or another scrubber wins.
                return domain.purge(current) if current == seen else current

            try:
                written = self._writer.change_stored(image.id, purge)
            except NotFound:
                continue
            if written.changed:
                self._drop_all_data(image)
                purged.append(image.id)
        return purged

    def deactivate(self, ctx: RequestContext, image_id: str) -> Image:
        """active -> deactivated (no-op when already there); other statuses are Forbidden."""
        return self._act(ctx, image_id, "deactivate", domain.request_deactivate)

    def reactivate(self, ctx: RequestContext, image_id: str) -> Image:
        """deactivated -> active (no-op when already there); other statuses are Forbidden."""
        return self._act(ctx, image_id, "reactivate", domain.request_reactivate)

    def _act(self, ctx: RequestContext, image_id: str, action: str, move: domain.Transition) -> Image:
        def change(image: Image) -> Image:
            policy.require_modify(image, ctx, action)
            return move(image)

        return self._writer.change(ctx, image_id, change).after
