"""Pure rules of image data: byte ranges (RFC 7233 as Glance applies it) and format judgement."""
from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.domain.errors import ImageFormatMismatch, InvalidInput, RangeNotSatisfiable

# Formats oslo's format inspector can recognise (reference 8).
INSPECTABLE = frozenset({"raw", "qcow2", "vhd", "vhdx", "vmdk", "vdi", "qed", "iso", "gpt", "luks"})
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


@dataclass(frozen=True)
class ByteRange:
    """Inclusive byte positions within an image of ``total`` bytes."""

    start: int
    end: int
    total: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.total}"


def parse_range(header: str, size: int) -> ByteRange:
    """A single ``Range: bytes=...``; several ranges are 400, anything unsatisfiable 416."""
    value = header.strip()
    if "," in value:
        raise InvalidInput("Multiple ranges are not supported.")
    match = _RANGE.match(value)
    if not match or match.groups() == ("", ""):
        raise RangeNotSatisfiable(detail=value)
    first, last = match.groups()
    if first == "":
        suffix = int(last)
        if suffix == 0:
            raise RangeNotSatisfiable(detail=value)
        return ByteRange(max(size - suffix, 0), size - 1, size)
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or (last != "" and int(last) < start):
        raise RangeNotSatisfiable(detail=value)
    return ByteRange(start, end, size)


def parse_content_range(header: str, size: int) -> ByteRange:
    """The deprecated ``Content-Range`` request form; every misfit is 416."""
    match = _CONTENT_RANGE.match(header.strip())
    if not match:
        raise RangeNotSatisfiable(detail=header)
    start, end, total = int(match.group(1)), int(match.group(2)), match.group(3)
    if start >= size or end < start or (end >= size and total == "*"):
        raise RangeNotSatisfiable(detail=header)
    return ByteRange(start, min(end, size - 1), size)


def judge_format(disk_format: str | None, detected: str, detected_virtual_size: int, size: int) -> int | None:
    """The virtual size to record for data detected as ``detected``; raises ImageFormatMismatch.

    As Glance's set_data: a match takes the header's virtual size; raw data for a
    format the inspector cannot know (ami, ploop, ...) has none; ``raw`` accepts a
    richer format with the byte size; anything else is a mismatch.
    """
    if detected == "gpt":
        detected = "raw"
    if detected == disk_format:
        return detected_virtual_size if detected != "raw" else size
    if detected == "raw" and disk_format not in INSPECTABLE:
        return None
    if disk_format == "raw":
        return size
    raise ImageFormatMismatch(detected=detected, expected=disk_format)


def data_key(image_id: str) -> str:
    """Where an image's data lives in the bucket."""
    return f"images/{image_id}"


def staging_key(image_id: str) -> str:
    """Where staged data waits for an import."""
    return f"staging/{image_id}"


def check_supplied(attr: str, supplied: object | None, actual: object) -> None:
    """Raise InvalidInput when a value the client declared (v1's size/checksum headers) differs from the data's."""
    if supplied is not None and supplied != actual:
        raise InvalidInput(
            f"Supplied {attr} ({supplied}) and {attr} generated from uploaded image ({actual}) did not match. "
            "Setting image status to 'killed'."
        )


# Data PUT here through a presigned URL starts an import (the S3 event); inside staging/, so
# the lifecycle rule removes what no import ever claimed.
UPLOAD_PREFIX = "staging/imports/"


def upload_key(image_id: str) -> str:
    """Where a presigned upload of an image's data lands."""
    return f"{UPLOAD_PREFIX}{image_id}"


def image_of_upload_key(key: str) -> str | None:
    """The image id an upload key names, None for any other key."""
    if not key.startswith(UPLOAD_PREFIX):
        return None
    rest = key[len(UPLOAD_PREFIX):]
    return rest if rest and "/" not in rest else None
