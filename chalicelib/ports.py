"""Ports the services depend on; adapters (and tests' fakes) implement them."""
from __future__ import annotations

from datetime import datetime
from typing import Iterator, Protocol

from chalicelib.domain.images import Image
from chalicelib.domain.listing import Order, Source
from chalicelib.domain.members import Member


class ImageRepository(Protocol):
    def get(self, image_id: str) -> Image:
        """Return the stored image (any status); raises NotFound."""

    def add(self, image: Image) -> Image:
        """Store a new image; raises Duplicate when the id exists (even deleted)."""

    def save(self, image: Image, *, expected: Image) -> Image:
        """Write ``image`` only if the stored one still has ``expected``'s version and status.

        Returns the stored image (version bumped); raises ConcurrentUpdate otherwise.
        """

    def iter_source(self, source: Source, order: Order, marker: Image | None, page_size: int) -> Iterator[Image]:
        """Yield the listed images of ``source`` in ``order``, strictly after ``marker``, reading lazily."""


class MemberRepository(Protocol):
    def find(self, image_id: str, member_id: str) -> Member | None:
        """Return the membership row, or None."""

    def add(self, member: Member) -> Member:
        """Store a new membership; raises Duplicate when it exists."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current UTC time."""


class IdGen(Protocol):
    def new_id(self) -> str:
        """A fresh UUID string."""
