"""Pure rules of presigned multipart uploads (our extension): the request, the part plan, the pending record.

S3 takes at most 5 GiB in one PUT; beyond it (or when the client asks) the upload-url
extension hands out a multipart upload instead: presigned UploadPart URLs for a planned
size, then a completion call. The pending upload is recorded on the image as the hidden
service property ``os_glance_multipart_upload`` (written with the image's conditional
write, so two pending uploads can never coexist), which a delete, an abort or the
import of the completed object removes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

from chalicelib.domain import rules
from chalicelib.domain.errors import Conflict, InvalidInput, NotFound
from chalicelib.domain.images import Image

MiB = 1024 * 1024
GiB = 1024 * MiB
# S3's limits (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html).
MAX_SINGLE_PUT = 5 * GiB
S3_MIN_PART = 5 * MiB  # every part but the last
MAX_PART = 5 * GiB
MAX_PARTS = 10_000
DEFAULT_PART = 64 * MiB
# Part URLs in one answer: a page keeps it far below Lambda's 6 MB response (a URL is ~1.5 KB with a session token).
URLS_PER_ANSWER = 1000
PROPERTY = rules.MULTIPART_UPLOAD


class MultipartPending(Conflict):
    """A multipart upload of the image is in progress: its data may come from nowhere else meanwhile."""

    template = "Image {image_id} has a multipart upload in progress; complete or abort it first."


class NoMultipartUpload(NotFound):
    """No multipart upload of the image is in progress."""

    template = "No multipart upload is in progress for image {image_id}."


@dataclass(frozen=True)
class UploadRequest:
    """A validated ``POST /v2/images/{id}/upload-url`` body."""

    multipart: bool
    size: int | None = None
    part_size: int | None = None


@dataclass(frozen=True)
class PartPlan:
    """How ``size`` bytes split into parts of ``part_size`` (the last one shorter)."""

    size: int
    part_size: int

    @property
    def part_count(self) -> int:
        return max(1, -(-self.size // self.part_size))

    def part_length(self, number: int) -> int:
        """The byte length part ``number`` (1-based) must have."""
        return min(self.part_size, self.size - (number - 1) * self.part_size)


@dataclass(frozen=True)
class PendingUpload:
    """The multipart upload recorded on an image."""

    upload_id: str
    plan: PartPlan


@dataclass(frozen=True)
class UploadedPart:
    """One part S3 holds for an upload (ListParts)."""

    number: int
    etag: str
    size: int


def _int(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"'{name}' must be a positive integer (bytes).")
    return int(value)


def parse_upload_request(body: Any) -> UploadRequest:
    """The body's ``size``, ``part_size`` and ``multipart`` (all optional; 400 when malformed).

    Multipart when asked (``multipart: true`` or a ``part_size``) or when ``size`` is beyond one PUT.
    """
    if body is None:
        return UploadRequest(multipart=False)
    if not isinstance(body, Mapping):
        raise InvalidInput("The upload-url body must be a JSON object.")
    unknown = sorted(set(body) - {"size", "part_size", "multipart"})
    if unknown:
        raise InvalidInput(f"Unknown upload-url field(s): {', '.join(unknown)}.")
    size, part_size = _int(body, "size"), _int(body, "part_size")
    asked = body.get("multipart")
    if asked is not None and not isinstance(asked, bool):
        raise InvalidInput("'multipart' must be a boolean value.")
    big = size is not None and size > MAX_SINGLE_PUT
    if asked is False and (big or part_size is not None):
        raise InvalidInput(f"A single upload holds at most {MAX_SINGLE_PUT} bytes; use a multipart upload.")
    multipart = bool(asked) or part_size is not None or big
    if multipart and size is None:
        raise InvalidInput("A multipart upload needs the image's 'size' in bytes.")
    return UploadRequest(multipart, size, part_size)


def plan_parts(size: int, part_size: int | None, min_part_size: int) -> PartPlan:
    """The parts of an upload of ``size`` bytes: ``part_size`` checked against S3's limits, or chosen
    (DEFAULT_PART, larger when needed to stay within MAX_PARTS); raises InvalidInput."""
    if part_size is None:
        needed = -(-size // MAX_PARTS)
        part_size = max(DEFAULT_PART, min_part_size, -(-needed // MiB) * MiB)
    if not min_part_size <= part_size <= MAX_PART:
        raise InvalidInput(f"'part_size' must be between {min_part_size} and {MAX_PART} bytes.")
    plan = PartPlan(size, part_size)
    if plan.part_count > MAX_PARTS:
        raise InvalidInput(f"{size} bytes in parts of {part_size} make {plan.part_count} parts; "
                           f"at most {MAX_PARTS} are allowed: choose a larger 'part_size'.")
    return plan


def pending(image: Image) -> PendingUpload | None:
    """The multipart upload recorded on ``image``, if any."""
    raw = image.extra_properties.get(PROPERTY)
    if not raw:
        return None
    stored = json.loads(raw)
    return PendingUpload(str(stored["upload_id"]), PartPlan(int(stored["size"]), int(stored["part_size"])))


def require_pending(image: Image, upload_id: str | None = None) -> PendingUpload:
    """The recorded upload; raises NoMultipartUpload when none, Conflict when ``upload_id`` names another."""
    found = pending(image)
    if found is None:
        raise NoMultipartUpload(image_id=image.id)
    if upload_id is not None and upload_id != found.upload_id:
        raise Conflict(f"Upload {upload_id} is not the multipart upload in progress for image {image.id}.")
    return found


def require_none_pending(image: Image) -> None:
    """Raise MultipartPending when a multipart upload of ``image`` is in progress."""
    if pending(image) is not None:
        raise MultipartPending(image_id=image.id)


def record(image: Image, upload: PendingUpload) -> Image:
    """Record ``upload`` as the image's pending multipart upload; raises MultipartPending for another one."""
    current = pending(image)
    if current == upload:
        return image  # this write already landed
    if current is not None:
        raise MultipartPending(image_id=image.id)
    value = json.dumps({"upload_id": upload.upload_id, "size": upload.plan.size,
                        "part_size": upload.plan.part_size}, separators=(",", ":"))
    return replace(image, extra_properties={**image.extra_properties, PROPERTY: value})


