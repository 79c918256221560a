"""One list page, assembled from the sources' index keys: merge, then fetch only the page.

Each source (own images, public, community, shares to the caller; one
cursor per key range and member status) yields index keys in the scan's
order. The keys are merged first; only the merged candidates are fetched
(BatchGet) and judged (``listing.listable`` and ``listing.matches``), so an
unfiltered page reads sources x (limit + 1) keys and limit images.

What the index cannot narrow costs reads, so a page has a budget of
2 x sources x (limit + 1) rows, half for keys and half for images. When it is
spent the page ends short, with ``next`` at the last listable image examined:
every image before it in the order has been judged, so a client that follows
``next`` (as Glance clients do) still sees every match exactly once. The first
Query of every cursor runs concurrently.
"""
from __future__ import annotations

import heapq
import threading
from collections import deque
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterator

from chalicelib.domain import listing
from chalicelib.domain.images import Image
from chalicelib.domain.listing_keys import KeyRow, Scan
from chalicelib.ports import KeyCursor

Fetch = Callable[[list[str]], dict[str, Image]]
Accept = Callable[[Image], bool]

_POOL: list[Executor] = []
_POOL_LOCK = threading.Lock()


def shared_pool() -> Executor:
    """The process's listing pool, built on first use (never at import)."""
    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(max_workers=8, thread_name_prefix="listing"))
        return _POOL[0]


class ReadBudget:
    """Rows a page may still read."""

    def __init__(self, rows: int) -> None:
        self.left = rows

    def take(self, wanted: int) -> int:
        """Grant up to ``wanted`` rows (0 when spent)."""
        granted = max(0, min(wanted, self.left))
        self.left -= granted
        return granted


@dataclass(frozen=True)
class _Cut:
    """A cursor stopped by the budget: nothing after ``sort`` in the order has been seen."""

    sort: str


class _Stream:
    def __init__(self, cursor: KeyCursor, page: int, budget: ReadBudget | None) -> None:
        self.cursor, self.page, self.budget = cursor, page, budget
        self.rows: deque[KeyRow] = deque()
        self.last = ""

    def prime(self, count: int) -> None:
        self.rows.extend(self.cursor.fetch(count))

    def __iter__(self) -> Iterator[KeyRow | _Cut]:
        while True:
            while self.rows:
                row = self.rows.popleft()
                self.last = row.sort
                yield row
            if self.cursor.exhausted:
                return
            count = self.page if self.budget is None else self.budget.take(self.page)
            if count == 0:
                yield _Cut(self.last)
                return
            self.rows.extend(self.cursor.fetch(count))


@dataclass
class _Page:
    limit: int
    found: list[Image]
    last_seen: Image | None = None
    stopped: bool = False

    @property
    def full(self) -> bool:
        return len(self.found) >= self.limit


def assemble(
    cursors: list[KeyCursor], scan: Scan, order: listing.Order, marker: Image | None, *, sources: int, limit: int,
    fetch: Fetch, visible: Accept, wanted: Accept, executor: Executor | None = None,
) -> tuple[list[Image], str | None]:
    """The page's images and its ``next`` marker (None when the walk is over)."""
    per_half = max(sources, 1) * (limit + 1)
    keys = ReadBudget(per_half) if not scan.grouped else None
    items = ReadBudget(per_half) if not scan.grouped else None
    first = max(2, min(limit + 1, per_half // max(len(cursors), 1)))
    streams = [_Stream(c, limit + 1, keys) for c in cursors]
    if keys is not None:
        keys.take(first * len(streams))
    _prime(streams, first, executor)
    merged = heapq.merge(*streams, key=lambda r: scan.compare_key(r.sort), reverse=scan.desc)
    page = _Page(limit, [])
    if scan.grouped:
        _fill_grouped(page, merged, scan, order, marker, fetch, visible, wanted)
    else:
        _fill(page, merged, fetch, visible, wanted, items)
    if page.full:
        return page.found, page.found[-1].id
    if page.stopped and page.last_seen is not None:
        return page.found, page.last_seen.id
    return page.found, None


def _prime(streams: list[_Stream], count: int, executor: Executor | None) -> None:
    if len(streams) <= 1 or executor is None:
        for stream in streams:
            stream.prime(count)
        return
    for future in [executor.submit(s.prime, count) for s in streams]:
        future.result()


def _judge(page: _Page, ids: list[str], fetch: Fetch, visible: Accept, wanted: Accept) -> None:
    found = fetch(ids)
    for image_id in ids:
        image = found.get(image_id)
        if image is None or not visible(image):
            continue  # gone since the index row was read, or no longer ours to list
        page.last_seen = image
        if wanted(image):
            page.found.append(image)
            if page.full:
                return


def _fill(page: _Page, merged: Iterator[KeyRow | _Cut], fetch: Fetch, visible: Accept, wanted: Accept,
          items: ReadBudget | None) -> None:
    seen: set[str] = set()
    chunk: list[str] = []
    for row in merged:
        if isinstance(row, _Cut):
            page.stopped = True
            break
        if row.image_id in seen:  # one image can sit in two sources (owner and public)
            continue
        seen.add(row.image_id)
        chunk.append(row.image_id)
        if len(chunk) >= min(page.limit - len(page.found), 100):
            if not _judge_within(page, chunk, fetch, visible, wanted, items):
                return
            chunk = []
            if page.full:
                return
    if chunk:
        _judge_within(page, chunk, fetch, visible, wanted, items)


def _judge_within(page: _Page, chunk: list[str], fetch: Fetch, visible: Accept, wanted: Accept,
                  items: ReadBudget | None) -> bool:
    """Judge the chunk's images within the budget; False when the budget ended the page."""
    granted = len(chunk) if items is None else items.take(len(chunk))
    _judge(page, chunk[:granted], fetch, visible, wanted)
    if granted < len(chunk) and not page.full:
        page.stopped = True
        return False
    return True


def _fill_grouped(page: _Page, merged: Iterator[KeyRow | _Cut], scan: Scan, order: listing.Order,
                  marker: Image | None, fetch: Fetch, visible: Accept, wanted: Accept) -> None:
    """Secondary keys the index lacks: fetch each run of equal primary values whole, sort it, judge it."""
    seen: set[str] = set()
    run: list[str] = []
    run_key: str | None = None

    def flush() -> None:
        found = {}
        for start in range(0, len(run), 100):
            found.update(fetch(run[start:start + 100]))
        ordered = sorted(found.values(), key=lambda im: listing.order_key(im, order))
        for image in listing.after(ordered, order, marker):
            if visible(image) and wanted(image):
                page.found.append(image)
                if page.full:
                    return

    for row in merged:
        if isinstance(row, _Cut) or row.image_id in seen:
            continue
        seen.add(row.image_id)
        group = scan.group_key(row.sort)
        if group != run_key and run:
            flush()
            if page.full:
                return
            run = []
        run_key = group
        run.append(row.image_id)
    if run:
        flush()
