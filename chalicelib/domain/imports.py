"""Pure rules of image import (reference 1.3 and 6): methods, the import lock, failure classes.

The import lock is the image property ``os_glance_import_task`` naming the task
that holds it (Glance's ``_ImportLock``). It is taken and released with the
image's conditional write, so two imports can never both hold it.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Mapping

from chalicelib.domain import multipart, rules
from chalicelib.domain.errors import Conflict, DomainError, InvalidInput
from chalicelib.domain.images import Image, ImageStatus, Location

LOCK = "os_glance_import_task"
FAILED = "os_glance_failed_import"
IMPORTING_TO = "os_glance_importing_to_stores"
# Glance breaks a lock whose task has not moved for this long (pending tasks get twice as long).
STALE_LOCK = timedelta(minutes=60)
STALE_PENDING_LOCK = timedelta(minutes=120)
# The status each method needs (reference 1.3); copy-image works on active images.
REQUIRED_STATUS = {
    "glance-direct": ImageStatus.UPLOADING,
    "web-download": ImageStatus.QUEUED,
    "copy-image": ImageStatus.ACTIVE,
    "s3-upload": ImageStatus.QUEUED,  # the S3-triggered import (our extension): data lands, then imports
}
# Identifies ids derived from others (image of a legacy task, task of an S3 event): stable across retries.
_NAMESPACE = uuid.UUID("6f1d7c1e-93a5-4e4b-9d52-5f3c2b0e8a11")


class ImportSourceError(DomainError):
    """The data to import could not be fetched (a permanent fault: the pipeline fails the task)."""

    template = "Could not retrieve image: {detail}"


class SourceUnavailable(DomainError):
    """The source answered with a transient fault (5xx, timeout); the pipeline retries."""

    template = "Image source unavailable: {detail}"


class ImportLocked(Conflict):
    """Another import holds the image's lock."""

    template = "Image {image_id} has an active import task ({task_id}); try again later."


@dataclass(frozen=True)
class ImportRequest:
    """A validated ``POST /v2/images/{id}/import`` body."""

    method: str
    uri: str | None = None
    stores: tuple[str, ...] = ()
    all_stores: bool = False
    all_stores_must_succeed: bool = True
    stores_given: bool = False  # the body had a ``stores`` key (even an empty list: Glance then imports nowhere)

    def task_input(self, targets: list[str]) -> dict[str, Any]:
        """What the task records as its input (Glance: the request body, and the stores it goes to)."""
        method: dict[str, Any] = {"name": self.method}
        if self.uri is not None:
            method["uri"] = self.uri
        return {"method": method, "stores": list(targets), "all_stores": self.all_stores,
                "all_stores_must_succeed": self.all_stores_must_succeed}


def parse_import_body(body: Any, enabled: tuple[str, ...]) -> ImportRequest:
    """Glance's deserializer checks (all 400); ``enabled`` is enabled_import_methods."""
    if not isinstance(body, Mapping):
        raise InvalidInput("Body expected in request.")
    method = body.get("method")
    if not isinstance(method, Mapping) or "name" not in method:
        raise InvalidInput("Import request requires a 'method' field with a 'name'.")
    name = method["name"]
    if name not in enabled:
        raise InvalidInput(f"Import method name '{name}' is not valid; enabled methods: {', '.join(enabled)}.")
    for flag in ("all_stores", "all_stores_must_succeed"):
        if flag in body and not isinstance(body[flag], bool):
            raise InvalidInput(f"'{flag}' must be a boolean value.")
    stores = body.get("stores") or []
    if not isinstance(stores, list) or not all(isinstance(s, str) for s in stores):
        raise InvalidInput("'stores' must be a list of store names.")
    all_stores = bool(body.get("all_stores", False))
    uri = method.get("uri")
    if name == "web-download" and not isinstance(uri, str):
        raise InvalidInput("The web-download method requires 'method.uri'.")
    return ImportRequest(name, uri if name == "web-download" else None, tuple(stores), all_stores,
                         body.get("all_stores_must_succeed", True) is not False, "stores" in body)


def check_copy_source(image: Image) -> None:
    """copy-image copies an active image's data; raises Conflict in any other status."""
    if image.status is not ImageStatus.ACTIVE:
        raise Conflict(f"Image {image.id} is {image.status.value}; copy-image needs it active.")


def importing_for(image: Image, task_id: str) -> bool:
    """True when ``image`` is importing under ``task_id``'s lock."""
    return image.status is ImageStatus.IMPORTING and lock_holder(image) == task_id


def activated_with(image: Image, location: Location) -> bool:
    """True when ``image`` is active with ``location`` (an ActivateImage that already landed)."""
    return image.status is ImageStatus.ACTIVE and location in image.locations


def reverted_by(image: Image, task_id: str, *, legacy: bool) -> bool:
    """True when a failed import ``task_id`` still owns ``image``: not active, and its lock (or, for a
    legacy task, no lock: its own image) is on it."""
    holder = lock_holder(image)
    mine = holder == task_id or (legacy and holder is None)
    return mine and image.status is not ImageStatus.ACTIVE


