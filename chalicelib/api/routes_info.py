"""Discovery (reference 1.11): import methods, the stores, and per-project usage."""
from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.api import deserializers as des
from chalicelib.api import serializers as ser
from chalicelib.api.errors import http_errors
from chalicelib.api.http import request_context
from chalicelib.domain import policy
from chalicelib.wiring import container

bp = Blueprint(__name__)
ANY = ["*/*"]


def _stores(detail: bool) -> list[dict[str, Any]]:
    return ser.stores_view(container().stores, container().settings.resources.region, detail=detail)


@bp.route("/v2/info/import", methods=["GET"], content_types=ANY)
@http_errors
def get_image_import() -> Response:
    req = bp.current_request
    des.reject_body(req.raw_body)
    request_context(req)
    methods = list(container().settings.imports.import_methods)
    return ser.json_response(
        {"import-methods": {"description": "Import methods available.", "type": "array", "value": methods}}
    )


@bp.route("/v2/info/stores", methods=["GET"], content_types=ANY)
@http_errors
def get_stores() -> Response:
    req = bp.current_request
    des.reject_body(req.raw_body)
    request_context(req)
    return ser.json_response({"stores": _stores(detail=False)})


@bp.route("/v2/info/stores/detail", methods=["GET"], content_types=ANY)
@http_errors
def get_stores_detail() -> Response:
    req = bp.current_request
    des.reject_body(req.raw_body)
    policy.require_stores_detail(request_context(req))
    return ser.json_response({"stores": _stores(detail=True)})


@bp.route("/v2/info/usage", methods=["GET"], content_types=ANY)
@http_errors
def get_usage() -> Response:
    req = bp.current_request
    des.reject_body(req.raw_body)
    return ser.json_response({"usage": container().images.usage(request_context(req))})
