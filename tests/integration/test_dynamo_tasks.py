"""DynamoTaskRepository details the contract suite cannot see: the stored TTL, and Query-only listings."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from chalicelib.adapters.dynamo_models import TaskRecord
from chalicelib.adapters.dynamo_tasks import DynamoTaskRepository
from chalicelib.domain.tasks import Task, TaskStatus

NOW = datetime(2026, 5, 1, 8, 30, tzinfo=timezone.utc)


def _raw(aws: Any, boto_session: Any, task_id: str) -> dict[str, Any]:
    client = boto_session.client("dynamodb", region_name="us-east-1")
    item: dict[str, Any] = client.get_item(TableName=aws.settings.resources.tasks_table, Key={"id": {"S": task_id}})["Item"]
    return item


def test_finished_task_stores_expires_at_as_the_epoch_ttl(aws: Any, boto_session: Any) -> None:
    # Given a failed task that expires in 48 hours
    expires = NOW + timedelta(hours=48)
    task = Task(id=str(uuid.uuid4()), type="import", owner="p", created_at=NOW, updated_at=NOW,
                status=TaskStatus.FAILURE, message="x", expires_at=expires)
    # When it is stored
    DynamoTaskRepository().add(task)
    # Then DynamoDB's TTL attribute holds the expiry in epoch seconds, and the admin partition is set
    item = _raw(aws, boto_session, task.id)
    assert int(item["ttl"]["N"]) == int(expires.timestamp())
    assert item["everyone"]["S"] == "tasks"


def test_an_unfinished_task_has_no_ttl(aws: Any, boto_session: Any) -> None:
    task = DynamoTaskRepository().add(Task(id=str(uuid.uuid4()), type="import", owner="p", created_at=NOW, updated_at=NOW))
    assert "ttl" not in _raw(aws, boto_session, task.id)


def test_listings_never_scan(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("Scan on a request path")

    monkeypatch.setattr(TaskRecord, "scan", refuse)
    repo = DynamoTaskRepository()
    task = repo.add(Task(id=str(uuid.uuid4()), type="api_image_import", owner="p", created_at=NOW, updated_at=NOW,
                         image_id="img"))
    assert [t.id for t in repo.iter_owner(None, None, "desc", 5)] == [task.id]
    assert [t.id for t in repo.iter_owner("p", None, "asc", 5)] == [task.id]
    assert [t.id for t in repo.list_for_image("img")] == [task.id]


def test_the_local_bootstrap_turns_on_ttl_for_the_tasks_table(aws: object, boto_session: object) -> None:
    from chalicelib import wiring

    settings = wiring.container().settings
    dynamodb = boto_session.client("dynamodb", region_name="us-east-1")  # type: ignore[attr-defined]
    described = dynamodb.describe_time_to_live(TableName=settings.resources.tasks_table)["TimeToLiveDescription"]
    assert described == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}
