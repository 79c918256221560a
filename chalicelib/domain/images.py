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
from chalicelib.domain.errors import Forbidden, InvalidTransition, ProtectedImage


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
# Soft-deleted: 404 on every read (Glance's ImageRepo.get), and never changed again by a request.
SOFT_DELETED = frozenset({S.DELETED, S.PENDING_DELETE})
# Statuses whose data is served and counts against a project's storage (Glance sums its undeleted images).
WITH_DATA = frozenset({S.ACTIVE, S.DEACTIVATED})
# The new location API (POST /v2/images/{id}/locations) adds to queued images only.
NEW_LOCATION_API = frozenset({S.QUEUED})
# A failed import gives an image in these statuses back to queued (staged data or importing).
IMPORT_HELD = frozenset({S.UPLOADING, S.IMPORTING})
DEACTIVATED_DOWNLOAD = "The requested image has been deactivated. Image data download is forbidden."


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
    # The token of the upload or stage that holds a saving/uploading image (never shown): only that upload
    # finishes or gives it back, and a write that set it is recognised as landed whatever came after.
    holder: str | None = None

    @property
    def listed(self) -> bool:
        """True when the image may appear in listings at all."""
        return self.status not in UNLISTED


Transition = Callable[[Image], Image]


def stored_bytes(image: Image) -> int:
    """Bytes this image holds against its owner's storage quota."""
    return (image.size or 0) if image.status in WITH_DATA else 0


def is_soft_deleted(image: Image) -> bool:
    """True for deleted and pending_delete images: hidden from reads, changed by no request."""
    return image.status in SOFT_DELETED


def is_deleted(image: Image) -> bool:
    """True once the record says deleted (its data may go); pending_delete keeps data for the scrubber."""
    return image.status is S.DELETED


def awaits_scrub(image: Image) -> bool:
    """True for a pending_delete image (indexed for the scrubber)."""
    return image.status is S.PENDING_DELETE


def is_active(image: Image) -> bool:
    """True for an active image."""
    return image.status is S.ACTIVE


def is_queued(image: Image) -> bool:
    """True for a queued image (v1 takes data only then)."""
    return image.status is S.QUEUED


def has_data_status(image: Image) -> bool:
    """True for the statuses whose data is served: active and deactivated."""
    return image.status in WITH_DATA


def serves_data(image: Image) -> bool:
    """True when a download answers with data: active or deactivated, with a location."""
    return image.status in WITH_DATA and bool(image.locations)


def in_status(image: Image, status: ImageStatus) -> bool:
    """True when ``image`` is in ``status`` (a step that owns a status checks it is still there)."""
    return image.status is status


def holds(image: Image, fields: Mapping[str, Any], *, active: bool) -> bool:
    """True when ``image`` already holds ``fields`` (checksums, size, location of one upload), with data (active,
    or deactivated since) or not as asked: the upload's finishing write landed, finishing again changes nothing."""
    return (image.status in WITH_DATA) is active and all(getattr(image, k) == v for k, v in fields.items())


def check_download(image: Image, *, is_admin: bool) -> None:
    """Glance: a deactivated image's data is forbidden to everyone but admins; raises Forbidden."""
    if image.status is S.DEACTIVATED and not is_admin:
        raise Forbidden(DEACTIVATED_DOWNLOAD)


def request_deactivate(image: Image) -> Image:
    """The deactivate action: active -> deactivated, a no-op when deactivated, Forbidden in any other status."""
    return _toggle(image, "deactivate", S.ACTIVE, S.DEACTIVATED)


def request_reactivate(image: Image) -> Image:
    """The reactivate action: deactivated -> active, a no-op when active, Forbidden in any other status."""
    return _toggle(image, "reactivate", S.DEACTIVATED, S.ACTIVE)


def _toggle(image: Image, action: str, source: ImageStatus, target: ImageStatus) -> Image:
    if image.status is target:
        return image
    if image.status is not source:
        raise Forbidden(f"Not allowed to {action} image in status '{image.status.value}'")
    return transition(image, target)


def transition(image: Image, target: ImageStatus) -> Image:
    """Return ``image`` in ``target``; raises InvalidTransition if the table forbids it."""
    if target not in TRANSITIONS[image.status]:
        raise InvalidTransition(image_id=image.id, current=image.status.value, target=target.value)
    if image.status in _PRE_DATA and target in _DATA_TARGETS:
        rules.require_formats(image.disk_format, image.container_format)
    moved = replace(image, status=target, holder=None)  # a hold ends with the status it held
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


def give_back(image: Image) -> Image:
    """A failed import's image: back to queued from uploading or importing, unchanged otherwise."""
    return requeue(image) if image.status in IMPORT_HELD else image


def purge(image: Image) -> Image:
    """pending_delete -> deleted (the scrubber, once the delay has passed)."""
    return transition(image, S.DELETED)


def discard(image: Image) -> Image:
    """-> deleted whatever ``protected`` says (an import reverting the image its legacy task made)."""
    return transition(image, S.DELETED)


def mark_deleted(image: Image, *, delayed_delete: bool, has_data: bool) -> Image:
    """-> pending_delete (delayed delete of an image with data) or deleted.

    Raises ProtectedImage for a protected image and InvalidTransition where
    the table forbids the move (e.g. deactivated -> pending_delete).
    """
    if image.protected:
        raise ProtectedImage(image_id=image.id)
    target = S.PENDING_DELETE if delayed_delete and has_data else S.DELETED
    return transition(image, target)
