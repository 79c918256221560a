"""Ports the services depend on; adapters (and tests' fakes) implement them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Iterator, Mapping, Protocol

from chalicelib.domain.images import Image
from chalicelib.domain.listing import Source
from chalicelib.domain.listing_keys import KeyRow, Scan
from chalicelib.domain.members import Member
from chalicelib.domain.multipart import UploadedPart
from chalicelib.domain.tasks import Task


@dataclass(frozen=True)
class Guard:
    """What a conditional save checks: the whole item's ``version`` (any write since the read refuses it,
    for metadata edits), or only the status, the service's ``os_glance*`` properties (the import lock),
    the attributes the save changes and those named in ``depends`` (for status transitions, which
    Glance judges by status alone, so a concurrent rename never fails an upload)."""

    version: bool = True
    depends: frozenset[str] = frozenset()


VERSION = Guard()
STATUS = Guard(version=False)


class KeyCursor(Protocol):
    """Index rows of one key range, in the scan's order, read a page at a time."""

    exhausted: bool

    def fetch(self, count: int) -> list[KeyRow]:
        """The next rows, reading at most ``count`` from the store (one Query); sets ``exhausted`` at the end."""


class ImageRepository(Protocol):
    def get(self, image_id: str) -> Image:
        """Return the stored image (any status); raises NotFound."""

    def add(self, image: Image, *, usage_limits: Mapping[str, int] | None = None) -> Image:
        """Store a new image, counting it in its owner's usage; raises Duplicate, QuotaExceeded."""

    def save(
        self, image: Image, *, expected: Image, usage_delta: Mapping[str, int] | None = None,
        usage_limits: Mapping[str, int] | None = None, guard: Guard = VERSION,
    ) -> Image:
        """Write ``image`` over ``expected`` if the stored one still matches it as ``guard`` says.

        Under VERSION the whole item is replaced; otherwise only the attributes that differ from
        ``expected`` are written, so concurrent writes to other attributes are kept. With
        ``usage_delta`` (counter -> move), the owner's counters move in the same atomic write; a
        growth that would pass a counter's limit in ``usage_limits`` raises QuotaExceeded.
        Returns the image now stored (version bumped); raises ConcurrentUpdate otherwise.
        """

    def usage(self, project_id: str) -> dict[str, int]:
        """The project's usage counters (domain.usage.COUNTERS), zero when never counted."""

    def key_cursors(self, source: Source, scan: Scan, marker: Image | None) -> list[KeyCursor]:
        """Cursors over ``source``'s index rows for ``scan`` (one per key range), strictly after ``marker``."""

    def get_many(self, image_ids: list[str]) -> dict[str, Image]:
        """The stored images among ``image_ids`` (one BatchGet per 100), by id; missing ids are left out."""

    def iter_pending_delete(self, deleted_before: datetime) -> Iterator[Image]:
        """Yield pending_delete images whose deletion (updated_at) is older than ``deleted_before``."""


class MemberRepository(Protocol):
    def find(self, image_id: str, member_id: str) -> Member | None:
        """Return the membership row, or None."""

    def add(self, member: Member, image: Image | None = None) -> Member:
        """Store a new membership (indexed for listing under ``image``'s sort values); raises Duplicate."""

    def list_for_image(self, image_id: str) -> list[Member]:
        """Every membership of one image (one Query)."""

    def update(self, member: Member, image: Image) -> Member:
        """Store ``member``'s new status (and re-index it under ``image``); raises NotFound when gone."""

    def remove(self, image_id: str, member_id: str) -> None:
        """Delete the membership; raises NotFound when absent."""

    def refresh_listing(self, image: Image) -> None:
        """Re-index ``image``'s memberships after its sort values, status or visibility changed."""

    def shared_cursors(self, source: Source, scan: Scan, marker: Image | None) -> list[KeyCursor]:
        """Cursors over the membership rows of images shared with ``source.value`` in ``source.member_status``."""

    def iter_shared(self, source: Source, page_size: int) -> Iterator[Image]:
        """Images shared with ``source.value`` in ``source.member_status``, newest first, read lazily."""


