"""Interoperable import (reference 1.3) and the direct-to-S3 upload extension."""
from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api import deserializers as des
from chalicelib.api import serializers as ser
from chalicelib.api.errors import http_errors
from chalicelib.api.http import request_context
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
@bp.route("/v2/images/{image_id}/upload-url", methods=["POST"], content_types=ANY)
@http_errors
def create_upload_url(image_id: str) -> Response:
    ticket = container().imports.upload_url(request_context(bp.current_request), image_id)
    return ser.json_response({"url": ticket.url, "method": "PUT", "headers": dict(ticket.headers),
                              "expires_in": ticket.expires_in})
