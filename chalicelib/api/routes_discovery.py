"""Version discovery, schemas and the catch-all 404."""
from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api import schemas
from chalicelib.api import serializers as ser
from chalicelib.api.errors import http_errors
from chalicelib.api.http import base_url, request_context
from chalicelib.domain.errors import NotFound

bp = Blueprint(__name__)
ANY = ["*/*"]


@bp.route("/", methods=["GET"], content_types=ANY)
@http_errors
def root_versions() -> Response:
    # Glance answers the unversioned root with 300 Multiple Choices (tempest checks it).
    return ser.json_response(ser.versions_view(base_url(bp.current_request)), 300)


@bp.route("/versions", methods=["GET"], content_types=ANY)
@http_errors
def list_versions() -> Response:
    return ser.json_response(ser.versions_view(base_url(bp.current_request)))


@bp.route("/v2/schemas/{name}", methods=["GET"], content_types=ANY)
@http_errors
def show_schema(name: str) -> Response:
    request_context(bp.current_request)
    return ser.json_response(schemas.load(name))


@bp.route("/v2/schemas/metadefs/{name}", methods=["GET"], content_types=ANY)
@http_errors
def show_metadefs_schema(name: str) -> Response:
    request_context(bp.current_request)
    return ser.json_response(schemas.load(f"metadefs/{name}"))


@bp.route("/{proxy+}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"], content_types=ANY)
@http_errors
def unknown_path(proxy: str = "") -> Response:
    raise NotFound("The resource could not be found.")
