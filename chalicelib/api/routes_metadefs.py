"""Metadata definitions routes (reference 1.10). Namespace names hold '::': path values are
percent-decoded here too, since clients may send them encoded and API Gateway passes them as sent.
"""
from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import unquote

from chalice.app import Blueprint, Response

from chalicelib.api import deserializers as des
from chalicelib.api import schemas
from chalicelib.api import serializers as ser
from chalicelib.api.errors import http_errors
from chalicelib.api.http import request_context
from chalicelib.domain.errors import InvalidInput
from chalicelib.wiring import container

bp = Blueprint(__name__)
ANY = ["*/*"]
BASE = "/v2/metadefs/namespaces"
_PLURAL = {"property": "properties", "object": "objects", "tag": "tags"}


def _ctx() -> Any:
    return request_context(bp.current_request)


def _body(schema: str) -> dict[str, Any]:
    body = des.json_body(bp.current_request.raw_body)
    if not isinstance(body, dict):
        raise InvalidInput("Expected an object in request body.")
    schemas.validate(f"metadefs/{schema}", body)
    return body


def _param(name: str) -> str | None:
    params: Mapping[str, str] = bp.current_request.query_params or {}
    return params.get(name)


def _int(name: str, default: int) -> int:
    raw = _param(name)
    try:
        value = default if raw is None else int(raw)
    except ValueError:
        raise InvalidInput(f"{name} param must be an integer") from None
    if value < 0:
        raise InvalidInput(f"{name} param must be positive")
    return value


@bp.route("/v2/metadefs/resource_types", methods=["GET"], content_types=ANY)
@http_errors
def list_resource_types() -> Response:
    return ser.json_response({"resource_types": container().metadefs.resource_types(_ctx())})


@bp.route(BASE, methods=["GET"], content_types=ANY)
@http_errors
def list_namespaces() -> Response:
    settings = container().settings
    limit = min(_int("limit", settings.api.limit_param_default), settings.api.api_limit_max)
    rts = [r for r in (_param("resource_types") or "").split(",") if r]
    page, next_marker = container().metadefs.list_namespaces(
        _ctx(), visibility=_param("visibility"), resource_types=rts, limit=limit, marker=_param("marker"),
        sort_key=_param("sort_key") or "created_at", sort_dir=_param("sort_dir") or "desc")
    doc: dict[str, Any] = {"namespaces": page, "first": BASE, "schema": "/v2/schemas/metadefs/namespaces"}
    if next_marker:
        doc["next"] = f"{BASE}?marker={next_marker}&limit={limit}"
    return ser.json_response(doc)


@bp.route(BASE, methods=["POST"], content_types=ANY)
@http_errors
def create_namespace() -> Response:
    doc = container().metadefs.create_namespace(_ctx(), _body("namespace"))
    return ser.json_response(doc, 201, {"Location": f"{BASE}/{doc['namespace']}"})


@bp.route(BASE + "/{namespace}", methods=["GET"], content_types=ANY)
@http_errors
def show_namespace(namespace: str) -> Response:
    return ser.json_response(container().metadefs.show_namespace(_ctx(), unquote(namespace), _param("resource_type")))


@bp.route(BASE + "/{namespace}", methods=["PUT"], content_types=ANY)
@http_errors
def update_namespace(namespace: str) -> Response:
    return ser.json_response(container().metadefs.update_namespace(_ctx(), unquote(namespace), _body("namespace")))


@bp.route(BASE + "/{namespace}", methods=["DELETE"], content_types=ANY)
@http_errors
def delete_namespace(namespace: str) -> Response:
    container().metadefs.delete_namespace(_ctx(), unquote(namespace))
    return ser.no_content()


@bp.route(BASE + "/{namespace}/resource_types", methods=["GET"], content_types=ANY)
@http_errors
def list_associations(namespace: str) -> Response:
    found = container().metadefs.associations(_ctx(), unquote(namespace))
    return ser.json_response({"resource_type_associations": found})


