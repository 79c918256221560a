"""Image metadata routes: create, list, show, update, delete, tags."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api import deserializers as des
from chalicelib.api import serializers as ser
from chalicelib.api.errors import http_errors
from chalicelib.api.http import query_lists, request_context
from chalicelib.wiring import container

bp = Blueprint(__name__)
ANY = ["*/*"]  # Glance does not check the JSON Content-Type; the views do what checking there is


@bp.route("/v2/images", methods=["POST"], content_types=ANY)
@http_errors
def create_image() -> Response:
    req = bp.current_request
    image = container().images.create(request_context(req), des.create_image(req.raw_body))
    return ser.json_response(ser.image_view(image), 201, {"Location": f"/v2/images/{image.id}"})


@bp.route("/v2/images", methods=["GET"], content_types=ANY)
@http_errors
def list_images() -> Response:
    req, settings = bp.current_request, container().settings
    params = query_lists(req)
    query = des.list_images(params, default_limit=settings.limit_param_default, max_limit=settings.api_limit_max)
    page = container().images.index(request_context(req), query)
    return ser.json_response(ser.images_view(page.images, params, page.next_marker))


@bp.route("/v2/images/{image_id}", methods=["GET"], content_types=ANY)
@http_errors
def show_image(image_id: str) -> Response:
    req = bp.current_request
    des.reject_body(req.raw_body)
    return ser.json_response(ser.image_view(container().images.show(request_context(req), image_id)))


@bp.route("/v2/images/{image_id}", methods=["PATCH"], content_types=ANY)
@http_errors
def update_image(image_id: str) -> Response:
    req = bp.current_request
    ctx = request_context(req)
    changes = des.update_image(req.headers.get("content-type"), req.raw_body)
    return ser.json_response(ser.image_view(container().images.update(ctx, image_id, changes)))


@bp.route("/v2/images/{image_id}", methods=["DELETE"], content_types=ANY)
@http_errors
def delete_image(image_id: str) -> Response:
    req = bp.current_request
    des.reject_body(req.raw_body)
    container().images.delete(request_context(req), image_id)
    return ser.no_content()


@bp.route("/v2/images/{image_id}/tags/{tag_value}", methods=["PUT"], content_types=ANY)
@http_errors
def add_image_tag(image_id: str, tag_value: str) -> Response:
    container().images.add_tag(request_context(bp.current_request), image_id, tag_value)
    return ser.no_content()


@bp.route("/v2/images/{image_id}/tags/{tag_value}", methods=["DELETE"], content_types=ANY)
@http_errors
def delete_image_tag(image_id: str, tag_value: str) -> Response:
    container().images.delete_tag(request_context(bp.current_request), image_id, tag_value)
    return ser.no_content()
