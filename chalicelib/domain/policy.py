"""Glance's default image policies as pure predicates (reference 7.1, 7.2)."""
from __future__ import annotations

from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import Forbidden
from chalicelib.domain.images import Image, ImageStatus


def can_see(image: Image, ctx: RequestContext, *, is_member: bool) -> bool:
    """is_image_visible: admin, public/community, owner, or a member of a shared image.

    Unlike Glance, an owner-less image is not visible to everyone: only admins see it
    (Glance's "no owner" clause served its unauthenticated admin flavor; here it would
    let a project-less token publish to every project).
    """
    if ctx.is_admin or image.visibility in ("public", "community"):
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
    """add_image: admin, or a member creating an image owned by its own project; never an owner-less image."""
    if owner is None:
        raise Forbidden("A request without a project may not create images: the image would have no owner.")
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


def can_see_locations(image: Image, ctx: RequestContext) -> bool:
    """get_image_location: admin, or a reader of the owner project (others see an empty list).

    A deactivated image's locations are hidden from non-admins, who may not download it either
    (Glance's db layer, ``_image_get``: "Locations are not returned for a deactivated image").
    """
    if ctx.is_admin:
        return True
    return ctx.is_reader and owns(image, ctx) and image.status is not ImageStatus.DEACTIVATED


def require_add_location(image: Image, ctx: RequestContext) -> None:
    """add_image_location (new location API): role service, or a member of the owner project."""
    if "service" in ctx.roles or (ctx.is_member and owns(image, ctx)):
        return
    raise Forbidden(action="add_image_location")


def require_fetch_locations(ctx: RequestContext) -> None:
    """fetch_image_location: the service (or admin) role only."""
    if not ({"service", "admin"} & ctx.roles):
        raise Forbidden(action="fetch_image_location")


def require_stores_detail(ctx: RequestContext) -> None:
    """stores_info_detail: admin or the service role."""
    if not (ctx.is_admin or "service" in ctx.roles):
        raise Forbidden(action="stores_info_detail")


def require_copy_image(ctx: RequestContext) -> None:
    """Glance's copy_image policy: role:admin."""
    if not ctx.is_admin:
        raise Forbidden(action="copy_image")
