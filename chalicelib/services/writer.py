"""The one write path for images: load, judge, conditional save; a lost race re-reads and judges again.

Every service that changes an image does it through ``ImageWriter.change``
(or ``add`` for a new one). The judge is a pure function of the stored
image: it returns the image to store, the same image for a no-op, or raises
to refuse. The save is conditioned on what the judge saw, so a rule it applied
still holds when the write lands: for a metadata edit the whole item's version
(``VERSION``), for a status move only the status, the import lock and the
attributes it writes (``STATUS``, as Glance judges uploads and imports by status
alone: a rename never fails an upload). The owner's usage counters move in the
same atomic write.

Transient backend faults (``TransientFault``: throttling, a conflicting
transaction, a 5xx, a dropped connection) are retried here with jittered
exponential backoff; once the budget is spent the fault goes up as it is
(503 with Retry-After). A fault may hide a write that did land, so before a
retry the item is re-read: finding exactly what we wrote means it landed.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, fields, replace
from typing import Callable, Mapping, TypeVar

from chalicelib.domain import images as domain
from chalicelib.domain import policy, usage
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import ConcurrentUpdate, Conflict, Duplicate, NotFound, TransientFault
from chalicelib.domain.images import Image
from chalicelib.ports import VERSION, Clock, Guard, ImageRepository, MemberRepository

T = TypeVar("T")
Judge = Callable[[Image], Image]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard a write tries: re-reads after lost races, tries after transient faults, and their backoff."""

    races: int = 8
    persistent_races: int = 64  # compensating writes (a failed upload's requeue) must land
    transient: int = 5
    base_delay: float = 0.02
    max_delay: float = 0.5


@dataclass(frozen=True)
class Written:
    """The outcome of one accepted change: the stored image it replaced and the image now stored."""

    before: Image
    after: Image

    @property
    def changed(self) -> bool:
        return self.after != self.before


