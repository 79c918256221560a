"""Interoperable import (reference 1.3) and the direct-to-S3 upload extension."""
from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api import deserializers as des
from chalicelib.api import serializers as ser
from chalicelib.api.errors import http_errors
from chalicelib.api.http import query_lists, request_context
from chalicelib.wiring import container

bp = Blueprint(__name__)
ANY = ["*/*"]


@bp.route("/v2/images/{image_id}/import", methods=["POST"], content_types=ANY)
@http_errors
def import_image(image_id: str) -> Response:
    req = bp.current_request
    body, store = des.json_body(req.raw_body), req.headers.get("x-image-meta-store")
    container().imports.import_image(request_context(req), image_id, body, store)
    return ser.accepted()


# Extension: images too big for the API's payload limit go straight to S3; the S3 event imports them.
# One presigned PUT, or (beyond 5 GiB, or asked for with a size) a multipart upload: part URLs, then
# .../upload-url/complete, or DELETE .../upload-url to abort it.
@bp.route("/v2/images/{image_id}/upload-url", methods=["POST"], content_types=ANY)
@http_errors
def create_upload_url(image_id: str) -> Response:
    req = bp.current_request
    ticket = container().uploads.upload_url(request_context(req), image_id, des.json_body(req.raw_body, required=False))
    return ser.json_response(ser.upload_view(ticket))


@bp.route("/v2/images/{image_id}/upload-url", methods=["GET"])
@http_errors
def show_upload_parts(image_id: str) -> Response:
    req = bp.current_request
    first = des.int_param("part", query_lists(req).get("part", ["1"])[-1], minimum=1)
    return ser.json_response(ser.upload_view(container().uploads.part_urls(request_context(req), image_id, first)))


@bp.route("/v2/images/{image_id}/upload-url/complete", methods=["POST"], content_types=ANY)
@http_errors
def complete_upload(image_id: str) -> Response:
    req = bp.current_request
    container().uploads.complete(request_context(req), image_id, des.json_body(req.raw_body, required=False))
    return ser.accepted()


@bp.route("/v2/images/{image_id}/upload-url", methods=["DELETE"])
@http_errors
def abort_upload(image_id: str) -> Response:
    container().uploads.abort(request_context(bp.current_request), image_id)
    return ser.no_content()
