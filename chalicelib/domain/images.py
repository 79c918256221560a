"""The Image aggregate, its status machine and the named transitions.

One transition table (Glance's ``Image.valid_state_targets``); every change
of status goes through ``transition``. The domain takes no config and no
clock: timestamps, ids and flags are passed in.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any, Callable, Mapping

from chalicelib.domain import rules
from chalicelib.domain.errors import InvalidTransition, ProtectedImage


class ImageStatus(str, Enum):
    QUEUED = "queued"
    SAVING = "saving"
    UPLOADING = "uploading"
    IMPORTING = "importing"
    ACTIVE = "active"
    KILLED = "killed"
    PENDING_DELETE = "pending_delete"
    DELETED = "deleted"
    DEACTIVATED = "deactivated"


S = ImageStatus

# Glance glance/domain/__init__.py Image.valid_state_targets, top to bottom.
TRANSITIONS: Mapping[ImageStatus, frozenset[ImageStatus]] = {
    S.QUEUED: frozenset({S.SAVING, S.UPLOADING, S.IMPORTING, S.ACTIVE, S.DELETED}),
    S.SAVING: frozenset({S.ACTIVE, S.KILLED, S.DELETED, S.QUEUED}),
    S.UPLOADING: frozenset({S.IMPORTING, S.QUEUED, S.DELETED}),
    S.IMPORTING: frozenset({S.ACTIVE, S.DELETED, S.QUEUED}),
    S.ACTIVE: frozenset({S.PENDING_DELETE, S.DELETED, S.DEACTIVATED}),
    S.KILLED: frozenset({S.DELETED}),
    S.PENDING_DELETE: frozenset({S.DELETED, S.ACTIVE}),
    S.DELETED: frozenset(),
    S.DEACTIVATED: frozenset({S.ACTIVE, S.DELETED}),
}

# Leaving these for a data-bearing status needs both formats set.
_DATA_TARGETS = frozenset({S.SAVING, S.ACTIVE, S.IMPORTING})
_PRE_DATA = frozenset({S.QUEUED, S.UPLOADING})
# Statuses in which an image never appears in listings.
UNLISTED = frozenset({S.DELETED, S.KILLED, S.PENDING_DELETE})


@dataclass(frozen=True)
class Location:
    """Where an image's data lives: a store URL and free-form metadata."""

    url: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Image:
    """An image's metadata; field names are Glance's wire names."""

    id: str
    owner: str | None
    created_at: datetime
    updated_at: datetime
    status: ImageStatus = S.QUEUED
    name: str | None = None
    visibility: str = "shared"
    protected: bool = False
    os_hidden: bool = False
    container_format: str | None = None
    disk_format: str | None = None
    min_disk: int = 0
    min_ram: int = 0
    size: int | None = None
    virtual_size: int | None = None
    checksum: str | None = None
    os_hash_algo: str | None = None
    os_hash_value: str | None = None
    tags: frozenset[str] = frozenset()
    # Values are strings; null is kept for schema properties that allow it (kernel_id, ramdisk_id).
    extra_properties: Mapping[str, str | None] = field(default_factory=dict)
    locations: tuple[Location, ...] = ()
    version: int = 0

    @property
    def listed(self) -> bool:
        """True when the image may appear in listings at all."""
        return self.status not in UNLISTED


Transition = Callable[[Image], Image]


# Statuses whose data counts against a project's storage (Glance sums its undeleted images).
_STORED = frozenset({S.ACTIVE, S.DEACTIVATED})


def stored_bytes(image: Image) -> int:
    """Bytes this image holds against its owner's storage quota."""
    return (image.size or 0) if image.status in _STORED else 0


def transition(image: Image, target: ImageStatus) -> Image:
    """Return ``image`` in ``target``; raises InvalidTransition if the table forbids it."""
    if target not in TRANSITIONS[image.status]:
        raise InvalidTransition(image_id=image.id, current=image.status.value, target=target.value)
    if image.status in _PRE_DATA and target in _DATA_TARGETS:
        rules.require_formats(image.disk_format, image.container_format)
    moved = replace(image, status=target)
    if target is S.QUEUED:
        # Glance clears size and virtual_size when an image goes back to queued.
        moved = replace(moved, size=None, virtual_size=None)
    return moved


def begin_upload(image: Image) -> Image:
    """queued -> saving, before data is written."""
    return transition(image, S.SAVING)


def begin_stage(image: Image) -> Image:
    """queued -> uploading, before data is staged."""
    return transition(image, S.UPLOADING)


def begin_import(image: Image) -> Image:
    """queued|uploading -> importing."""
    return transition(image, S.IMPORTING)


def activate(image: Image) -> Image:
    """-> active (after data is stored, or on reactivate)."""
    return transition(image, S.ACTIVE)


def deactivate(image: Image) -> Image:
    """active -> deactivated."""
    return transition(image, S.DEACTIVATED)


def requeue(image: Image) -> Image:
    """saving|uploading|importing -> queued after a failed upload or import."""
    return transition(image, S.QUEUED)


def kill(image: Image) -> Image:
    """saving -> killed (v1 upload failure)."""
    return transition(image, S.KILLED)


def mark_deleted(image: Image, *, delayed_delete: bool, has_data: bool) -> Image:
    """-> pending_delete (delayed delete of an image with data) or deleted.

    Raises ProtectedImage for a protected image and InvalidTransition where
    the table forbids the move (e.g. deactivated -> pending_delete).
    """
    if image.protected:
        raise ProtectedImage(image_id=image.id)
    target = S.PENDING_DELETE if delayed_delete and has_data else S.DELETED
    return transition(image, target)
