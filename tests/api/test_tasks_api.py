"""Tasks API over the moto-backed container with a recording launcher (reference 1.8, 6)."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest

from chalicelib import wiring
from chalicelib.domain.tasks import Task, TaskStatus
from tests.api.helpers import ADMIN, ALICE, BOB, body, create, reconfigure
from tests.fakes import RecordingLauncher

INPUT = {"import_from": "https://example.com/cirros.qcow2", "import_from_format": "qcow2",
         "image_properties": {"name": "cirros", "disk_format": "qcow2", "container_format": "bare"}}


@pytest.fixture
def launcher(container: wiring.Container) -> RecordingLauncher:
    recording = RecordingLauncher()
    reconfigure(container, ports={"launcher": recording})
    return recording


@pytest.fixture
def client(api: Any, launcher: RecordingLauncher) -> Iterator[Any]:
    yield api


def post_task(api: Any, headers: dict[str, str], **overrides: Any) -> Any:
    doc = {"type": "import", "input": INPUT, **overrides}
    return api.http.post("/v2/tasks", headers=headers, body=json.dumps(doc))


def stored(container: wiring.Container, owner: str, *, expires_at: datetime | None = None, image_id: str | None = None) -> Task:
    now = datetime.now(timezone.utc)
    status = TaskStatus.SUCCESS if expires_at is not None else TaskStatus.PENDING
    task = Task(id=str(uuid.uuid4()), type="api_image_import" if image_id else "import", owner=owner,
                created_at=now, updated_at=now, status=status, expires_at=expires_at, image_id=image_id)
    return container.ports.tasks.add(task)


def test_create_answers_201_with_location_and_starts_the_pipeline(client: Any, launcher: RecordingLauncher) -> None:
    resp = post_task(client, ADMIN)
    assert resp.status_code == 201, resp.body
    doc = body(resp)
    assert resp.headers["Location"] == f"/v2/tasks/{doc['id']}"
    assert (doc["status"], doc["type"], doc["owner"], doc["input"], doc["result"], doc["message"]) == (
        "pending", "import", "admin-proj", INPUT, None, "")
    assert "expires_at" not in doc and doc["created_at"].endswith("Z") and len(doc["created_at"]) == 20
    assert (doc["self"], doc["schema"], doc["user_id"]) == (f"/v2/tasks/{doc['id']}", "/v2/schemas/task", "admin")
    assert launcher.started == [(doc["id"], {"task_id": doc["id"]})]
    assert body(client.http.get(doc["self"], headers=ADMIN)) == doc


@pytest.mark.parametrize("doc,fragment", [
    ({"input": INPUT}, "Task 'type' is required"),
    ({"type": "import"}, "Task 'input' is required"),
    ({"type": "import", "input": {**INPUT, "import_from": "file:///etc/passwd"}}, "scheme"),
    ({"type": "import", "input": {k: v for k, v in INPUT.items() if k != "image_properties"}}, "image_properties"),
    ({"type": "api_image_import", "input": INPUT}, "Invalid type value"),
    ({"type": "nope", "input": INPUT}, "does not match schema"),
])
def test_create_refuses_bad_bodies_with_400(client: Any, launcher: RecordingLauncher, doc: dict[str, Any], fragment: str) -> None:
    resp = client.http.post("/v2/tasks", headers=ADMIN, body=json.dumps(doc))
    assert resp.status_code == 400, resp.body
    assert fragment in body(resp)["message"]
    assert launcher.started == []


def test_non_admins_are_forbidden_by_default(client: Any, launcher: RecordingLauncher) -> None:
    task = body(post_task(client, ADMIN))
    assert post_task(client, ALICE).status_code == 403
    assert client.http.get("/v2/tasks", headers=ALICE).status_code == 403
    resp = client.http.get(f"/v2/tasks/{task['id']}", headers=ALICE)
    assert resp.status_code == 403 and "tasks_api_access" in body(resp)["message"]
    assert len(launcher.started) == 1


@pytest.mark.settings(tasks_admin_only=False)
def test_open_policy_scopes_non_admins_to_their_project(client: Any) -> None:
    mine = body(post_task(client, ALICE))
    theirs = body(post_task(client, BOB))
    assert [t["id"] for t in body(client.http.get("/v2/tasks", headers=ALICE))["tasks"]] == [mine["id"]]
    assert client.http.get(f"/v2/tasks/{theirs['id']}", headers=ALICE).status_code == 404
    assert client.http.get(f"/v2/tasks/{mine['id']}", headers=ALICE).status_code == 200
    assert {t["id"] for t in body(client.http.get("/v2/tasks", headers=ADMIN))["tasks"]} >= {mine["id"], theirs["id"]}


def test_list_pages_with_next_and_omits_input_result_message(client: Any) -> None:
    made = [body(post_task(client, ADMIN))["id"] for _ in range(3)]
    first = body(client.http.get("/v2/tasks?limit=2", headers=ADMIN))
    assert [t["id"] for t in first["tasks"]] == [made[2], made[1]]
    assert first["first"] == "/v2/tasks?limit=2" and first["schema"] == "/v2/schemas/tasks"
    assert first["next"] == f"/v2/tasks?limit=2&marker={made[1]}"
    # Glance's _format_task_stub: the summary keys only (user_id/request_id stay on GET /v2/tasks/{id}).
    assert all(set(t) == {"id", "type", "status", "owner", "created_at", "updated_at", "self", "schema"}
               for t in first["tasks"])
    second = body(client.http.get(first["next"], headers=ADMIN))
    assert [t["id"] for t in second["tasks"]] == [made[0]] and "next" not in second
    asc = body(client.http.get("/v2/tasks?sort_dir=asc", headers=ADMIN))
    assert [t["id"] for t in asc["tasks"]] == made and asc["first"] == "/v2/tasks?sort_dir=asc"


@pytest.mark.parametrize("query", [
    "status=done", "type=api_image_import", "marker=not-a-uuid", "sort_dir=sideways", "sort_key=name", "limit=-1",
    "limit=x",
])
def test_list_refuses_bad_parameters_with_400(client: Any, query: str) -> None:
    assert client.http.get(f"/v2/tasks?{query}", headers=ADMIN).status_code == 400


def test_list_filters_on_status_and_type(client: Any, container: wiring.Container) -> None:
    pending = body(post_task(client, ADMIN))["id"]
    processing = body(post_task(client, ADMIN))["id"]
    container.tasks.mark_processing(processing)
    ids = [t["id"] for t in body(client.http.get("/v2/tasks?status=processing&type=import", headers=ADMIN))["tasks"]]
    assert ids == [processing]
    assert pending in [t["id"] for t in body(client.http.get("/v2/tasks?status=pending", headers=ADMIN))["tasks"]]


def test_unknown_marker_is_404(client: Any) -> None:
    assert client.http.get(f"/v2/tasks?marker={uuid.uuid4()}", headers=ADMIN).status_code == 404


def test_delete_is_405_allow_get(client: Any) -> None:
    task = body(post_task(client, ADMIN))
    resp = client.http.delete(f"/v2/tasks/{task['id']}", headers=ADMIN)
    assert resp.status_code == 405 and resp.headers["Allow"] == "GET"
    assert client.http.get(f"/v2/tasks/{task['id']}", headers=ADMIN).status_code == 200


def test_unversioned_alias_serves_tasks(client: Any) -> None:
    task = body(post_task(client, ADMIN))
    assert body(client.http.get(f"/tasks/{task['id']}", headers=ADMIN))["id"] == task["id"]


def test_image_tasks_are_visible_to_who_sees_the_image_and_hide_expired(client: Any, container: wiring.Container) -> None:
    # Given Alice's image with one live and one expired task, and Bob who cannot see it
    image = create(client, ALICE, name="img", visibility="private")
    live = stored(container, "proj-a", image_id=image["id"])
    expired = stored(container, "proj-a", image_id=image["id"], expires_at=datetime.now(timezone.utc) - timedelta(hours=1))
    # When the owner (not an admin) asks for its tasks, the live one is listed in full
    resp = client.http.get(f"/v2/images/{image['id']}/tasks", headers=ALICE)
    assert resp.status_code == 200, resp.body
    assert [t["id"] for t in body(resp)["tasks"]] == [live.id]
    assert body(resp)["tasks"][0]["image_id"] == image["id"]
    # And the expired task is gone from show and list too
    assert client.http.get(f"/v2/tasks/{expired.id}", headers=ADMIN).status_code == 404
    assert expired.id not in [t["id"] for t in body(client.http.get("/v2/tasks?limit=100", headers=ADMIN))["tasks"]]
    # And a caller who cannot see the image gets 404
    assert client.http.get(f"/v2/images/{image['id']}/tasks", headers=BOB).status_code == 404


def test_expired_task_does_not_eat_a_page_slot(client: Any, container: wiring.Container) -> None:
    live = body(post_task(client, ADMIN))["id"]
    stored(container, "admin-proj", expires_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    page = body(client.http.get("/v2/tasks?limit=1", headers=ADMIN))
    assert [t["id"] for t in page["tasks"]] == [live]


@pytest.mark.moto  # the real Step Functions launcher, with no state machine configured
def test_without_a_state_machine_create_is_503_and_the_task_is_recorded_failed(api: Any, container: wiring.Container) -> None:
    # Given the real Step Functions launcher with no state machine configured (no recording fixture)
    resp = post_task(api, ADMIN)
    assert resp.status_code == 503, resp.body
    # Then the stored task did not stay pending forever
    tasks = body(api.http.get("/v2/tasks?status=failure", headers=ADMIN))["tasks"]
    assert len(tasks) == 1 and tasks[0]["expires_at"] is not None
