"""Glance's default image policies as pure predicates (reference 7.1, 7.2)."""
from __future__ import annotations

from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import Forbidden
from chalicelib.domain.images import Image


def can_see(image: Image, ctx: RequestContext, *, is_member: bool) -> bool:
    """is_image_visible: admin, ownerless, public/community, owner, or a member of a shared image."""
    if ctx.is_admin or image.owner is None or image.visibility in ("public", "community"):
        return True
    if ctx.project_id is not None and image.owner == ctx.project_id:
        return True
    return image.visibility == "shared" and is_member


def owns(image: Image, ctx: RequestContext) -> bool:
    """The caller's project owns the image."""
    return ctx.project_id is not None and image.owner == ctx.project_id


def require_modify(image: Image, ctx: RequestContext, action: str = "modify_image") -> None:
    """modify_image and friends: admin, or role member in the owner project; else Forbidden."""
    if ctx.is_admin or (ctx.is_member and owns(image, ctx)):
        return
    raise Forbidden(action=action)


def require_reader(ctx: RequestContext, action: str) -> None:
    """get_images/add_image style checks that need at least a reader (or member) role."""
    if not ctx.is_reader:
        raise Forbidden(action=action)


def require_add_image(ctx: RequestContext, owner: str | None) -> None:
    """add_image: admin, or a member creating an image owned by its own project."""
    if ctx.is_admin:
        return
    if not ctx.is_member:
        raise Forbidden(action="add_image")
    if owner != ctx.project_id:
        raise Forbidden("You are not permitted to create images owned by '%s'." % owner)


def require_visibility_change(ctx: RequestContext, visibility: str) -> None:
    """publicize_image is admin-only; communitize_image is admin or the owner's member."""
    if visibility == "public" and not ctx.is_admin:
        raise Forbidden(action="publicize_image")
    if visibility == "community" and not (ctx.is_admin or ctx.is_member):
        raise Forbidden(action="communitize_image")
