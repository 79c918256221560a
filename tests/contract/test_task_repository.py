"""One TaskRepository contract, run against the in-memory fake and DynamoDB (moto)."""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest

from chalicelib.domain import tasks as d
from chalicelib.domain.errors import ConcurrentUpdate, Duplicate, TaskNotFound
from chalicelib.domain.tasks import Task, TaskStatus
from chalicelib.ports import TaskRepository
from tests.fakes import InMemoryTaskRepository

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)


@pytest.fixture(params=["memory", "dynamo"])
def repo(request: pytest.FixtureRequest) -> Iterator[TaskRepository]:
    if request.param == "memory":
        yield InMemoryTaskRepository()
        return
    request.getfixturevalue("aws")
    from chalicelib.adapters.dynamo_tasks import DynamoTaskRepository

    yield DynamoTaskRepository()


def make(owner: str | None = "p1", seconds: int = 0, **kw: Any) -> Task:
    when = T0 + timedelta(seconds=seconds)
    base: dict[str, Any] = dict(id=str(uuid.uuid4()), type="import", owner=owner, created_at=when, updated_at=when)
    base.update(kw)
    return Task(**base)


def test_add_then_get_round_trips_every_field(repo: TaskRepository) -> None:
    # Given a task with JSON input/result, an expiry and every optional field
    task = make(input={"import_from": "http://x/y", "image_properties": {"name": "n", "n": [1, 2]}},
                result={"image_id": "i"}, message="boom", status=TaskStatus.FAILURE,
                expires_at=T0 + timedelta(hours=48), image_id="img-1", request_id="req-1", user_id="u1")
    # When it is stored and read back
    repo.add(task)
    # Then it is equal, microseconds included
    assert repo.get(task.id) == task


def test_get_missing_raises_task_not_found(repo: TaskRepository) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(TaskNotFound) as err:
        repo.get(missing)
    assert missing in err.value.message


def test_add_twice_is_duplicate(repo: TaskRepository) -> None:
    task = repo.add(make())
    with pytest.raises(Duplicate):
        repo.add(replace(task, message="other"))
    assert repo.get(task.id).message == ""


def test_save_bumps_version_and_is_conditional_on_version_and_status(repo: TaskRepository) -> None:
    # Given a stored pending task
    task = repo.add(make())
    # When it moves to processing against the version it was read at
    moved = repo.save(d.begin_processing(task, T0), expected=task)
    # Then the version is bumped and stored
    assert moved.version == 1 and repo.get(task.id) == moved
    # And a second writer holding the old read is refused
    with pytest.raises(ConcurrentUpdate):
        repo.save(d.fail(task, "late", T0, timedelta(hours=1)), expected=task)
    # And a writer whose expected status is wrong is refused even at the right version
    with pytest.raises(ConcurrentUpdate):
        repo.save(moved, expected=replace(moved, status=TaskStatus.PENDING))
    assert repo.get(task.id).status is TaskStatus.PROCESSING


def test_save_of_a_missing_task_is_concurrent_update(repo: TaskRepository) -> None:
    task = make()
    with pytest.raises(ConcurrentUpdate):
        repo.save(task, expected=task)


def test_iter_owner_orders_by_created_at_then_id_and_resumes_after_marker(repo: TaskRepository) -> None:
    owner = f"p-{uuid.uuid4().hex[:6]}"
    # Given five tasks of one owner, two sharing a created_at, and one of another owner
    tasks = [repo.add(make(owner, s)) for s in (0, 1, 1, 2, 3)]
    repo.add(make("someone-else", 5))
    expected_asc = sorted(tasks, key=lambda t: (t.created_at, t.id))
    # Then both directions give the full order for that owner only
    assert [t.id for t in repo.iter_owner(owner, None, "asc", 2)] == [t.id for t in expected_asc]
    assert [t.id for t in repo.iter_owner(owner, None, "desc", 2)] == [t.id for t in reversed(expected_asc)]
    # And a marker resumes strictly after it, in either direction
    assert [t.id for t in repo.iter_owner(owner, expected_asc[1], "asc", 2)] == [t.id for t in expected_asc[2:]]
    assert [t.id for t in repo.iter_owner(owner, expected_asc[2], "desc", 2)] == [t.id for t in expected_asc[1::-1]]


@pytest.mark.parametrize("owner", ["p-status", None])
def test_sorting_by_status_orders_by_status_then_created_at_then_id(repo: TaskRepository, owner: str | None) -> None:
    # Given tasks of one owner in several statuses (and another owner's, which the owner listing skips)
    statuses = [TaskStatus.SUCCESS, TaskStatus.PENDING, TaskStatus.FAILURE, TaskStatus.PENDING, TaskStatus.PROCESSING]
    tasks = [repo.add(make("p-status", s, status=st)) for s, st in enumerate(statuses)]
    other = repo.add(make("p-other", 9, status=TaskStatus.FAILURE))
    mine = {t.id for t in tasks} | ({other.id} if owner is None else set())
    expected = sorted([*tasks, other] if owner is None else tasks,
                      key=lambda t: (t.status.value, t.created_at, t.id), reverse=True)
    # When listed by status, descending (glanceclient's task-list), in pages resumed at a marker
    listed = [t for t in repo.iter_owner(owner, None, "desc", 2, "status") if t.id in mine]
    # Then the order is (status, created_at, id)
    assert [t.id for t in listed] == [t.id for t in expected]
    after = [t.id for t in repo.iter_owner(owner, expected[1], "desc", 2, "status") if t.id in mine]
    assert after == [t.id for t in expected[2:]]


def test_iter_owner_none_lists_every_owner(repo: TaskRepository) -> None:
    # Given tasks of two owners and one without an owner
    mine = [repo.add(make(o, s)) for s, o in enumerate(("a", "b", None))]
    # When the admin listing reads everything
    listed = [t.id for t in repo.iter_owner(None, None, "asc", 10)]
    # Then all three are there, oldest first
    assert [t.id for t in mine] == [i for i in listed if i in {t.id for t in mine}]


def test_list_for_image_returns_only_that_images_tasks_oldest_first(repo: TaskRepository) -> None:
    image = str(uuid.uuid4())
    later = repo.add(make(seconds=5, image_id=image, type="api_image_import"))
    earlier = repo.add(make(seconds=1, image_id=image, type="api_image_import"))
    repo.add(make(seconds=2, image_id=str(uuid.uuid4())))
    repo.add(make(seconds=3))
    assert [t.id for t in repo.list_for_image(image)] == [earlier.id, later.id]
    assert repo.list_for_image(str(uuid.uuid4())) == []