def require_unlocked(image: Image) -> None:
    """Data may not be uploaded, staged or located while an import holds the image or a multipart upload of
    it is in progress; raises Conflict."""
    require_no_import(image)
    multipart.require_none_pending(image)


def require_no_import(image: Image) -> None:
    """Raise Conflict while an import holds the image's lock."""
    holder = lock_holder(image)
    if holder is not None:
        raise Conflict(f"Image {image.id} is locked by import task {holder}.")


def lock_holder(image: Image) -> str | None:
    """The task id holding the import lock, if any."""
    return image.extra_properties.get(LOCK)


def check_can_import(image: Image, method: str) -> None:
    """Formats set and the method's status (409 both, reference 1.3)."""
    if not (image.disk_format and image.container_format):
        raise Conflict("The 'container_format' and 'disk_format' properties must be set on the image before import.")
    needed = REQUIRED_STATUS[method]
    if image.status is not needed:
        raise Conflict(f"Image {image.id} is {image.status.value}; the {method} method needs it {needed.value}.")


def lock_is_stale(task_updated_at: datetime | None, task_pending: bool, now: datetime) -> bool:
    """True when the holder is gone or has not moved for Glance's stale-lock time."""
    if task_updated_at is None:
        return True
    limit = STALE_PENDING_LOCK if task_pending else STALE_LOCK
    return now - task_updated_at > limit


def _listed(image: Image, key: str) -> list[str]:
    return [s for s in (image.extra_properties.get(key) or "").split(",") if s]


def take_lock(image: Image, task_id: str, *, holder_stale: bool, stores: list[str]) -> Image:
    """Set the lock to ``task_id`` with ``stores`` importing (none of them failed any more, as Glance's
    add_importing_stores/remove_failed_stores); raises ImportLocked when a live task holds it."""
    holder = lock_holder(image)
    if holder is not None and holder != task_id and not holder_stale:
        raise ImportLocked(image_id=image.id, task_id=holder)
    props = dict(image.extra_properties)
    props[LOCK] = task_id
    props[IMPORTING_TO] = ",".join(stores)
    props[FAILED] = ",".join(s for s in _listed(image, FAILED) if s not in stores)
    return replace(image, extra_properties=props)


def take_location_lock(image: Image, task_id: str) -> Image:
    """The lock for a ``location_import`` task: the lock property alone, no store lists (Glance's add_location
    sets ``os_glance_import_task`` atomically); raises ImportLocked while another task holds it."""
    holder = lock_holder(image)
    if holder is not None and holder != task_id:
        raise ImportLocked(image_id=image.id, task_id=holder)
    return replace(image, extra_properties={**image.extra_properties, LOCK: task_id})


def drop_lock(image: Image, task_id: str) -> Image:
    """``image`` without the lock if ``task_id`` holds it, else unchanged (Glance's drop_lock_for_task)."""
    if lock_holder(image) != task_id:
        return image
    return replace(image, extra_properties={k: v for k, v in image.extra_properties.items() if k != LOCK})


def store_done(image: Image, store_id: str, *, failed: bool) -> Image:
    """One store of the import finished: off os_glance_importing_to_stores, onto os_glance_failed_import if it
    failed (Glance's _ImportToStore)."""
    props = dict(image.extra_properties)
    props[IMPORTING_TO] = ",".join(s for s in _listed(image, IMPORTING_TO) if s != store_id)
    if failed:
        props[FAILED] = ",".join([*(s for s in _listed(image, FAILED) if s != store_id), store_id])
    return replace(image, extra_properties=props)


def importing_to(image: Image) -> list[str]:
    """The stores the running import has still to write (os_glance_importing_to_stores)."""
    return _listed(image, IMPORTING_TO)


def release_lock(image: Image, task_id: str, *, failed: bool) -> Image:
    """Drop the lock if ``task_id`` holds it; a failed import moves the stores it had still to write to
    os_glance_failed_import. Both lists stay, as ``""`` when empty (Glance)."""
    if lock_holder(image) != task_id:
        return image
    props = {k: v for k, v in image.extra_properties.items() if k != LOCK}
    if failed:
        props[FAILED] = ",".join(dict.fromkeys([*_listed(image, FAILED), *_listed(image, IMPORTING_TO)]))
    props[IMPORTING_TO] = ""
    props.setdefault(FAILED, "")
    return replace(image, extra_properties=props)


def derived_id(*parts: str) -> str:
    """A UUID fixed by ``parts``: the same event or task always names the same image or task."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def legacy_image_body(task_input: Mapping[str, Any], owner: str | None, image_id: str) -> dict[str, Any]:
    """The create body of a legacy ``import`` task's image: its image_properties, formats defaulted."""
    props = dict(task_input.get("image_properties") or {})
    props.setdefault("disk_format", task_input.get("import_from_format"))
    props.setdefault("container_format", "bare")
    props["id"] = image_id
    if owner is not None:
        props["owner"] = owner
    rules.check_create_keys(props)
    return props


def expected_format(image: Image, task_input: Mapping[str, Any] | None) -> str | None:
    """The format the data must have: the task's import_from_format, else the image's disk_format."""
    declared = (task_input or {}).get("import_from_format")
    return str(declared) if declared else image.disk_format
