"""Version discovery, schemas and the catch-all: 300 for an unknown version, else 404."""
from __future__ import annotations

import re

from chalice.app import Blueprint, Request, Response

from chalicelib.api import schemas
from chalicelib.api import serializers as ser
from chalicelib.api.errors import http_errors
from chalicelib.api.http import base_url, request_context
from chalicelib.domain.errors import NotFound

bp = Blueprint(__name__)
ANY = ["*/*"]
# A first path segment that names an API version (v9, v3.1); Glance answers an unknown one with 300.
_VERSION_SEGMENT = re.compile(r"^v\d+(\.\d+)?$")
SERVED_VERSIONS = ("v1", "v2")


@bp.route("/", methods=["GET"], content_types=ANY)
@http_errors
def root_versions() -> Response:
    # Glance answers the unversioned root with 300 Multiple Choices (tempest checks it).
    return ser.json_response(ser.versions_view(base_url(bp.current_request)), 300)


@bp.route("/versions", methods=["GET"], content_types=ANY)
@http_errors
def list_versions() -> Response:
    return ser.json_response(ser.versions_view(base_url(bp.current_request)))


@bp.route("/v2", methods=["GET"], content_types=ANY)
@http_errors
def v2_root() -> Response:
    # Glance redirects the bare version path to its collection root (302 Found, Location .../v2/).
    location = base_url(bp.current_request).rstrip("/") + "/v2/"
    return Response(body="", status_code=302, headers={"Location": location, "Content-Type": "text/plain"})


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


def _first_segment(request: Request) -> str:
    """The request path's first segment, past API Gateway's stage (the greedy ``{proxy+}`` value is not
    handed to views by Chalice, so the path comes from the request context)."""
    context = request.context or {}
    parts = [p for p in str(context.get("path") or "").split("/") if p]
    if parts and context.get("stage") and parts[0] == context.get("stage") and len(parts) > 1:
        parts = parts[1:]
    return parts[0] if parts else ""


@bp.route("/{proxy+}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"], content_types=ANY)
@http_errors
def unknown_path(**_: str) -> Response:
    first = _first_segment(bp.current_request)
    if _VERSION_SEGMENT.match(first) and first not in SERVED_VERSIONS:
        # Glance's version negotiation: a version it does not serve gets the choices (300 Multiple Choices).
        return ser.json_response(ser.versions_view(base_url(bp.current_request)), 300)
    raise NotFound("The resource could not be found.")
