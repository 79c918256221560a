"""Image member routes (reference 1.5): 200 on create, as Glance (not 201)."""
from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.api import deserializers as des
from chalicelib.api import serializers as ser
from chalicelib.api.errors import http_errors
from chalicelib.api.http import request_context
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.members import Member
from chalicelib.wiring import container

bp = Blueprint(__name__)
ANY = ["*/*"]


def member_view(member: Member) -> dict[str, Any]:
    """A membership as Glance shows it."""
    return {
        "member_id": member.member_id,
        "image_id": member.image_id,
        "status": member.status,
        "created_at": ser.isotime(member.created_at),
        "updated_at": ser.isotime(member.updated_at),
        "schema": "/v2/schemas/member",
    }


def _field(raw: des.Body, name: str, missing: str) -> object:
    body = des.json_body(raw)
    if not isinstance(body, dict) or name not in body:
        raise InvalidInput(missing)
    return body[name]


@bp.route("/v2/images/{image_id}/members", methods=["POST"], content_types=ANY)
@http_errors
def create_member(image_id: str) -> Response:
    req = bp.current_request
    member_id = _field(req.raw_body, "member", "Member to be added not specified")
    member = container().members.create_member(request_context(req), image_id, member_id)
    return ser.json_response(member_view(member))


@bp.route("/v2/images/{image_id}/members", methods=["GET"], content_types=ANY)
@http_errors
def list_members(image_id: str) -> Response:
    req = bp.current_request
    des.reject_body(req.raw_body)
    rows = container().members.index(request_context(req), image_id)
    return ser.json_response({"members": [member_view(m) for m in rows], "schema": "/v2/schemas/members"})


@bp.route("/v2/images/{image_id}/members/{member_id}", methods=["GET"], content_types=ANY)
@http_errors
def show_member(image_id: str, member_id: str) -> Response:
    req = bp.current_request
    des.reject_body(req.raw_body)
    return ser.json_response(member_view(container().members.show(request_context(req), image_id, member_id)))


@bp.route("/v2/images/{image_id}/members/{member_id}", methods=["PUT"], content_types=ANY)
@http_errors
def update_member(image_id: str, member_id: str) -> Response:
    req = bp.current_request
    status = _field(req.raw_body, "status", "Status not specified")
    member = container().members.update(request_context(req), image_id, member_id, status)
    return ser.json_response(member_view(member))


@bp.route("/v2/images/{image_id}/members/{member_id}", methods=["DELETE"], content_types=ANY)
@http_errors
def delete_member(image_id: str, member_id: str) -> Response:
    req = bp.current_request
    des.reject_body(req.raw_body)
    container().members.delete(request_context(req), image_id, member_id)
    return ser.no_content()