@bp.route(BASE + "/{namespace}/resource_types", methods=["POST"], content_types=ANY)
@http_errors
def create_association(namespace: str) -> Response:
    return ser.json_response(container().metadefs.associate(_ctx(), unquote(namespace), _body("resource_type")), 201)


@bp.route(BASE + "/{namespace}/resource_types/{name}", methods=["DELETE"], content_types=ANY)
@http_errors
def delete_association(namespace: str, name: str) -> Response:
    container().metadefs.dissociate(_ctx(), unquote(namespace), unquote(name))
    return ser.no_content()


def _items_routes(kind: str) -> None:
    plural = _PLURAL[kind]
    path = f"{BASE}/{{namespace}}/{plural}"

    @bp.route(path, methods=["GET"], content_types=ANY, name=f"list_metadef_{plural}")
    @http_errors
    def list_items(namespace: str) -> Response:
        found = container().metadefs.list_items(_ctx(), unquote(namespace), kind, _param("resource_type"))
        return ser.json_response({plural: found})

    @bp.route(path, methods=["DELETE"], content_types=ANY, name=f"delete_metadef_{plural}")
    @http_errors
    def delete_items(namespace: str) -> Response:
        container().metadefs.delete_items(_ctx(), unquote(namespace), kind)
        return ser.no_content()

    @bp.route(path + "/{name}", methods=["GET"], content_types=ANY, name=f"show_metadef_{kind}")
    @http_errors
    def show_item(namespace: str, name: str) -> Response:
        return ser.json_response(container().metadefs.show_item(_ctx(), unquote(namespace), kind, unquote(name)))

    @bp.route(path + "/{name}", methods=["PUT"], content_types=ANY, name=f"update_metadef_{kind}")
    @http_errors
    def update_item(namespace: str, name: str) -> Response:
        body = {"name": unquote(name)} if kind == "tag" and not bp.current_request.raw_body else _body(kind)
        return ser.json_response(container().metadefs.update_item(_ctx(), unquote(namespace), kind, unquote(name), body))

    @bp.route(path + "/{name}", methods=["DELETE"], content_types=ANY, name=f"delete_metadef_{kind}")
    @http_errors
    def delete_item(namespace: str, name: str) -> Response:
        container().metadefs.delete_item(_ctx(), unquote(namespace), kind, unquote(name))
        return ser.no_content()

    if kind == "tag":
        return

    @bp.route(path, methods=["POST"], content_types=ANY, name=f"create_metadef_{kind}")
    @http_errors
    def create_item(namespace: str) -> Response:
        return ser.json_response(container().metadefs.create_item(_ctx(), unquote(namespace), kind, _body(kind)), 201)


for _kind in _PLURAL:
    _items_routes(_kind)


@bp.route(BASE + "/{namespace}/tags", methods=["POST"], content_types=ANY)
@http_errors
def create_tags(namespace: str) -> Response:
    body = des.json_body(bp.current_request.raw_body)
    tags = body.get("tags") if isinstance(body, dict) else None
    if not isinstance(tags, list) or not all(isinstance(t, dict) and isinstance(t.get("name"), str) for t in tags):
        raise InvalidInput("Body must be {\"tags\": [{\"name\": ...}, ...]}")
    append = (bp.current_request.headers.get("x-openstack-append") or "").lower() == "true"
    made = container().metadefs.create_tags(_ctx(), unquote(namespace), [t["name"] for t in tags], append)
    return ser.json_response({"tags": made}, 201)


@bp.route(BASE + "/{namespace}/tags/{name}", methods=["POST"], content_types=ANY)
@http_errors
def create_tag(namespace: str, name: str) -> Response:
    doc = container().metadefs.create_item(_ctx(), unquote(namespace), "tag", {"name": unquote(name)})
    return ser.json_response(doc, 201)
