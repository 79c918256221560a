"""Task use cases on fakes: policy, scoping, expiry, paging, and the pipeline's idempotent updates."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import ConcurrentUpdate, Duplicate, Forbidden, InvalidInput, InvalidTaskTransition, ServiceUnavailable, TaskNotFound
from chalicelib.domain.images import Image
from chalicelib.domain.tasks import Task, TaskStatus
from chalicelib.services.tasks import TaskQuery, TaskService
from tests.fakes import InMemoryTaskRepository, RecordingLauncher, SequentialIds, TickingClock

ADMIN = RequestContext("admin", "admin-proj", frozenset({"admin"}), "req-admin")
ALICE = RequestContext("alice", "proj-a", frozenset({"member", "reader"}), "req-a")
BOB = RequestContext("bob", "proj-b", frozenset({"member", "reader"}), "req-b")
TTL = timedelta(hours=48)
BODY: dict[str, Any] = {"type": "import", "input": {
    "import_from": "http://example.com/x.raw", "import_from_format": "raw", "image_properties": {"name": "x"}}}


def service(admin_only: bool = True) -> TaskService:
    return TaskService(InMemoryTaskRepository(), TickingClock(), SequentialIds(), RecordingLauncher(), TTL, admin_only)


def launcher(svc: TaskService) -> RecordingLauncher:
    assert isinstance(svc.launcher, RecordingLauncher)
    return svc.launcher


def test_create_stores_pending_task_then_starts_the_pipeline_named_by_it() -> None:
    svc = service()
    task = svc.create_task(ADMIN, BODY)
    assert (task.status, task.type, task.owner, task.user_id, task.request_id) == (
        TaskStatus.PENDING, "import", "admin-proj", "admin", "req-admin")
    assert task.input == BODY["input"] and task.expires_at is None
    assert svc.repo.get(task.id) == task
    assert launcher(svc).started == [(task.id, {"task_id": task.id})]


def test_launcher_is_not_called_when_the_write_fails() -> None:
    svc = service()
    svc.repo.add(Task(id="00000000-0000-4000-8000-000000000001", type="import", owner="x",
                      created_at=svc.clock.now(), updated_at=svc.clock.now()))
    with pytest.raises(Duplicate):
        svc.create_task(ADMIN, BODY)  # SequentialIds hands out the id already taken
    assert launcher(svc).started == []


@pytest.mark.parametrize("body,fragment", [
    ({"input": BODY["input"]}, "Task 'type' is required"),
    ({"type": "import"}, "Task 'input' is required"),
    ({"type": "location_import", "input": BODY["input"]}, "Invalid type value"),
    ({"type": "import", "input": {**BODY["input"], "import_from": "file:///etc/shadow"}}, "scheme"),
])
def test_create_refuses_bad_bodies_without_storing(body: dict[str, Any], fragment: str) -> None:
    svc = service()
    with pytest.raises(InvalidInput) as err:
        svc.create_task(ADMIN, body)
    assert fragment in err.value.message
    assert launcher(svc).started == [] and list(svc.repo.iter_owner(None, None, "asc", 10)) == []


def test_admin_only_forbids_non_admins_on_every_tasks_route() -> None:
    svc = service(admin_only=True)
    task = svc.create_task(ADMIN, BODY)
    for call in (lambda: svc.create_task(ALICE, BODY), lambda: svc.index(ALICE, TaskQuery(limit=10)),
                 lambda: svc.show(ALICE, task.id)):
        with pytest.raises(Forbidden) as err:
            call()
        assert "tasks_api_access" in err.value.message


def test_non_admins_see_only_their_projects_tasks_when_open() -> None:
    svc = service(admin_only=False)
    mine, theirs = svc.create_task(ALICE, BODY), svc.create_task(BOB, BODY)
    assert [t.id for t in svc.index(ALICE, TaskQuery(limit=10))[0]] == [mine.id]
    assert svc.show(ALICE, mine.id) == mine
    with pytest.raises(TaskNotFound):
        svc.show(ALICE, theirs.id)
    assert {t.id for t in svc.index(ADMIN, TaskQuery(limit=10))[0]} == {mine.id, theirs.id}
    assert svc.show(ADMIN, theirs.id) == theirs


def test_index_pages_newest_first_with_next_marker_on_full_pages() -> None:
    svc = service()
    made = [svc.create_task(ADMIN, BODY) for _ in range(3)]
    first, marker = svc.index(ADMIN, TaskQuery(limit=2))
    assert [t.id for t in first] == [made[2].id, made[1].id] and marker == made[1].id
    rest, marker2 = svc.index(ADMIN, TaskQuery(limit=2, marker=marker))
    assert [t.id for t in rest] == [made[0].id] and marker2 is None
    asc, _ = svc.index(ADMIN, TaskQuery(limit=5, sort_dir="asc"))
    assert [t.id for t in asc] == [t.id for t in made]


def test_index_marker_must_be_a_visible_task() -> None:
    svc = service(admin_only=False)
    theirs = svc.create_task(BOB, BODY)
    with pytest.raises(TaskNotFound):
        svc.index(ALICE, TaskQuery(limit=5, marker=theirs.id))
    with pytest.raises(TaskNotFound):
        svc.index(ADMIN, TaskQuery(limit=5, marker="00000000-0000-4000-8000-999999999999"))


@pytest.mark.parametrize("filters,fragment", [
    ({"status": "done"}, "Invalid status value"),
    ({"type": "api_image_import"}, "Invalid type value"),
    ({"colour": "red"}, "Unable to filter on 'colour'"),
])
def test_index_refuses_bad_filters(filters: dict[str, str], fragment: str) -> None:
    with pytest.raises(InvalidInput) as err:
        service().index(ADMIN, TaskQuery(limit=5, filters=filters))
    assert fragment in err.value.message


def test_index_filters_by_status() -> None:
    svc = service()
    a, b = svc.create_task(ADMIN, BODY), svc.create_task(ADMIN, BODY)
    svc.mark_processing(b.id)
    assert [t.id for t in svc.index(ADMIN, TaskQuery(limit=5, filters={"status": "processing"}))[0]] == [b.id]
    assert [t.id for t in svc.index(ADMIN, TaskQuery(limit=5, filters={"status": "pending", "type": "import"}))[0]] == [a.id]


def test_expired_tasks_are_hidden_everywhere() -> None:
    svc = service()
    task = svc.create_task(ADMIN, BODY)
    svc.repo.items[task.id] = replace(task, image_id="img-1")
    svc.record_failure(task.id, "gone")
    image = Image(id="img-1", owner="admin-proj", created_at=svc.clock.now(), updated_at=svc.clock.now())
    assert [t.id for t in svc.tasks_for_image(ADMIN, image)] == [task.id]
    assert svc.tasks_for_image(ALICE, image) == []  # another project's task (Glance's _is_task_visible)
    svc.clock.current += TTL  # type: ignore[attr-defined]
    with pytest.raises(TaskNotFound):
        svc.show(ADMIN, task.id)
    assert svc.index(ADMIN, TaskQuery(limit=5))[0] == []
    assert svc.tasks_for_image(ADMIN, image) == []


def test_pipeline_updates_are_idempotent() -> None:
    svc = service()
    task = svc.create_task(ADMIN, BODY)
    processing = svc.mark_processing(task.id)
    assert svc.mark_processing(task.id) == processing  # a retried step changes nothing
    done = svc.record_success(task.id, {"image_id": "i"})
    assert (done.status, done.result) == (TaskStatus.SUCCESS, {"image_id": "i"})
    assert done.expires_at == done.updated_at + TTL
    assert svc.record_success(task.id, {"image_id": "other"}) == done
    with pytest.raises(InvalidTaskTransition):
        svc.record_failure(task.id, "too late")
    with pytest.raises(InvalidTaskTransition):
        svc.mark_processing(task.id)


def test_record_failure_from_pending_and_repeat() -> None:
    svc = service()
    task = svc.create_task(ADMIN, BODY)
    failed = svc.record_failure(task.id, "fetch refused")
    assert (failed.status, failed.message) == (TaskStatus.FAILURE, "fetch refused")
    assert svc.record_failure(task.id, "again") == failed


class _RacingRepo(InMemoryTaskRepository):
    """Loses the first save to a writer that already made the same move."""

    def __init__(self, winner_status: TaskStatus | None) -> None:
        super().__init__()
        self.winner_status = winner_status
        self.raced = False

    def save(self, task: Task, *, expected: Task) -> Task:
        if not self.raced:
            self.raced = True
            current = self.items[task.id]
            if self.winner_status is not None:
                self.items[task.id] = replace(current, status=self.winner_status, version=current.version + 1)
            else:
                self.items[task.id] = replace(current, version=current.version + 1)
        return super().save(task, expected=expected)


def test_a_lost_race_rereads_and_returns_the_winners_result() -> None:
    svc = service()
    svc.repo = _RacingRepo(TaskStatus.PROCESSING)
    task = svc.add_task(Task(id="t-race", type="api_image_import", owner="p", created_at=svc.clock.now(),
                             updated_at=svc.clock.now(), image_id="img"))
    assert svc.mark_processing(task.id).status is TaskStatus.PROCESSING
    assert launcher(svc).started == [("t-race", {"task_id": "t-race"})]


def test_a_race_lost_on_version_only_is_retried_once() -> None:
    svc = service()
    svc.repo = _RacingRepo(None)
    task = svc.add_task(Task(id="t-v", type="api_image_import", owner="p", created_at=svc.clock.now(),
                             updated_at=svc.clock.now()))
    moved = svc.mark_processing(task.id)
    assert (moved.status, moved.version) == (TaskStatus.PROCESSING, 2)


def test_a_race_lost_twice_raises_concurrent_update() -> None:
    svc = service()

    class AlwaysLoses(InMemoryTaskRepository):
        def save(self, task: Task, *, expected: Task) -> Task:
            raise ConcurrentUpdate("lost")

    svc.repo = AlwaysLoses()
    svc.repo.add(Task(id="t-l", type="import", owner="p", created_at=svc.clock.now(), updated_at=svc.clock.now()))
    with pytest.raises(ConcurrentUpdate):
        svc.mark_processing("t-l")


def test_a_launcher_that_refuses_leaves_the_task_failed_not_pending() -> None:
    class Unconfigured:
        def start(self, name: str, payload: Any) -> None:
            raise ServiceUnavailable(detail="no state machine")

    svc = service()
    svc.launcher = Unconfigured()
    with pytest.raises(ServiceUnavailable):
        svc.create_task(ADMIN, BODY)
    [task] = svc.repo.items.values()
    assert task.status is TaskStatus.FAILURE and "no state machine" in task.message and task.expires_at is not None
