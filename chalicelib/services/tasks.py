"""Task use cases (reference 1.8, 6): the legacy tasks API, and the pipeline's status updates.

Policy is explicit here: ``tasks_api_access`` (admin only by default) guards
every ``/v2/tasks`` route; a non-admin sees only its project's tasks; an
expired task is gone for every reader, because DynamoDB's TTL deletion is lazy.
The pipeline-facing calls are idempotent: Step Functions retries its steps.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable, Mapping

from chalicelib.domain import tasks as rules
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import ConcurrentUpdate, DomainError, Forbidden, InvalidInput, TaskNotFound
from chalicelib.domain.images import Image
from chalicelib.domain.tasks import Task, TaskStatus
from chalicelib.ports import Clock, IdGen, ImportLauncher, TaskRepository

# Columns a listing may filter on by exact match (Glance: "other keys filter on task columns").
FILTER_KEYS = ("status", "type", "id", "owner", "image_id", "user_id", "request_id")
# A lost race is retried once on a fresh read; more would be a Python retry loop (STYLE 8: retries live in the ASL).
_ATTEMPTS = 2


@dataclass(frozen=True)
class TaskQuery:
    """A parsed ``GET /v2/tasks``: the sort keys are those with an index (created_at, status)."""

    limit: int
    marker: str | None = None
    sort_dir: str = "desc"
    sort_key: str = "created_at"
    filters: Mapping[str, str] = field(default_factory=dict)


class TaskService:
    """Tasks over a TaskRepository; starts the import pipeline through an ImportLauncher."""

    def __init__(
        self, repo: TaskRepository, clock: Clock, ids: IdGen, launcher: ImportLauncher, ttl: timedelta,
        admin_only: bool = True,
    ) -> None:
        self.repo = repo
        self.clock = clock
        self.ids = ids
        self.launcher = launcher
        self.ttl = ttl
        self.admin_only = admin_only

    def _require_access(self, ctx: RequestContext) -> None:
        """Glance's tasks_api_access policy (role:admin unless configured open); raises Forbidden."""
        if self.admin_only and not ctx.is_admin:
            raise Forbidden(action="tasks_api_access")

    def create_task(self, ctx: RequestContext, body: Mapping[str, Any]) -> Task:
        """Store a pending ``import`` task, then start the pipeline; raises Forbidden, InvalidInput."""
        self._require_access(ctx)
        for key in ("type", "input"):
            if key not in body:
                raise InvalidInput(f"Task '{key}' is required")
        task_type, task_input = rules.check_create(body["type"], body["input"])
        now = self.clock.now()
        task = Task(
            id=self.ids.new_id(), type=task_type, owner=ctx.project_id, created_at=now, updated_at=now,
            input=task_input, request_id=ctx.request_id or None, user_id=ctx.user_id,
        )
        return self.add_task(task)

    def add_task(self, task: Task) -> Task:
        """Store a new task (internal callers set type and image_id), then start its pipeline execution.

        When the launcher refuses (e.g. ServiceUnavailable), the task is recorded as failed and the error re-raised.
        """
        stored = self.repo.add(task)
        # After the write: the pipeline's first step reads the task; the execution is named by it.
        try:
            self.launcher.start(stored.id, {"task_id": stored.id})
        except DomainError as exc:
            # Compensate: no execution will ever finish this task, so it must not stay pending.
            self.record_failure(stored.id, f"The import could not be started: {exc.message}")
            raise
        return stored

    def find(self, task_id: str) -> Task:
        """The stored task, expired or not, for the pipeline and import bookkeeping; raises TaskNotFound."""
        return self.repo.get(task_id)

    def relaunch(self, task_id: str) -> None:
        """Start the task's execution again; a no-op when it already runs (executions are named by task id)."""
        self.launcher.start(task_id, {"task_id": task_id})

    def index(self, ctx: RequestContext, query: TaskQuery) -> tuple[list[Task], str | None]:
        """A page of unexpired tasks ``ctx`` may see and the next marker (when the page is full).

        Raises Forbidden, InvalidInput (bad filter), TaskNotFound (a marker that is unknown or not visible).
        """
        self._require_access(ctx)
        _check_filters(query.filters)
        owner = None if ctx.is_admin else ctx.project_id
        if owner is None and not ctx.is_admin:
            return [], None
        marker = self._visible(ctx, query.marker) if query.marker is not None else None
        now = self.clock.now()
        stream = self.repo.iter_owner(owner, marker, query.sort_dir, query.limit, query.sort_key)
        wanted = (t for t in stream if not rules.is_expired(t, now) and _matches(t, query.filters))
        page = list(itertools.islice(wanted, query.limit))
        return page, (page[-1].id if page and len(page) == query.limit else None)

    def show(self, ctx: RequestContext, task_id: str) -> Task:
        """One unexpired task of ``ctx``'s project (any, for an admin); raises Forbidden, TaskNotFound."""
        self._require_access(ctx)
        return self._visible(ctx, task_id)

    def _visible(self, ctx: RequestContext, task_id: str) -> Task:
        task = self.repo.get(task_id)
        if rules.is_expired(task, self.clock.now()) or not _may_see(ctx, task):
            raise TaskNotFound(task_id=task_id)
        return task

    def tasks_for_image(self, ctx: RequestContext, image: Image) -> list[Task]:
        """The unexpired tasks of an image the caller was shown (not behind tasks_api_access), oldest first,
        keeping only those the caller may see (``_is_task_visible``): its project's tasks, or any for an admin.

        Glance's ``get_task_info`` lists ``tasks_get_by_image``, which drops tasks not visible to the
        context, so a member or a community viewer sees none: a task's input holds the import URI
        (credentials and all), its user_id and request_id. Unlike Glance, an owner-less task is an
        admin's alone (as an owner-less image is).
        """
        now = self.clock.now()
        return [t for t in self.repo.list_for_image(image.id) if not rules.is_expired(t, now) and _may_see(ctx, t)]

    def mark_processing(self, task_id: str) -> Task:
        """pending -> processing; a task already processing is returned unchanged.

        Raises TaskNotFound, InvalidTaskTransition (already finished), ConcurrentUpdate (lost twice).
        """
        return self._move(task_id, TaskStatus.PROCESSING, lambda t: rules.begin_processing(t, self.clock.now()))

    def record_success(self, task_id: str, result: Mapping[str, Any] | None) -> Task:
        """processing -> success with ``result`` and expires_at; already successful is returned unchanged."""
        return self._move(task_id, TaskStatus.SUCCESS, lambda t: rules.succeed(t, result, self.clock.now(), self.ttl))

    def record_failure(self, task_id: str, message: str) -> Task:
        """pending|processing -> failure with ``message`` and expires_at; already failed is returned unchanged."""
        return self._move(task_id, TaskStatus.FAILURE, lambda t: rules.fail(t, message, self.clock.now(), self.ttl))

    def _move(self, task_id: str, target: TaskStatus, change: Callable[[Task], Task]) -> Task:
        """Read, change, conditional save; a lost race re-reads (the winner may have done our work)."""
        for attempt in range(_ATTEMPTS):
            task = self.repo.get(task_id)
            if task.status is target:
                return task
            try:
                return self.repo.save(change(task), expected=task)
            except ConcurrentUpdate:
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _may_see(ctx: RequestContext, task: Task) -> bool:
    """Glance's _is_task_visible, owner-less tasks excepted: an admin, or the task's own project."""
    return ctx.is_admin or (task.owner is not None and task.owner == ctx.project_id)


def _check_filters(filters: Mapping[str, str]) -> None:
    """Glance's _get_filters: status one of the four, type only ``import``; other keys name columns."""
    unknown = sorted(set(filters) - set(FILTER_KEYS))
    if unknown:
        raise InvalidInput(f"Unable to filter on '{unknown[0]}'.")
    if "status" in filters and filters["status"] not in {s.value for s in TaskStatus}:
        raise InvalidInput(f"Invalid status value: {filters['status']}")
    if "type" in filters and filters["type"] not in rules.PUBLIC_TASK_TYPES:
        raise InvalidInput(f"Invalid type value: {filters['type']}")


def _matches(task: Task, filters: Mapping[str, str]) -> bool:
    for key, wanted in filters.items():
        value = getattr(task, key)
        if (value.value if isinstance(value, TaskStatus) else value) != wanted:
            return False
    return True

