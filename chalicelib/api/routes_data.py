"""Image data routes: upload, stage, download; and the deactivate/reactivate actions."""
from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api import deserializers as des
from chalicelib.api import serializers as ser
from chalicelib.api.body import request_chunks
from chalicelib.api.errors import http_errors
from chalicelib.api.http import request_context
from chalicelib.wiring import container

bp = Blueprint(__name__)
ANY = ["*/*"]


@bp.route("/v2/images/{image_id}/file", methods=["PUT"], content_types=ANY)
@http_errors
def upload_image_data(image_id: str) -> Response:
    req = bp.current_request
    ctx = request_context(req)
    size = des.upload_size(req.headers.get("content-type"), req.headers)
    chunks = request_chunks(req) or ()
    container().data.upload(ctx, image_id, chunks, size, store_id=req.headers.get("x-image-meta-store"))
    return ser.no_content()


@bp.route("/v2/images/{image_id}/stage", methods=["PUT"], content_types=ANY)
@http_errors
def stage_image_data(image_id: str) -> Response:
    req = bp.current_request
    ctx = request_context(req)
    size = des.upload_size(req.headers.get("content-type"), req.headers)
    chunks = request_chunks(req) or ()
    container().data.stage(ctx, image_id, chunks, size)
    return ser.no_content()


@bp.route("/v2/images/{image_id}/file", methods=["GET"], content_types=ANY)
@http_errors
def download_image_data(image_id: str) -> Response:
    req = bp.current_request
    headers = req.headers
    plan = container().data.download(request_context(req), image_id, headers.get("range"), headers.get("content-range"))
    return ser.download_response(plan)


@bp.route("/v2/images/{image_id}/actions/deactivate", methods=["POST"], content_types=ANY)
@http_errors
def deactivate_image(image_id: str) -> Response:
    container().images.deactivate(request_context(bp.current_request), image_id)
    return ser.no_content()


@bp.route("/v2/images/{image_id}/actions/reactivate", methods=["POST"], content_types=ANY)
@http_errors
def reactivate_image(image_id: str) -> Response:
    container().images.reactivate(request_context(bp.current_request), image_id)
    return ser.no_content()