def forget(image: Image, upload_id: str | None = None) -> Image:
    """Drop the pending upload record (only ``upload_id``'s, when given); the same image when there is none."""
    current = pending(image)
    if current is None or (upload_id is not None and current.upload_id != upload_id):
        return image
    return replace(image, extra_properties={k: v for k, v in image.extra_properties.items() if k != PROPERTY})


def parse_completion(body: Any) -> tuple[str | None, dict[int, str] | None]:
    """The completion body's optional ``upload_id`` and ``parts`` ([{part_number, etag}]) as number -> ETag."""
    if body is None:
        return None, None
    if not isinstance(body, Mapping):
        raise InvalidInput("The completion body must be a JSON object.")
    upload_id = body.get("upload_id")
    if upload_id is not None and not isinstance(upload_id, str):
        raise InvalidInput("'upload_id' must be a string.")
    parts = body.get("parts")
    if parts is None:
        return upload_id, None
    if not isinstance(parts, list) or not parts:
        raise InvalidInput("'parts' must be a non-empty list of {part_number, etag}.")
    etags: dict[int, str] = {}
    for part in parts:
        number = part.get("part_number") if isinstance(part, Mapping) else None
        etag = part.get("etag") if isinstance(part, Mapping) else None
        if isinstance(number, bool) or not isinstance(number, int) or not isinstance(etag, str) or number in etags:
            raise InvalidInput("Each part needs a distinct integer 'part_number' and a string 'etag'.")
        etags[number] = _bare(etag)
    return upload_id, etags


def _bare(etag: str) -> str:
    return etag.strip().strip('"')


def check_parts(plan: PartPlan, listed: Sequence[UploadedPart], supplied: Mapping[int, str] | None) -> list[tuple[int, str]]:
    """The (number, ETag) list to complete with: every planned part uploaded with its planned length,
    and the client's ETags (if given) those S3 holds; raises InvalidInput naming the first misfit."""
    held = {part.number: part for part in listed}
    extra = sorted(set(held) - set(range(1, plan.part_count + 1)))
    if extra:
        raise InvalidInput(f"Part {extra[0]} is beyond the {plan.part_count} parts planned.")
    if supplied is not None and set(supplied) != set(range(1, plan.part_count + 1)):
        raise InvalidInput(f"The completion must list parts 1 to {plan.part_count}.")
    parts = []
    for number in range(1, plan.part_count + 1):
        part = held.get(number)
        if part is None:
            raise InvalidInput(f"Part {number} of {plan.part_count} has not been uploaded.")
        if part.size != plan.part_length(number):
            raise InvalidInput(f"Part {number} holds {part.size} bytes; {plan.part_length(number)} were planned.")
        if supplied is not None and supplied[number] != _bare(part.etag):
            raise InvalidInput(f"Part {number}'s ETag does not match the uploaded part.")
        parts.append((number, part.etag))
    return parts
