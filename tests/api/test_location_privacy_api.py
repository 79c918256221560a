"""Nobody learns a location URL, or a task's input, through a route policy would not show it on (issue 18, items 2-3).

The identity matrix: owner, member pending, member accepted, another project, a community viewer,
reader-only roles, admin; over the v2 download, the v1 download, the image's tasks and its locations,
for an image whose http location carries credentials and whose task's input holds a credentialed URI.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Iterator

import pytest

from chalicelib.domain.images import ImageStatus, Location
from chalicelib.domain.tasks import Task
from tests.api.helpers import ADMIN, ALICE, READER, body, create, reconfigure, stored_keys, token
from tests.webserver import ALLOWED_PORTS, FileServer, file_server

pytestmark = pytest.mark.settings(show_multiple_locations=True, show_image_direct_url=True,
                                  allowed_hosts=frozenset({"127.0.0.1"}), allowed_ports=ALLOWED_PORTS)
DATA = b"external image bytes " * 50
SECRET = "s3cr3t-pw"
SIGNATURE = "Sig-0123456789abcdef"
TASK_SECRET = "task-pw-42"
PENDING = token("pat", "proj-pending", "member,reader")
ACCEPTED = token("acc", "proj-accepted", "member,reader")
ACCEPTED_READER = token("ari", "proj-accepted", "reader")
OTHER = token("oscar", "proj-other", "member,reader")
# Bytes need an Accept that names them (Chalice, as API Gateway); errors still come as Glance JSON.
BYTES = {"Accept": "application/octet-stream, application/json"}
ROUTES = ("/v2/images/{id}/file", "/v1/images/{id}", "/v2/images/{id}/tasks", "/v2/images/{id}/locations",
          "/v2/images/{id}")


@pytest.fixture
def web() -> Iterator[FileServer]:
    with file_server() as server:
        server.files["/a.img?X-Signature=" + SIGNATURE] = DATA
        yield server


def credentialed(web: FileServer) -> str:
    return web.url.replace("http://", f"http://user:{SECRET}@") + "/a.img?X-Signature=" + SIGNATURE


def seed(api: Any, container: Any, web: FileServer, visibility: str) -> str:
    """ALICE's active image at the credentialed location, with one task whose input holds a credentialed URI."""
    image_id = create(api, ALICE, disk_format="raw", container_format="bare", visibility=visibility)["id"]
    repo = container.ports.images
    current = repo.get(image_id)
    repo.save(replace(current, status=ImageStatus.ACTIVE, size=len(DATA), locations=(Location(credentialed(web), {}),)),
              expected=current)
    if visibility == "shared":
        for project, who in (("proj-pending", None), ("proj-accepted", ACCEPTED)):
            url = f"/v2/images/{image_id}/members"
            assert api.http.post(url, headers=ALICE, body=json.dumps({"member": project})).status_code == 200
            if who is not None:
                put = api.http.put(f"{url}/{project}", headers=who, body=json.dumps({"status": "accepted"}))
                assert put.status_code == 200, put.body
    now = datetime.now(timezone.utc)
    task_input = {"import_req": {"method": {"name": "web-download", "uri": f"https://bob:{TASK_SECRET}@example.com/x"}}}
    container.ports.tasks.add(Task(id=str(uuid.uuid4()), type="api_image_import", owner="proj-a", created_at=now,
                                   updated_at=now, input=task_input, image_id=image_id, user_id="alice-user-id",
                                   request_id="req-alice-secret"))
    return image_id


def leaks(resp: Any) -> list[str]:
    """The secrets a response carries, in its body or any header."""
    text = (resp.body if isinstance(resp.body, bytes) else str(resp.body).encode()).decode("latin-1")
    text += " ".join(f"{k}: {v}" for k, v in resp.headers.items())
    return [s for s in (SECRET, SIGNATURE, TASK_SECRET, "alice-user-id", "req-alice-secret", "a.img") if s in text]


def is_glance_json_error(resp: Any, status: int) -> bool:
    doc = body(resp)
    return resp.headers["Content-Type"].startswith("application/json") and doc["code"].startswith(str(status)) \
        and set(doc) == {"message", "code", "title"}


