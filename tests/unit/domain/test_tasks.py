"""The task status machine, every (from, to) pair generated from the table; the create rules."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from chalicelib.domain import tasks as d
from chalicelib.domain.errors import Conflict, InvalidInput, InvalidTaskTransition
from chalicelib.domain.tasks import TASK_TRANSITIONS, Task, TaskStatus

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
LATER = NOW + timedelta(minutes=5)
TTL = timedelta(hours=48)
PAIRS = [(src, dst) for src in TaskStatus for dst in TaskStatus]
GOOD_INPUT = {"import_from": "https://example.com/a.qcow2", "import_from_format": "qcow2",
              "image_properties": {"name": "a"}}


def make(status: TaskStatus = TaskStatus.PENDING) -> Task:
    return Task(id="t1", type="import", owner="p", created_at=NOW, updated_at=NOW, status=status)


@pytest.mark.parametrize("src,dst", PAIRS, ids=[f"{s.value}->{t.value}" for s, t in PAIRS])
def test_transition_allowed_exactly_when_table_says(src: TaskStatus, dst: TaskStatus) -> None:
    if dst in TASK_TRANSITIONS[src]:
        moved = d.transition(make(src), dst, LATER)
        assert (moved.status, moved.updated_at) == (dst, LATER)
    else:
        with pytest.raises(InvalidTaskTransition) as err:
            d.transition(make(src), dst, LATER)
        assert err.value.kwargs == {"task_id": "t1", "current": src.value, "target": dst.value}
        assert isinstance(err.value, Conflict)


def test_table_is_glances() -> None:
    assert TASK_TRANSITIONS[TaskStatus.PENDING] == {TaskStatus.PROCESSING, TaskStatus.FAILURE}
    assert TASK_TRANSITIONS[TaskStatus.PROCESSING] == {TaskStatus.SUCCESS, TaskStatus.FAILURE}
    assert d.TERMINAL == {TaskStatus.SUCCESS, TaskStatus.FAILURE}
    assert set(TASK_TRANSITIONS) == set(TaskStatus)


def test_succeed_sets_result_and_expiry() -> None:
    done = d.succeed(d.begin_processing(make(), NOW), {"image_id": "i"}, LATER, TTL)
    assert (done.status, done.result, done.expires_at) == (TaskStatus.SUCCESS, {"image_id": "i"}, LATER + TTL)
    assert done.message == ""


def test_fail_from_pending_sets_message_and_expiry() -> None:
    failed = d.fail(make(), "no route to host", LATER, TTL)
    assert (failed.status, failed.message, failed.expires_at) == (TaskStatus.FAILURE, "no route to host", LATER + TTL)


def test_is_expired_only_after_expires_at() -> None:
    task = d.fail(make(), "x", NOW, TTL)
    assert not d.is_expired(make(), NOW + timedelta(days=365))  # unfinished tasks never expire
    assert not d.is_expired(task, NOW + TTL - timedelta(seconds=1))
    assert d.is_expired(task, NOW + TTL + timedelta(seconds=1))


def test_check_create_accepts_a_good_import() -> None:
    assert d.check_create("import", GOOD_INPUT) == ("import", GOOD_INPUT)


@pytest.mark.parametrize("task_type,task_input,fragment", [
    ("api_image_import", GOOD_INPUT, "Invalid type value"),
    ("bogus", GOOD_INPUT, "Invalid type value"),
    ("import", None, "must be an object"),
    ("import", {**GOOD_INPUT, "import_from": "file:///etc/passwd"}, "scheme"),
    ("import", {**GOOD_INPUT, "import_from": "swift+config://ref/c/o"}, "scheme"),
    ("import", {**GOOD_INPUT, "import_from": 7}, "http or https"),
    ("import", {k: v for k, v in GOOD_INPUT.items() if k != "import_from_format"}, "import_from_format"),
    ("import", {k: v for k, v in GOOD_INPUT.items() if k != "image_properties"}, "image_properties"),
    ("import", {**GOOD_INPUT, "image_properties": "name=a"}, "image_properties"),
])
def test_check_create_refuses(task_type: str, task_input: Any, fragment: str) -> None:
    with pytest.raises(InvalidInput) as err:
        d.check_create(task_type, task_input)
    assert fragment in err.value.message
