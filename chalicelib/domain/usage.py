"""Per-project usage counters and their limits (reference 7.5, 1.11 ``/v2/info/usage``).

Each image contributes to its owner's counters according to its status; a
write moves the counters by the difference, in the same atomic write as the
image, so usage is always the sum over the project's images.
"""
from __future__ import annotations

from typing import Mapping

from chalicelib.domain.images import SOFT_DELETED, Image, ImageStatus, stored_bytes

S = ImageStatus
MIB = 1024 * 1024
# Stored counter name -> what a QuotaExceeded says about it.
COUNTERS = {
    "image_bytes": "storage in bytes",
    "image_count": "image count",
    "uploading_count": "images uploading",
    "staged_bytes": "staged bytes",
}
_UPLOADING = frozenset({S.SAVING, S.UPLOADING, S.IMPORTING})
_STAGED = frozenset({S.UPLOADING, S.IMPORTING})


def contribution(image: Image) -> dict[str, int]:
    """What ``image`` adds to its owner's counters in its current status."""
    return {
        "image_bytes": stored_bytes(image),
        "image_count": 0 if image.status in SOFT_DELETED else 1,
        "uploading_count": 1 if image.status in _UPLOADING else 0,
        "staged_bytes": (image.size or 0) if image.status in _STAGED else 0,
    }


def delta(before: Image | None, after: Image) -> dict[str, int]:
    """The non-zero counter moves from ``before`` (None for a new image) to ``after``."""
    old = contribution(before) if before is not None else {k: 0 for k in COUNTERS}
    new = contribution(after)
    return {k: new[k] - old[k] for k in COUNTERS if new[k] != old[k]}


def enforced(limits: Mapping[str, int], moves: Mapping[str, int]) -> dict[str, int]:
    """The limits (positive only) of the counters that grow in ``moves``."""
    return {k: limits[k] for k, v in moves.items() if v > 0 and limits.get(k, -1) >= 0}


def project_limits(*, storage_quota: int, count_total: int, count_uploading: int, size_total_mib: int,
                   stage_total_mib: int) -> dict[str, int]:
    """Counter limits from the settings; sizes in MiB become bytes; the tighter byte limit wins; negative = unlimited."""
    # user_storage_quota 0 means unlimited (Glance); a keystone-style limit of 0 allows nothing.
    size_limits = [storage_quota] if storage_quota > 0 else []
    size_limits += [size_total_mib * MIB] if size_total_mib >= 0 else []
    return {
        "image_bytes": min(size_limits) if size_limits else -1,
        "image_count": count_total,
        "uploading_count": count_uploading,
        "staged_bytes": stage_total_mib * MIB if stage_total_mib >= 0 else -1,
    }


def report(counters: Mapping[str, int], *, count_total: int, count_uploading: int, size_total_mib: int,
           stage_total_mib: int) -> dict[str, dict[str, int]]:
    """The ``usage`` map of ``/v2/info/usage``: sizes in MiB as keystone limits count them; -1 = unlimited."""
    return {
        "image_size_total": {"usage": counters.get("image_bytes", 0) // MIB, "limit": size_total_mib},
        "image_stage_total": {"usage": counters.get("staged_bytes", 0) // MIB, "limit": stage_total_mib},
        "image_count_total": {"usage": counters.get("image_count", 0), "limit": count_total},
        "image_count_uploading": {"usage": counters.get("uploading_count", 0), "limit": count_uploading},
    }
