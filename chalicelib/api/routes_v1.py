"""The legacy v1 images API (reference 11): list, detail, create, HEAD, GET data, PUT, DELETE.

Metadata travels in ``x-image-meta-*`` headers (api/v1_headers.py); the use
cases are services/v1_images.py over the same repository as v2, so an image
made through either API is visible through the other.
"""
from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api import v1_headers as hdr
from chalicelib.api import v1_requests as des
from chalicelib.api import v1_responses as ser
from chalicelib.api.body import request_chunks
from chalicelib.api.errors import http_errors
from chalicelib.api.http import query_lists, request_context
from chalicelib.domain.v1 import V1Meta
from chalicelib.wiring import container

bp = Blueprint(__name__)
ANY = ["*/*"]


def _meta() -> V1Meta:
    return des.check_values(hdr.parse_meta(bp.current_request.headers, size_cap=container().settings.data.image_size_cap))


def _listing(detail: bool) -> Response:
    settings = container().settings
    query = des.list_images(query_lists(bp.current_request), default_limit=settings.api.limit_param_default,
                            max_limit=settings.api.api_limit_max)
    return ser.images_list(container().v1.index(request_context(bp.current_request), query).images, detail)


@bp.route("/v1/images", methods=["GET"], content_types=ANY)
@http_errors
def list_images() -> Response:
    return _listing(detail=False)


@bp.route("/v1/images/detail", methods=["GET"], content_types=ANY)
@http_errors
def list_images_detail() -> Response:
    return _listing(detail=True)


@bp.route("/v1/images", methods=["POST"], content_types=ANY)
@http_errors
def create_image() -> Response:
    req = bp.current_request
    meta, chunks = _meta(), des.image_data(req.headers.get("content-type"), request_chunks(req))
    return ser.image_document(container().v1.create(request_context(req), meta, chunks), 201)


@bp.route("/v1/images/{image_id}", methods=["HEAD"], content_types=ANY)
@http_errors
def show_image_metadata(image_id: str) -> Response:
    return ser.metadata(container().v1.show(request_context(bp.current_request), image_id))


@bp.route("/v1/images/{image_id}", methods=["GET"], content_types=ANY)
@http_errors
def show_image(image_id: str) -> Response:
    return ser.data(container().v1.download(request_context(bp.current_request), image_id))


@bp.route("/v1/images/{image_id}", methods=["PUT"], content_types=ANY)
@http_errors
def update_image(image_id: str) -> Response:
    req = bp.current_request
    meta, chunks, purge = _meta(), des.image_data(req.headers.get("content-type"), request_chunks(req)), hdr.purge_props(req.headers)
    return ser.image_document(container().v1.update(request_context(req), image_id, meta, chunks, purge))


@bp.route("/v1/images/{image_id}", methods=["DELETE"], content_types=ANY)
@http_errors
def delete_image(image_id: str) -> Response:
    container().v1.delete(request_context(bp.current_request), image_id)
    return ser.deleted()
