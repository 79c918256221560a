"""Image membership: a project an image is shared with, its acceptance status, and who may do what.

The rules are Glance's (reference 1.5, 7.3): only ``shared`` images have
members; the owner (or an admin) adds and removes them; only the member
project (or an admin) changes a membership's status; a member project sees
only its own row.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import Forbidden, InvalidInput, NotFound, QuotaExceeded
from chalicelib.domain.images import Image

MEMBER_STATUSES = ("pending", "accepted", "rejected")


@dataclass(frozen=True)
class Member:
    """One project's membership of one image."""

    image_id: str
    member_id: str
    status: str
    created_at: datetime
    updated_at: datetime


class MemberNotFound(NotFound):
    """No such membership (or the caller may not see it)."""

    template = "Member {member_id} not found for image {image_id}."


def _owner_or_admin(image: Image, ctx: RequestContext) -> bool:
    return ctx.is_admin or (ctx.project_id is not None and image.owner == ctx.project_id)


def require_shared(image: Image) -> None:
    """Raise Forbidden unless the image's visibility is ``shared`` (every member operation)."""
    if image.visibility != "shared":
        raise Forbidden("Only shared images have members.")


def check_member_id(member_id: object) -> str:
    """Raise InvalidInput unless ``member_id`` is a non-empty string (ids are not checked against keystone)."""
    if not isinstance(member_id, str) or not member_id.strip():
        raise InvalidInput("Member to be added not specified")
    if len(member_id) > 255:
        raise InvalidInput("Member id must be at most 255 characters")
    return member_id


def check_status(status: object) -> str:
    """Raise InvalidInput unless ``status`` is pending, accepted or rejected."""
    if status not in MEMBER_STATUSES:
        raise InvalidInput(f"Status must be one of {', '.join(MEMBER_STATUSES)}, not {status!r}")
    return str(status)


def require_add_or_delete(image: Image, ctx: RequestContext, action: str) -> None:
    """add_member/delete_member: admin, or role member in the owner project; else Forbidden."""
    if ctx.is_admin or (ctx.is_member and _owner_or_admin(image, ctx)):
        return
    raise Forbidden(action=action)


def require_modify(member: Member, ctx: RequestContext) -> None:
    """modify_member: admin, or role member in the member project itself (the owner gets Forbidden)."""
    if ctx.is_admin or (ctx.is_member and ctx.project_id == member.member_id):
        return
    raise Forbidden(action="modify_member")


def may_read(image: Image, member: Member, ctx: RequestContext) -> bool:
    """get_member: admin, the owner project, or the member project itself."""
    return _owner_or_admin(image, ctx) or ctx.project_id == member.member_id


def check_quota(current: int, quota: int) -> None:
    """Raise QuotaExceeded when one more member passes ``image_member_quota`` (negative = unlimited)."""
    if 0 <= quota <= current:
        raise QuotaExceeded(what="image members", limit=quota)


def visible_rows(image: Image, rows: list[Member], ctx: RequestContext) -> list[Member]:
    """The rows ``ctx`` may list: all for the owner or an admin, else only its own."""
    if _owner_or_admin(image, ctx):
        return rows
    return [m for m in rows if m.member_id == ctx.project_id]


def require_found(member: Member | None, image_id: str, member_id: str) -> Member:
    """Return ``member``; raises MemberNotFound when None."""
    if member is None:
        raise MemberNotFound(image_id=image_id, member_id=member_id)
    return member