# who -> route -> expected status, for a shared image and for a community one; "see" marks who may see locations.
SHARED = {
    "owner": (ALICE, True, {"file": 302, "v1": 302, "tasks": 200, "locations": 403, "show": 200}),
    "owner reader": (READER, True, {"file": 403, "v1": 403, "tasks": 200, "locations": 403, "show": 200}),
    "member pending": (PENDING, False, {"file": 200, "v1": 200, "tasks": 200, "locations": 403, "show": 200}),
    "member accepted": (ACCEPTED, False, {"file": 200, "v1": 200, "tasks": 200, "locations": 403, "show": 200}),
    "member reader": (ACCEPTED_READER, False, {"file": 403, "v1": 403, "tasks": 200, "locations": 403, "show": 200}),
    "other project": (OTHER, False, {"file": 404, "v1": 404, "tasks": 404, "locations": 403, "show": 404}),
    "admin": (ADMIN, True, {"file": 302, "v1": 302, "tasks": 200, "locations": 200, "show": 200}),
}
COMMUNITY = {
    **SHARED,
    "community viewer": (OTHER, False, {"file": 200, "v1": 200, "tasks": 200, "locations": 403, "show": 200}),
    "community reader": (token("cr", "proj-other", "reader"), False,
                         {"file": 403, "v1": 403, "tasks": 200, "locations": 403, "show": 200}),
}
del COMMUNITY["other project"]
NAMES = ("file", "v1", "tasks", "locations", "show")


@pytest.mark.parametrize("visibility, matrix", [("shared", SHARED), ("community", COMMUNITY)])
def test_identity_matrix_never_shows_a_hidden_location_or_task_input(
    api: Any, container: Any, web: FileServer, visibility: str, matrix: dict[str, Any],
) -> None:
    # Given an image at a credentialed http location, with a task whose input holds a credentialed URI
    image_id = seed(api, container, web, visibility)
    before, keys = container.ports.images.get(image_id), stored_keys(container)
    for who, (headers, sees, expected) in matrix.items():
        for name, route in zip(NAMES, ROUTES):
            # When each caller asks each route
            resp = api.http.get(route.format(id=image_id), headers={**headers, **BYTES})
            # Then the code is the matrix's
            assert resp.status_code == expected[name], (who, name, resp.status_code, resp.body)
            if resp.status_code >= 400:
                assert is_glance_json_error(resp, resp.status_code), (who, name, resp.body)
            if not sees:
                # And a caller who may not see locations learns neither the URL nor the task's input
                assert leaks(resp) == [], (who, name, leaks(resp))
            if name in ("file", "v1") and resp.status_code == 200:
                assert resp.body == DATA  # the bytes, through the function
            if name in ("file", "v1") and resp.status_code == 302:
                assert resp.headers["Location"] == credentialed(web)  # it may see the URL anyway
        tasks = api.http.get(f"/v2/images/{image_id}/tasks", headers=headers)
        if tasks.status_code == 200:
            shown = body(tasks)["tasks"]
            # And the task is listed, input and all, only to its own project and admins
            assert (len(shown) == 1 and shown[0]["input"]["import_req"]["method"]["uri"].endswith("/x")) is sees, who
    # And nothing was stored or changed
    assert container.ports.images.get(image_id) == before and stored_keys(container) == keys


def test_a_hidden_location_larger_than_the_proxy_limit_is_403_without_its_url(
    api: Any, container: Any, web: FileServer,
) -> None:
    image_id = seed(api, container, web, "community")
    reconfigure(container, proxy_max_bytes=100)
    requests = len(web.requests)
    for route in ("/v2/images/{id}/file", "/v1/images/{id}"):
        resp = api.http.get(route.format(id=image_id), headers={**OTHER, **BYTES})
        assert resp.status_code == 403 and is_glance_json_error(resp, 403), resp.body
        message = body(resp)["message"]
        assert "served directly only to callers who may see" in message and "100 bytes" in message
        assert leaks(resp) == []
    assert len(web.requests) == requests  # refused on the recorded size, before any fetch
    # The owner is still redirected; ranges of a relayed image are cut from the fetched bytes.
    assert api.http.get(f"/v2/images/{image_id}/file", headers=ALICE).status_code == 302


def test_a_relayed_range_is_206_and_an_unreadable_location_is_503_without_its_url(
    api: Any, container: Any, web: FileServer,
) -> None:
    image_id = seed(api, container, web, "community")
    got = api.http.get(f"/v2/images/{image_id}/file", headers={**OTHER, **BYTES, "Range": "bytes=2-5"})
    assert (got.status_code, got.body, got.headers["Content-Range"]) == (206, DATA[2:6], f"bytes 2-5/{len(DATA)}")
    bad = api.http.get(f"/v2/images/{image_id}/file", headers={**OTHER, **BYTES, "Range": "bytes=99999-"})
    assert bad.status_code == 416
    web.files.clear()  # the location now answers 404
    gone = api.http.get(f"/v2/images/{image_id}/file", headers={**OTHER, **BYTES})
    assert gone.status_code == 503 and is_glance_json_error(gone, 503) and leaks(gone) == []
    web.files["/a.img?X-Signature=" + SIGNATURE] = DATA[:-1]  # no longer the recorded size
    short = api.http.get(f"/v1/images/{image_id}", headers={**OTHER, **BYTES})
    assert short.status_code == 503 and leaks(short) == []
