"""Tasks routes (reference 1.8, 6): deprecated in Glance, admin-only by default; DELETE is 405 (Allow: GET)."""
from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api import deserializers as des
from chalicelib.api import serializers as ser
from chalicelib.api import task_deserializers as task_des
from chalicelib.api.errors import http_errors
from chalicelib.api.http import query_lists, request_context
from chalicelib.wiring import container

bp = Blueprint(__name__)
ANY = ["*/*"]


@bp.route("/v2/tasks", methods=["POST"], content_types=ANY)
@http_errors
def create_task() -> Response:
    req = bp.current_request
    task = container().tasks.create_task(request_context(req), task_des.create_task(req.raw_body))
    return ser.json_response(ser.task_view(task), 201, {"Location": f"/v2/tasks/{task.id}"})


@bp.route("/v2/tasks", methods=["GET"], content_types=ANY)
@http_errors
def list_tasks() -> Response:
    req, settings = bp.current_request, container().settings
    params = query_lists(req)
    query = task_des.list_tasks(params, default_limit=settings.api.limit_param_default, max_limit=settings.api.api_limit_max)
    tasks, next_marker = container().tasks.index(request_context(req), query)
    return ser.json_response(ser.tasks_view(tasks, params, next_marker))


@bp.route("/v2/tasks/{task_id}", methods=["GET"], content_types=ANY)
@http_errors
def get_task(task_id: str) -> Response:
    des.reject_body(bp.current_request.raw_body)
    return ser.json_response(ser.task_view(container().tasks.show(request_context(bp.current_request), task_id)))


@bp.route("/v2/images/{image_id}/tasks", methods=["GET"], content_types=ANY)
@http_errors
def get_image_tasks(image_id: str) -> Response:
    des.reject_body(bp.current_request.raw_body)
    ctx = request_context(bp.current_request)
    tasks = container().tasks.tasks_for_image(ctx, container().images.show(ctx, image_id))
    return ser.json_response({"tasks": [ser.task_view(t) for t in tasks]})
