"""Version discovery, schemas and the catch-all: 300 for an unknown version, else 404 (with dev mode's answer to
Keystone look-ups)."""
from __future__ import annotations

import re

from chalice.app import Blueprint, Request, Response

from chalicelib.api import schemas, versions
from chalicelib.api import serializers as ser
from chalicelib.api.errors import NOT_FOUND, http_errors
from chalicelib.api.http import base_url, request_context
from chalicelib.domain.errors import Forbidden, NotFound
from chalicelib.wiring import container

bp = Blueprint(__name__)
ANY = ["*/*"]
# Keystone's project and domain look-ups (v2 ``tenants``; v3 ``projects``, ``domains``), bare or under a version.
IDENTITY_COLLECTIONS = frozenset({"tenants", "projects", "domains"})
IDENTITY_VERSIONS = frozenset({"v2.0", "v3"})
# A first path segment that names an API version (v9, v3.1); Glance answers one it does not serve with 300.
_VERSION_SEGMENT = re.compile(r"^v\d+(\.\d+)?$")


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


def _path(request: Request) -> str:
    """The path past the API's root: the greedy ``{proxy+}`` capture where the front hands it over (API Gateway,
    chalicelib/front), else the request context's path past API Gateway's stage."""
    captured = (request.uri_params or {}).get("proxy")
    if captured:
        return str(captured)
    context = request.context or {}
    parts = [p for p in str(context.get("path") or "").split("/") if p]
    if parts and context.get("stage") and parts[0] == context.get("stage") and len(parts) > 1:
        parts = parts[1:]
    return "/".join(parts)


@bp.route("/{proxy+}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"], content_types=ANY)
@http_errors
def unknown_path(**_: str) -> Response:
    request = bp.current_request
    path = _path(request)
    if request.method == "GET" and _is_identity_lookup(path) and container().settings.identity.auth_mode == "dev":
        # python-openstackclient looks a project up in Keystone before ``image add project``, ``image remove
        # project`` and ``image set --project``; with ``--os-auth-type admin_token`` every service is this
        # endpoint. A 403 there is the answer after which it uses the name or id as given (a user without
        # Keystone's admin role gets the same). Dev mode only: cloud mode has no such route (404, or 300 below).
        request_context(request)  # 401 without a dev identity, as Keystone would
        raise Forbidden("Identity look-ups are not served here: project and domain names or ids are used as given.")
    first = next((p for p in path.split("/") if p), "")
    if _VERSION_SEGMENT.match(first) and first not in versions.SERVED:
        # Glance's version negotiation: a version it does not serve gets the choices (300 Multiple Choices).
        return ser.json_response(ser.versions_view(base_url(request)), 300)
    raise NotFound(NOT_FOUND)


def _is_identity_lookup(path: str) -> bool:
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] in IDENTITY_VERSIONS:
        parts = parts[1:]
    return 1 <= len(parts) <= 2 and parts[0] in IDENTITY_COLLECTIONS
