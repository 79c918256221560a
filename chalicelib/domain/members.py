"""Image membership: a project an image is shared with, and its acceptance status."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

MEMBER_STATUSES = ("pending", "accepted", "rejected")


@dataclass(frozen=True)
class Member:
    """One project's membership of one image."""

    image_id: str
    member_id: str
    status: str
    created_at: datetime
    updated_at: datetime
