"""In-memory repositories, clock, ids and launcher for unit, contract and API tests (never shipped)."""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Mapping

from chalicelib.domain import listing, listing_keys, rules, usage
from chalicelib.domain.errors import ConcurrentUpdate, Duplicate, InvalidInput, NotFound, QuotaExceeded, TaskNotFound
from chalicelib.domain.images import Image
from chalicelib.domain.listing import Source
from chalicelib.domain.listing_keys import KeyRow, Scan
from chalicelib.domain.members import MEMBER_STATUSES, Member, MemberNotFound
from chalicelib.domain.tasks import Task
from chalicelib.ports import VERSION, Guard


def _fields(image: Image) -> dict[str, Any]:
    """The image's fields as a status-guarded save compares them: properties split as the DynamoDB record keeps
    them (the service's os_glance* apart from users')."""
    values = {f.name: getattr(image, f.name) for f in dataclasses.fields(image) if f.name != "extra_properties"}
    extras = image.extra_properties
    values["user_properties"] = {k: v for k, v in extras.items() if not rules.is_service_property(k)}
    values["service_properties"] = {k: v for k, v in extras.items() if rules.is_service_property(k)}
    return values


class InMemoryImageRepository:
    """Dict-backed ImageRepository with the same conditional-write contract."""

    def __init__(self) -> None:
        self.items: dict[str, Image] = {}
        self.members: InMemoryMemberRepository | None = None
        self.counters: dict[str, dict[str, int]] = {}

    def get(self, image_id: str) -> Image:
        if image_id not in self.items:
            raise NotFound(image_id=image_id)
        return self.items[image_id]

    def add(self, image: Image, *, usage_limits: Mapping[str, int] | None = None) -> Image:
        if image.id in self.items:
            raise Duplicate(image_id=image.id)
        listing_keys.tag_writes(None, image)  # the same refusal as the tag rows' store
        self._count(image.owner, usage.delta(None, image), usage_limits or {})
        self.items[image.id] = image
        return image

    def _count(self, owner: str | None, moves: Mapping[str, int], limits: Mapping[str, int]) -> None:
        if not owner:
            return
        counters = self.counters.setdefault(owner, {k: 0 for k in usage.COUNTERS})
        for name, limit in usage.enforced(limits, moves).items():
            if counters[name] + moves[name] > limit:
                raise QuotaExceeded(what=usage.COUNTERS[name], limit=limit)
        for name, move in moves.items():
            counters[name] += move

    def usage(self, project_id: str) -> dict[str, int]:
        return dict(self.counters.get(project_id, {k: 0 for k in usage.COUNTERS}))

    def save(
        self, image: Image, *, expected: Image, usage_delta: Mapping[str, int] | None = None,
        usage_limits: Mapping[str, int] | None = None, guard: Guard = VERSION,
    ) -> Image:
        current = self.items.get(image.id)
        if current is None or current.status != expected.status:
            raise ConcurrentUpdate(image_id=image.id)
        if guard.version:
            if current.version != expected.version:
                raise ConcurrentUpdate(image_id=image.id)
            stored = replace(image, version=expected.version + 1)
        else:
            # Only what the save changes is written; it must still hold what the save saw.
            old, new, now = _fields(expected), _fields(image), _fields(current)
            changed = {k for k in new if new[k] != old[k]} - {"version"}
            guarded = (changed - {"updated_at"}) | {"service_properties"} | set(guard.depends)
            if any(listing_keys.tag_writes(expected, image)):  # rows change: as the DynamoDB adapter needs
                guarded |= listing_keys.TAG_ROW_FIELDS
            if any(now[k] != old[k] for k in guarded):
                raise ConcurrentUpdate(image_id=image.id)
            now.update({k: new[k] for k in changed})
            props = {**now.pop("user_properties"), **now.pop("service_properties")}
            now["version"] = current.version + 1
            stored = replace(current, **now, extra_properties=props)
        listing_keys.tag_writes(current, stored)
        self._count(image.owner, usage_delta or {}, usage_limits or {})
        self.items[image.id] = stored
        return stored

    def key_cursors(self, source: Source, scan: Scan, marker: Image | None) -> list[ListCursor]:
        statuses = {}
        if source.kind == "member" and self.members is not None:
            statuses = {m.image_id: m.status for m in self.members.rows.values() if m.member_id == source.value}
        chosen = [im for im in self.items.values()
                  if listing.in_source(im, source, statuses) and im.os_hidden == scan.hidden]
        if scan.tag is not None:  # the tag rows: the source's listed images with the tag
            chosen = [im for im in chosen if scan.tag in listing_keys.tag_rows(im)]
        rows = [KeyRow(listing_keys.sort_range(im, scan.key), im.id) for im in chosen]
        return [ListCursor(r) for r in listing_keys.ordered_rows(rows, scan, listing_keys.ranges_after(scan, marker))]

    def get_many(self, image_ids: list[str]) -> dict[str, Image]:
        return {i: self.items[i] for i in image_ids if i in self.items}

    def iter_pending_delete(self, deleted_before: datetime) -> Iterator[Image]:
        pending = [im for im in self.items.values() if im.status.value == "pending_delete" and im.updated_at < deleted_before]
        return iter(sorted(pending, key=lambda im: im.updated_at))


