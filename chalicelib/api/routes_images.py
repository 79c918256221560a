"""Image metadata routes: create, list, show, update, delete, tags."""
from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api import deserializers as des
from chalicelib.api import serializers as ser
from chalicelib.api.errors import http_errors
from chalicelib.api.http import query_lists, request_context
from chalicelib.domain.context import RequestContext
from chalicelib.wiring import container

bp = Blueprint(__name__)
ANY = ["*/*"]  # Glance does not check the JSON Content-Type; the views do what checking there is


def _shown(ctx: RequestContext) -> ser.LocationDisplay:
    settings = container().settings
    where = settings.locations
    return ser.LocationDisplay(where.show_multiple_locations, where.show_image_direct_url, ctx, container().stores.catalog)


@bp.route("/v2/images", methods=["POST"], content_types=ANY)
@http_errors
def create_image() -> Response:
    ctx = request_context(bp.current_request)
    image = container().images.create(ctx, des.create_image(bp.current_request.raw_body))
    headers = {"Location": f"/v2/images/{image.id}", **ser.discovery_headers(container().settings)}
    return ser.json_response(ser.image_view(image, _shown(ctx)), 201, headers)


@bp.route("/v2/images", methods=["GET"], content_types=ANY)
@http_errors
def list_images() -> Response:
    req, settings = bp.current_request, container().settings
    params = query_lists(req)
    query = des.list_images(params, default_limit=settings.api.limit_param_default, max_limit=settings.api.api_limit_max)
    ctx = request_context(req)
    page = container().images.index(ctx, query)
    return ser.json_response(ser.images_view(page.images, params, page.next_marker, _shown(ctx),
                                             max_bytes=settings.api.page_max_bytes))


@bp.route("/v2/images/{image_id}", methods=["GET"], content_types=ANY)
@http_errors
def show_image(image_id: str) -> Response:
    des.reject_body(bp.current_request.raw_body)
    ctx = request_context(bp.current_request)
    return ser.json_response(ser.image_view(container().images.show(ctx, image_id), _shown(ctx)))


@bp.route("/v2/images/{image_id}", methods=["PATCH"], content_types=ANY)
@http_errors
def update_image(image_id: str) -> Response:
    req = bp.current_request
    ctx = request_context(req)
    changes = des.update_image(req.headers.get("content-type"), req.raw_body)
    return ser.json_response(ser.image_view(container().images.update(ctx, image_id, changes), _shown(ctx)))


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


@bp.route("/v2/images/{image_id}/locations", methods=["POST"], content_types=ANY)
@http_errors
def add_image_location(image_id: str) -> Response:
    url, validation = des.add_location(bp.current_request.raw_body)
    container().location_imports.add_location(request_context(bp.current_request), image_id, url, validation)
    return ser.accepted()


@bp.route("/v2/images/{image_id}/locations", methods=["GET"], content_types=ANY)
@http_errors
def list_image_locations(image_id: str) -> Response:
    locations = container().images.list_locations(request_context(bp.current_request), image_id)
    return ser.json_response(ser.locations_view(locations, container().stores.catalog))


@bp.route("/v2/stores/{store_id}/{image_id}", methods=["DELETE"], content_types=ANY)
@http_errors
def delete_from_store(store_id: str, image_id: str) -> Response:
    req = bp.current_request
    des.reject_body(req.raw_body)
    container().images.delete_from_store(request_context(req), container().stores.catalog, store_id, image_id)
    return ser.no_content()
