"""Request -> typed command for the tasks API (reference 1.8, 6)."""
from __future__ import annotations

import uuid
from typing import Any, Mapping

from chalicelib.api import schemas
from chalicelib.api.deserializers import Body, int_param, json_body, sort_desc
from chalicelib.domain.errors import InvalidInput
from chalicelib.services.tasks import TaskQuery

_PAGING = frozenset({"limit", "marker", "sort_key", "sort_dir"})
# Only these are indexed (status: glanceclient's task-list default); others would need a Scan, so 400.
SORT_KEYS = ("created_at", "status")


def create_task(raw: Body) -> dict[str, Any]:
    """A ``POST /v2/tasks`` body: a JSON object valid against the task schema; raises InvalidInput."""
    body = json_body(raw)
    if not isinstance(body, dict):
        raise InvalidInput("Expected an object in request body.")
    schemas.validate("task", body)
    task_input = body.get("input")
    if isinstance(task_input, dict) and isinstance(task_input.get("image_properties"), dict):
        # The image the import task will create: refused now (400) rather than failing the task later.
        schemas.validate("image", task_input["image_properties"])
    return body


def _uuid_like(raw: str) -> bool:
    try:
        uuid.UUID(raw)
    except ValueError:
        return False
    return True


def list_tasks(params: Mapping[str, list[str]], *, default_limit: int, max_limit: int) -> TaskQuery:
    """``GET /v2/tasks`` parameters; raises InvalidInput for a bad limit, marker, sort key or direction."""
    one = {key: values[-1] for key, values in params.items() if values}
    limit = int_param("limit", one["limit"]) if "limit" in one else default_limit
    marker = one.get("marker")
    if marker is not None and not _uuid_like(marker):
        raise InvalidInput("Invalid marker format")
    sort_key = one.get("sort_key", "created_at")
    if sort_key not in SORT_KEYS:
        raise InvalidInput(f"Invalid sort key: {sort_key}. Tasks can be sorted by: {', '.join(SORT_KEYS)}.")
    sort_dir = one.get("sort_dir", "desc")
    sort_desc(sort_dir)
    filters = {key: value for key, value in one.items() if key not in _PAGING}
    return TaskQuery(limit=min(limit, max_limit), marker=marker, sort_dir=sort_dir, sort_key=sort_key, filters=filters)