class TaskRepository(Protocol):
    def get(self, task_id: str) -> Task:
        """Return the stored task (expired or not); raises TaskNotFound."""

    def add(self, task: Task) -> Task:
        """Store a new task; raises Duplicate when the id exists."""

    def save(self, task: Task, *, expected: Task) -> Task:
        """Write ``task`` only if the stored one still has ``expected``'s version and status.

        Returns the stored task (version bumped); raises ConcurrentUpdate otherwise.
        """

    def iter_owner(
        self, owner: str | None, marker: Task | None, sort_dir: str, page_size: int, sort_key: str = "created_at",
    ) -> Iterator[Task]:
        """Yield ``owner``'s tasks (every task when None) by (created_at, id) in ``sort_dir``, strictly after ``marker``."""

    def list_for_image(self, image_id: str) -> list[Task]:
        """Every task of one image, oldest first (one Query)."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current UTC time."""


class IdGen(Protocol):
    def new_id(self) -> str:
        """A fresh UUID string."""


class ObjectStore(Protocol):
    def put_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store the chunks as one object (multipart when large); returns its size.

        Leaves nothing behind when the iterable raises.
        """

    def delete(self, key: str) -> None:
        """Remove the object if present."""

    def exists(self, key: str) -> bool:
        """True when the object is stored."""

    def presigned_get(self, key: str, expires_in: int) -> str:
        """A short-lived URL that GETs the object (ranges honoured by the store)."""

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``start``..``end`` inclusive."""

    def size(self, key: str) -> int | None:
        """The object's size, None when it is not stored."""

    def url_of(self, key: str) -> str:
        """The location URL of ``key`` (``s3://bucket/key``)."""

    def key_of(self, url: str) -> str | None:
        """The key of a location URL in this store, None for any other URL."""

    def iter_object(self, key: str) -> Iterator[bytes]:
        """The object's bytes in chunks, streamed (never whole in memory); raises NotFound when missing."""

    def copy(self, source: str, target: str) -> None:
        """Copy an object inside the store (server-side)."""

    def copy_from(self, source: Any, source_key: str, target: str) -> int:
        """Copy ``source_key`` of another store of the same kind here (server-side, any bucket or region);
        returns its size; raises NotFound when the source object is missing."""

    def presigned_put(self, key: str, expires_in: int) -> str:
        """A short-lived URL that PUTs the object."""

    def start_multipart(self, key: str) -> str:
        """Begin a multipart upload of ``key`` (CreateMultipartUpload); returns its upload id."""

    def presigned_part(self, key: str, upload_id: str, number: int, expires_in: int) -> str:
        """A short-lived URL that PUTs part ``number`` of the upload (no AWS call)."""

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        """The parts the upload holds, by number (ListParts, every page); raises NotFound when it is gone."""

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        """Join the (number, ETag) parts into the object; raises InvalidInput when the store refuses the parts,
        NotFound when the upload is gone."""

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Abort the upload and drop its parts; nothing happens when it is already gone."""


class WebProbe(Protocol):
    def probe_size(self, url: str) -> int | None:
        """HEAD an http(s) URL behind the SSRF guard: its size if known; raises InvalidInput if refused or failing."""


class WebClient(Protocol):
    def open(self, url: str, method: str = "GET") -> tuple[Any, str]:
        """The response (``status``, ``read(n)``, ``close()``) to ``method url`` behind the SSRF guard, and the
        final URL after redirects; raises InvalidInput when a hop is refused or unreachable."""


class Inspection(Protocol):
    def __iter__(self) -> Iterator[bytes]:
        """The chunks, inspected as they pass."""

    def verdict(self) -> tuple[str, int]:
        """(detected format, virtual size); raises UnsafeImage."""


class FormatInspector(Protocol):
    def inspect(self, chunks: Iterable[bytes]) -> Inspection:
        """Wrap a data stream for inspection."""


class ImportLauncher(Protocol):
    def start(self, name: str, payload: Mapping[str, object]) -> None:
        """Start the import pipeline under execution ``name``; a second start of the same name is a no-op."""
