"""The Task aggregate (Glance's ``glance.domain.Task``), its status machine and named transitions.

One transition table; every status change goes through ``transition``. Finishing
a task (success or failure) sets ``expires_at = now + ttl``: Glance's
``task_time_to_live``. The domain takes no config and no clock: ``now`` and
``ttl`` are passed in.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Mapping

from chalicelib.domain import urls
from chalicelib.domain.errors import InvalidInput, InvalidTaskTransition


class TaskStatus(str, Enum):
    PENDING = "pending"
    PROCESSING = "processing"
    SUCCESS = "success"
    FAILURE = "failure"


T = TaskStatus

# Glance glance/domain/__init__.py Task: pending -> processing|failure, processing -> success|failure.
TASK_TRANSITIONS: Mapping[TaskStatus, frozenset[TaskStatus]] = {
    T.PENDING: frozenset({T.PROCESSING, T.FAILURE}),
    T.PROCESSING: frozenset({T.SUCCESS, T.FAILURE}),
    T.SUCCESS: frozenset(),
    T.FAILURE: frozenset(),
}
TERMINAL = frozenset(s for s, targets in TASK_TRANSITIONS.items() if not targets)
TASK_TYPES = ("import", "api_image_import", "location_import")
# The only type a client may create through POST /v2/tasks (the others are internal).
PUBLIC_TASK_TYPES = ("import",)
IMPORT_INPUT_KEYS = ("import_from", "import_from_format", "image_properties")


@dataclass(frozen=True)
class Task:
    """A task's state; field names are Glance's wire names."""

    id: str
    type: str
    owner: str | None
    created_at: datetime
    updated_at: datetime
    status: TaskStatus = T.PENDING
    input: Mapping[str, Any] | None = None
    result: Mapping[str, Any] | None = None
    message: str = ""
    expires_at: datetime | None = None
    image_id: str | None = None
    request_id: str | None = None
    user_id: str | None = None
    version: int = 0


def transition(task: Task, target: TaskStatus, now: datetime) -> Task:
    """Return ``task`` in ``target`` updated at ``now``; raises InvalidTaskTransition if the table forbids it."""
    if target not in TASK_TRANSITIONS[task.status]:
        raise InvalidTaskTransition(task_id=task.id, current=task.status.value, target=target.value)
    return replace(task, status=target, updated_at=now)


def begin_processing(task: Task, now: datetime) -> Task:
    """pending -> processing, when the pipeline picks the task up."""
    return transition(task, T.PROCESSING, now)


def succeed(task: Task, result: Mapping[str, Any] | None, now: datetime, ttl: timedelta) -> Task:
    """processing -> success with ``result``; the task expires ``ttl`` after ``now``."""
    done = transition(task, T.SUCCESS, now)
    return replace(done, result=dict(result) if result is not None else None, expires_at=now + ttl)


def fail(task: Task, message: str, now: datetime, ttl: timedelta) -> Task:
    """pending|processing -> failure with ``message``; the task expires ``ttl`` after ``now``."""
    return replace(transition(task, T.FAILURE, now), message=message, expires_at=now + ttl)


def is_expired(task: Task, now: datetime) -> bool:
    """True once ``expires_at`` has passed (DynamoDB's TTL deletion is lazy, so reads must check)."""
    return task.expires_at is not None and task.expires_at < now


def check_create(task_type: object, task_input: object) -> tuple[str, dict[str, Any]]:
    """The (type, input) of a client-created task; raises InvalidInput for any Glance rule broken."""
    if task_type not in PUBLIC_TASK_TYPES:
        raise InvalidInput(f"Invalid type value: {task_type}")
    if not isinstance(task_input, dict):
        raise InvalidInput("Task 'input' must be an object.")
    missing = [key for key in IMPORT_INPUT_KEYS if key not in task_input]
    if missing:
        raise InvalidInput(f"Input does not contain '{missing[0]}' field")
    source = task_input["import_from"]
    if not isinstance(source, str) or not source:
        raise InvalidInput("'import_from' must be an http or https URL.")
    # file://, swift+config:// and the rest are refused, as Glance's import filtering does.
    source = urls.normalize(source)  # stored as it is checked and fetched
    if not isinstance(task_input["import_from_format"], str) or not task_input["import_from_format"]:
        raise InvalidInput("'import_from_format' must be a non-empty string.")
    if not isinstance(task_input["image_properties"], dict):
        raise InvalidInput("'image_properties' must be an object.")
    return str(task_type), {**task_input, "import_from": source}