class InMemoryMemberRepository:
    def __init__(self, images: InMemoryImageRepository | None = None) -> None:
        self.rows: dict[tuple[str, str], Member] = {}
        self.images = images

    def find(self, image_id: str, member_id: str) -> Member | None:
        return self.rows.get((image_id, member_id))

    def add(self, member: Member, image: Image | None = None) -> Member:
        key = (member.image_id, member.member_id)
        if key in self.rows:
            raise Duplicate(f"Member {member.member_id} already exists.")
        self.rows[key] = member
        return member

    def list_for_image(self, image_id: str) -> list[Member]:
        return sorted((m for m in self.rows.values() if m.image_id == image_id), key=lambda m: (m.created_at, m.member_id))

    def update(self, member: Member, image: Image) -> Member:
        key = (member.image_id, member.member_id)
        if key not in self.rows:
            raise MemberNotFound(image_id=member.image_id, member_id=member.member_id)
        self.rows[key] = member
        return member

    def remove(self, image_id: str, member_id: str) -> None:
        if self.rows.pop((image_id, member_id), None) is None:
            raise MemberNotFound(image_id=image_id, member_id=member_id)

    def refresh_listing(self, image: Image) -> None:
        """Nothing is copied here: the fake reads images directly."""

    def shared_cursors(self, source: Source, scan: Scan, marker: Image | None) -> list[ListCursor]:
        assert self.images is not None, "wire the fake member repository to its image repository"
        statuses = MEMBER_STATUSES if source.member_status == "all" else (source.member_status,)
        cursors = []
        for status in statuses:
            shared = {m.image_id for m in self.rows.values() if m.member_id == source.value and m.status == status}
            chosen = [im for im in self.images.items.values() if im.id in shared and im.listed
                      and im.visibility == "shared" and im.os_hidden == scan.hidden]
            if scan.tag is not None:  # the membership's tag rows
                chosen = [im for im in chosen if scan.tag in im.tags]
            rows = [KeyRow(listing_keys.sort_range(im, scan.key), im.id) for im in chosen]
            cursors += [ListCursor(r) for r in listing_keys.ordered_rows(rows, scan, listing_keys.ranges_after(scan, marker))]
        return cursors

    def iter_shared(self, source: Source, page_size: int) -> Iterator[Image]:
        assert self.images is not None, "wire the fake member repository to its image repository"
        statuses = {m.image_id: m.status for m in self.rows.values() if m.member_id == source.value}
        chosen = [im for im in self.images.items.values() if im.visibility == "shared" and listing.in_source(im, source, statuses)]
        return iter(sorted(chosen, key=lambda im: listing.order_key(im, listing.DEFAULT_ORDER)))


class ListCursor:
    """A KeyCursor over rows already in order (the fakes' index)."""

    def __init__(self, rows: list[KeyRow]) -> None:
        self._rows = rows
        self.exhausted = not rows
        self.fetched = 0

    def fetch(self, count: int) -> list[KeyRow]:
        page, self._rows = self._rows[:count], self._rows[count:]
        self.fetched += len(page)
        self.exhausted = not self._rows
        return page


class TickingClock:
    """Each call is one second later, so created_at orders are deterministic."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, tzinfo=timezone.utc)

    def now(self) -> datetime:
        self.current += timedelta(seconds=1)
        return self.current


class SequentialIds:
    def __init__(self) -> None:
        self._n = itertools.count(1)

    def new_id(self) -> str:
        return f"00000000-0000-4000-8000-{next(self._n):012d}"


class InMemoryTaskRepository:
    """Dict-backed TaskRepository with the same conditional-write and ordering contract."""

    def __init__(self) -> None:
        self.items: dict[str, Task] = {}

    def get(self, task_id: str) -> Task:
        if task_id not in self.items:
            raise TaskNotFound(task_id=task_id)
        return self.items[task_id]

    def add(self, task: Task) -> Task:
        if task.id in self.items:
            raise Duplicate(f"Task with identifier {task.id} already exists!")
        self.items[task.id] = task
        return task

    def save(self, task: Task, *, expected: Task) -> Task:
        current = self.items.get(task.id)
        if current is None or current.version != expected.version or current.status != expected.status:
            raise ConcurrentUpdate(f"Task {task.id} was changed by another request; try again.")
        stored = replace(task, version=expected.version + 1)
        self.items[task.id] = stored
        return stored

    def iter_owner(
        self, owner: str | None, marker: Task | None, sort_dir: str, page_size: int, sort_key: str = "created_at",
    ) -> Iterator[Task]:
        if sort_dir not in ("asc", "desc") or sort_key not in ("created_at", "status"):
            raise InvalidInput(f"Invalid sort: {sort_key} {sort_dir}")
        desc = sort_dir == "desc"

        def key(t: Task) -> tuple[str, ...]:
            stamp = t.created_at.isoformat()
            return (t.status.value, stamp, t.id) if sort_key == "status" else (stamp, t.id)

        chosen = sorted((t for t in self.items.values() if owner is None or t.owner == owner), key=key, reverse=desc)
        if marker is not None:
            bound = key(marker)
            chosen = [t for t in chosen if (key(t) < bound if desc else key(t) > bound)]
        return iter(chosen)

    def list_for_image(self, image_id: str) -> list[Task]:
        return sorted((t for t in self.items.values() if t.image_id == image_id), key=lambda t: (t.created_at, t.id))


class RecordingLauncher:
    """ImportLauncher that records each start; a repeated name is a no-op, as with Step Functions."""

    def __init__(self) -> None:
        self.started: list[tuple[str, dict[str, Any]]] = []

    def start(self, name: str, payload: Mapping[str, object]) -> None:
        if any(started == name for started, _ in self.started):
            return
        self.started.append((name, dict(payload)))