class ImageWriter:
    """Loads, judges and conditionally saves images; the only caller of ImageRepository.add/save."""

    def __init__(
        self, repo: ImageRepository, members: MemberRepository, clock: Clock, usage_limits: Mapping[str, int],
        retry: RetryPolicy = RetryPolicy(), sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._repo = repo
        self._members = members
        self._clock = clock
        self._limits = dict(usage_limits)
        self._retry = retry
        self._sleep = sleep

    # -- reads -----------------------------------------------------------------
    def get(self, image_id: str) -> Image:
        """The stored image in any status (one consistent read); raises NotFound."""
        return self._patiently(lambda: self._repo.get(image_id))

    def visible(self, ctx: RequestContext, image_id: str, *, include_deleted: bool = False) -> Image:
        """A visible, undeleted image; raises NotFound otherwise (also for a caller with no role).

        ``include_deleted`` lets an admin's PATCH judge a deleted or pending_delete image (409)
        instead of answering 404 as Glance's reads do.
        """
        if not ctx.is_reader:
            raise NotFound(image_id=image_id)  # get_image fails, so the image is hidden (reference 0)
        return self._shown(ctx, self.get(image_id), include_deleted)

    def _shown(self, ctx: RequestContext, image: Image, include_deleted: bool) -> Image:
        """``image`` if ``ctx`` may see it (a reader); raises NotFound otherwise."""
        hidden = domain.is_soft_deleted(image) and not (include_deleted and ctx.is_admin)
        if hidden or not self._may_see(image, ctx):
            raise NotFound(image_id=image.id)
        return image

    def _may_see(self, image: Image, ctx: RequestContext) -> bool:
        # The membership read happens only for someone else's shared image.
        needs_member = (
            image.visibility == "shared" and not ctx.is_admin and ctx.project_id is not None and image.owner != ctx.project_id
        )
        is_member = needs_member and self._members.find(image.id, str(ctx.project_id)) is not None
        return policy.can_see(image, ctx, is_member=is_member)

    def usage(self, project_id: str) -> dict[str, int]:
        """The project's usage counters."""
        return self._patiently(lambda: self._repo.usage(project_id))

    def usage_limit(self, counter: str) -> int:
        """The configured limit of one usage counter (negative: unlimited)."""
        return self._limits.get(counter, -1)

    # -- writes ----------------------------------------------------------------
    def add(self, image: Image) -> Image:
        """Store a new image, counted in its owner's usage; raises Duplicate, QuotaExceeded, TransientFault."""
        faults = 0
        while True:
            try:
                return self._repo.add(image, usage_limits=self._limits)
            except TransientFault as exc:
                faults = self._backoff(faults, exc)
            except Duplicate:
                # The SDK retries a call whose answer was lost; its retry then meets our own write.
                found = self._find(image.id)
                if found is not None and found.created_at == image.created_at and found.owner == image.owner:
                    return found  # an earlier try landed before its answer was lost
                raise

    def change(
        self, ctx: RequestContext, image_id: str, judge: Judge, *, include_deleted: bool = False,
        persistent: bool = False, guard: Guard = VERSION,
    ) -> Written:
        """Judge the visible image and store the result; a lost race judges the fresh image again.

        Raises what ``judge`` or ``visible`` raise, Conflict for a change to a soft-deleted image,
        ConcurrentUpdate when races never let it land, TransientFault when the backend stays unavailable.
        ``persistent`` is for compensating writes, which must not give up while the image is there.
        """
        current = self.visible(ctx, image_id, include_deleted=include_deleted)
        return self._loop(current, lambda image: self._shown(ctx, image, include_deleted), judge, persistent,
                          guard, guard_deleted=True)

    def change_stored(self, image_id: str, judge: Judge, *, persistent: bool = False, guard: Guard = VERSION) -> Written:
        """As ``change``, for the service itself: the stored image in any status, no visibility rule."""
        return self._loop(self.get(image_id), lambda image: image, judge, persistent, guard, guard_deleted=False)

    def _loop(
        self, current: Image, recheck: Judge, judge: Judge, persistent: bool, guard: Guard, *, guard_deleted: bool,
    ) -> Written:
        """From ``current`` (read and checked by the caller); after a lost race the one fresh read is ``recheck``ed
        (visibility) and judged again."""
        races = self._retry.persistent_races if persistent else self._retry.races
        faults = 0
        for _ in range(races):
            updated = judge(current)
            if updated == current:
                return Written(current, current)
            if guard_deleted and domain.is_soft_deleted(current):
                raise Conflict(f"Image {current.id} is {current.status.value} and cannot be changed.")
            candidate = replace(updated, updated_at=self._clock.now())
            try:
                stored = self._repo.save(
                    candidate, expected=current, usage_delta=usage.delta(current, updated), usage_limits=self._limits,
                    guard=guard,
                )
            except (ConcurrentUpdate, TransientFault) as exc:
                if isinstance(exc, TransientFault):
                    faults = self._backoff(faults, exc)
                # A lost answer (a fault we saw, or one the SDK retried for us into our own condition) may
                # hide a write that landed: finding exactly what we wrote means it did.
                found = self._find(current.id)
                if found is None:
                    raise NotFound(image_id=current.id) from None
                if not _carries(found, current, candidate):
                    current = recheck(found)  # the fresh image, judged on the next round
                    continue
                stored = found
            self._refresh_members(current, stored)
            return Written(current, stored)
        raise ConcurrentUpdate(image_id=current.id)

    # -- helpers ---------------------------------------------------------------
    def _refresh_members(self, before: Image, after: Image) -> None:
        # Member rows carry copies of the listing sort values (only shared images have rows).
        if "shared" in (before.visibility, after.visibility):
            self._patiently(lambda: self._members.refresh_listing(after))

    def _find(self, image_id: str) -> Image | None:
        try:
            return self.get(image_id)
        except NotFound:
            return None

    def _patiently(self, call: Callable[[], T]) -> T:
        faults = 0
        while True:
            try:
                return call()
            except TransientFault as exc:
                faults = self._backoff(faults, exc)

    def _backoff(self, faults: int, fault: TransientFault) -> int:
        """Sleep a jittered, growing delay before the next try; raises ``fault`` once the budget is spent."""
        faults += 1
        if faults >= self._retry.transient:
            raise fault
        ceiling = min(self._retry.max_delay, self._retry.base_delay * 2 ** faults)
        self._sleep(random.uniform(0, ceiling))
        return faults


def _carries(stored: Image, before: Image, candidate: Image) -> bool:
    """True when ``stored`` is past ``before`` and holds every field ``candidate`` changed, its own
    ``updated_at`` (a microsecond stamp no other write shares) included, or the hold token it set: that write
    landed."""
    if stored.version <= before.version:
        return False
    if candidate.holder is not None and candidate.holder != before.holder:
        # A fresh hold token (an upload's begin) is unique to this write: finding it is proof enough,
        # whatever edits landed since (their updated_at hides our stamp).
        return stored.holder == candidate.holder
    changed = [f.name for f in fields(Image) if f.name != "version" and getattr(before, f.name) != getattr(candidate, f.name)]
    return all(getattr(stored, name) == getattr(candidate, name) for name in changed)
