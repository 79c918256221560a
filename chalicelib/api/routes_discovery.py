"""Version discovery, schemas and the catch-all 404 (with dev mode's answer to Keystone look-ups)."""
from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api import schemas
from chalicelib.api import serializers as ser
from chalicelib.api.errors import http_errors
from chalicelib.api.http import base_url, request_context
from chalicelib.domain.errors import Forbidden, NotFound
from chalicelib.wiring import container

bp = Blueprint(__name__)
ANY = ["*/*"]
# Keystone's project and domain look-ups (v2 ``tenants``; v3 ``projects``, ``domains``), bare or under a version.
IDENTITY_COLLECTIONS = frozenset({"tenants", "projects", "domains"})
IDENTITY_VERSIONS = frozenset({"v2.0", "v3"})


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
    request = bp.current_request
    path = (request.uri_params or {}).get("proxy") or proxy  # Chalice hands the greedy capture over here only
    if request.method == "GET" and _is_identity_lookup(path) and container().settings.identity.auth_mode == "dev":
        # python-openstackclient looks a project up in Keystone before ``image add project``, ``image remove
        # project`` and ``image set --project``; with ``--os-auth-type admin_token`` every service is this
        # endpoint. A 403 there is the answer after which it uses the name or id as given (a user without
        # Keystone's admin role gets the same). Dev mode only: cloud mode has no such route (404).
        request_context(request)  # 401 without a dev identity, as Keystone would
        raise Forbidden("Identity look-ups are not served here: project and domain names or ids are used as given.")
    raise NotFound("The resource could not be found.")


def _is_identity_lookup(path: str) -> bool:
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] in IDENTITY_VERSIONS:
        parts = parts[1:]
    return 1 <= len(parts) <= 2 and parts[0] in IDENTITY_COLLECTIONS
