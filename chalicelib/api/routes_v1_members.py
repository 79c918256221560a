"""v1 image members (reference 11): replace-all, add, show, remove, and images shared with a project.

v1 members have no acceptance step, so v1 listings count shares in any
member status; ``can_share`` is always false (see v1_requests).
"""
from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api import v1_requests as des
from chalicelib.api import v1_responses as ser
from chalicelib.api.deserializers import reject_body
from chalicelib.api.errors import http_errors
from chalicelib.api.http import request_context
from chalicelib.api.serializers import no_content
from chalicelib.wiring import container

bp = Blueprint(__name__)
ANY = ["*/*"]


@bp.route("/v1/images/{image_id}/members", methods=["GET"], content_types=ANY)
@http_errors
def list_members(image_id: str) -> Response:
    return ser.members_list(container().v1.list_members(request_context(bp.current_request), image_id))


@bp.route("/v1/images/{image_id}/members", methods=["PUT"], content_types=ANY)
@http_errors
def replace_members(image_id: str) -> Response:
    req = bp.current_request
    container().v1.replace_members(request_context(req), image_id, des.memberships(req.raw_body))
    return no_content()


@bp.route("/v1/images/{image_id}/members/{member_id}", methods=["GET"], content_types=ANY)
@http_errors
def show_member(image_id: str, member_id: str) -> Response:
    return ser.member_document(container().v1.show_member(request_context(bp.current_request), image_id, member_id))


@bp.route("/v1/images/{image_id}/members/{member_id}", methods=["PUT"], content_types=ANY)
@http_errors
def add_member(image_id: str, member_id: str) -> Response:
    req = bp.current_request
    des.member(req.raw_body)
    container().v1.add_member(request_context(req), image_id, member_id)
    return no_content()


@bp.route("/v1/images/{image_id}/members/{member_id}", methods=["DELETE"], content_types=ANY)
@http_errors
def delete_member(image_id: str, member_id: str) -> Response:
    reject_body(bp.current_request.raw_body)
    container().v1.delete_member(request_context(bp.current_request), image_id, member_id)
    return no_content()


@bp.route("/v1/shared-images/{member_id}", methods=["GET"], content_types=ANY)
@http_errors
def list_shared_images(member_id: str) -> Response:
    return ser.shared_images(container().v1.shared_images(request_context(bp.current_request), member_id))
