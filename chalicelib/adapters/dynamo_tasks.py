"""TaskRepository on DynamoDB (PynamoDB): conditional writes, listings by Query only.

Every task is indexed by (created_at, id) three ways: under its owner (the
project listing), under the constant ``everyone`` partition (the admin
listing; see TaskAllIndex for the hot-partition trade-off) and, when it has
one, under its image; and by (status, created_at, id) under its owner and
under ``everyone``, because glanceclient's task-list sorts by status. A failed condition becomes a domain error here,
every other AWS fault aws_errors' translation; no PynamoDB or botocore exception leaves this module.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import timezone
from typing import Any, Iterator

from pynamodb.exceptions import DoesNotExist

from chalicelib.adapters.aws_errors import translated, translated_iter
from chalicelib.adapters.dynamo_models import TaskRecord
from chalicelib.domain.errors import ConcurrentUpdate, Duplicate, InvalidInput, TaskNotFound
from chalicelib.domain.tasks import Task, TaskStatus

EVERYONE = "tasks"  # the one partition of the admin index
WHAT = "The task"  # names the task in a storage-limit refusal
_MAX_KEY_BYTES = 2048
SORT_DIRS = ("asc", "desc")
SORT_KEYS = ("created_at", "status")  # each has an index; (status, created_at, id) is Glance's order for status


def sort_value(task: Task) -> str:
    """``s_created``: created_at at microseconds, then the id, so string order is (created_at, id)."""
    stamp = task.created_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return f"{stamp}#{task.id}"


def status_sort_value(task: Task) -> str:
    """``s_status``: the status, then ``s_created`` (Glance's order for sort_key=status)."""
    return f"{task.status.value}#{sort_value(task)}"


def _to_record(task: Task) -> Any:
    return TaskRecord(
        task.id,
        type=task.type,
        status=task.status.value,
        owner=task.owner,
        input=dict(task.input) if task.input is not None else None,
        result=dict(task.result) if task.result is not None else None,
        message=task.message or None,
        created_at=task.created_at,
        updated_at=task.updated_at,
        expires_at=task.expires_at,
        image_id=task.image_id,
        request_id=task.request_id,
        user_id=task.user_id,
        version=task.version,
        ttl=task.expires_at,
        everyone=EVERYONE,
        s_created=sort_value(task),
        s_status=status_sort_value(task),
    )


def _to_domain(record: Any) -> Task:
    return Task(
        id=record.id,
        type=record.type,
        owner=record.owner,
        created_at=record.created_at,
        updated_at=record.updated_at,
        status=TaskStatus(record.status),
        input=record.input,
        result=record.result,
        message=record.message or "",
        expires_at=record.expires_at,
        image_id=record.image_id,
        request_id=record.request_id,
        user_id=record.user_id,
        version=int(record.version),
    )


def _storable_key(task_id: str) -> bool:
    return bool(task_id) and len(task_id.encode("utf-8", "surrogatepass")) <= _MAX_KEY_BYTES


class DynamoTaskRepository:
    """Tasks in one DynamoDB table; GetItem by id, Query on the three GSIs for listings."""

    def get(self, task_id: str) -> Task:
        """One strongly consistent GetItem; raises TaskNotFound."""
        if not _storable_key(task_id):
            raise TaskNotFound(task_id=task_id)
        with translated(WHAT, action="read"):
            try:
                return _to_domain(TaskRecord.get(task_id, consistent_read=True))
            except DoesNotExist:
                raise TaskNotFound(task_id=task_id) from None

    def add(self, task: Task) -> Task:
        """PutItem conditioned on the id being new; raises Duplicate."""
        with translated(WHAT, on_condition=Duplicate(f"Task with identifier {task.id} already exists!")):
            _to_record(task).save(condition=TaskRecord.id.does_not_exist())
        return task

    def save(self, task: Task, *, expected: Task) -> Task:
        """PutItem conditioned on the expected version and status; bumps version; raises ConcurrentUpdate."""
        stored = replace(task, version=expected.version + 1)
        condition = (TaskRecord.version == expected.version) & (TaskRecord.status == expected.status.value)
        moved = ConcurrentUpdate(f"Task {task.id} was changed by another request; try again.")
        with translated(WHAT, on_condition=moved):
            _to_record(stored).save(condition=condition)
        return stored

    def iter_owner(
        self, owner: str | None, marker: Task | None, sort_dir: str, page_size: int, sort_key: str = "created_at",
    ) -> Iterator[Task]:
        """Query the owner's (or, for None, the everyone) index of ``sort_key`` lazily, strictly after ``marker``."""
        if sort_dir not in SORT_DIRS:
            raise InvalidInput(f"Invalid sort direction: {sort_dir}")
        if sort_key not in SORT_KEYS:
            raise InvalidInput(f"Invalid sort key: {sort_key}")
        desc = sort_dir == "desc"
        by_status = sort_key == "status"
        index: Any
        if owner is None:
            index, partition = (TaskRecord.by_everyone_status if by_status else TaskRecord.by_everyone), EVERYONE
        else:
            index, partition = (TaskRecord.by_owner_status if by_status else TaskRecord.by_owner), owner
        attr = TaskRecord.s_status if by_status else TaskRecord.s_created
        condition = None
        if marker is not None:
            bound = status_sort_value(marker) if by_status else sort_value(marker)
            condition = attr < bound if desc else attr > bound
        records = index.query(
            partition, range_key_condition=condition, scan_index_forward=not desc, page_size=max(page_size, 1)
        )
        return (_to_domain(r) for r in translated_iter(records, "The task listing"))

    def list_for_image(self, image_id: str) -> list[Task]:
        """One (paged) Query on the image index, oldest first."""
        if not _storable_key(image_id):
            return []
        return [_to_domain(r) for r in translated_iter(TaskRecord.by_image.query(image_id), "The task listing")]
