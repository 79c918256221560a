"""The new location API's hashing task (issue 14 part 2; Glance's location_import flow), over HTTP on the fakes.

The fakes' launcher only records the execution; ``run_location_task`` runs its steps in the ASL's order.
Every answer is checked for the exact keys and values Glance's flow leaves: when the image is active
relative to the hashing, the hashes of known bytes, and what a failure puts back.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any, Iterator

import pytest

from chalicelib.domain.errors import Conflict, ServiceUnavailable
from tests.api.helpers import ALICE, body, create, reconfigure, run_location_task, token
from tests.webserver import ALLOWED_PORTS, FileServer, file_server

pytestmark = pytest.mark.settings(allowed_hosts=frozenset({"127.0.0.1"}), allowed_ports=ALLOWED_PORTS)
SERVICE = token("nova", "service-proj", "service")
OWNER_AS_SERVICE = token("alice", "proj-a", "member,reader,service")  # the owner's token with a service role
DATA = bytes(range(256)) * 40  # 10240 known bytes
MD5, SHA512, SHA256 = (hashlib.md5(DATA).hexdigest(), hashlib.sha512(DATA).hexdigest(),
                       hashlib.sha256(DATA).hexdigest())
UNHASHED = {"checksum": None, "os_hash_algo": None, "os_hash_value": None}


@pytest.fixture
def web() -> Iterator[FileServer]:
    with file_server() as server:
        server.files["/a.img"] = DATA
        yield server


def post_location(api: Any, image_id: str, doc: dict[str, Any], headers: dict[str, str] = ALICE) -> Any:
    return api.http.post(f"/v2/images/{image_id}/locations", headers=headers, body=json.dumps(doc))


def shown(api: Any, image_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = body(api.http.get(f"/v2/images/{image_id}", headers=ALICE))
    return doc


def location_urls(api: Any, image_id: str) -> list[str]:
    resp = api.http.get(f"/v2/images/{image_id}/locations", headers=SERVICE)
    assert resp.status_code == 200
    return [loc["url"] for loc in body(resp)]


def hashes(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: doc[key] for key in UNHASHED}


def queued(api: Any) -> str:
    return str(create(api, ALICE, disk_format="raw", container_format="bare")["id"])


def the_task(api: Any, container: Any, image_id: str) -> dict[str, Any]:
    listed = body(api.http.get(f"/v2/images/{image_id}/tasks", headers=ALICE))["tasks"]
    assert len(listed) == 1, listed
    task = container.tasks.find(listed[0]["id"])
    return {"id": task.id, "type": task.type, "status": task.status.value, "input": dict(task.input or {}),
            "message": task.message, "result": task.result}


def test_without_validation_data_the_image_is_active_first_then_hashed(api: Any, container: Any,
                                                                       web: FileServer) -> None:
    image_id = queued(api)
    assert post_location(api, image_id, {"url": web["/a.img"]}).status_code == 202
    task = the_task(api, container, image_id)
    # _SetImageToActiveTask runs before _CalculateHash: active (with the probed size), no hashes yet, locked.
    doc = shown(api, image_id)
    assert (doc["status"], doc["size"], hashes(doc)) == ("active", len(DATA), UNHASHED)
    assert doc["os_glance_import_task"] == task["id"]
    assert (task["type"], task["status"]) == ("location_import", "pending")
    assert task["input"] == {"image_id": image_id, "loc_url": web["/a.img"], "validation_data": {}}
    assert container.ports.launcher.started == [(task["id"], {"task_id": task["id"]})]

    assert run_location_task(container, task["id"])["status"] == "success"
    doc = shown(api, image_id)
    assert (doc["status"], hashes(doc)) == ("active", {"checksum": MD5, "os_hash_algo": "sha512",
                                                        "os_hash_value": SHA512})
    assert "os_glance_import_task" not in doc and "os_glance_importing_to_stores" not in doc
    done = the_task(api, container, image_id)
    assert (done["status"], done["result"]) == ("success", {"image_id": image_id})
    assert [m for m, _ in web.requests] == ["HEAD", "GET"]  # the probe at the request, one read by the task


def test_validation_data_is_verified_while_importing_then_stored(api: Any, container: Any, web: FileServer) -> None:
    image_id = queued(api)
    vd = {"os_hash_algo": "sha256", "os_hash_value": SHA256}
    assert post_location(api, image_id, {"url": web["/a.img"], "validation_data": vd}).status_code == 202
    doc = shown(api, image_id)
    # _CalculateHash(status='importing') then _VerifyValidationData, then active.
    assert (doc["status"], hashes(doc)) == ("importing", UNHASHED)
    task = the_task(api, container, image_id)
    assert task["input"]["validation_data"] == vd
    run_location_task(container, task["id"])
    doc = shown(api, image_id)
    assert (doc["status"], hashes(doc)) == ("active", {"checksum": MD5, "os_hash_algo": "sha256",
                                                        "os_hash_value": SHA256})
    assert location_urls(api, image_id) == [web["/a.img"]]


def test_validation_data_that_does_not_match_puts_the_image_back(api: Any, container: Any, web: FileServer) -> None:
    image_id = queued(api)
    wrong = hashlib.sha256(b"other").hexdigest()
    post_location(api, image_id, {"url": web["/a.img"], "validation_data": {"os_hash_algo": "sha256",
                                                                            "os_hash_value": wrong}})
    task_id = the_task(api, container, image_id)["id"]
    assert run_location_task(container, task_id)["status"] == "failure"
    doc = shown(api, image_id)
    # _VerifyValidationData.revert: queued, no location, hashes unset; the lock dropped.
    assert (doc["status"], doc["size"], hashes(doc)) == ("queued", None, UNHASHED)
    assert "os_glance_import_task" not in doc
    assert location_urls(api, image_id) == []
    task = the_task(api, container, image_id)
    assert (task["status"], task["message"]) == (
        "failure", f"os_hash_value: ({wrong}) not matched with actual os_hash_value: ({SHA256})")
    # Queued again: the location may be added again.
    assert post_location(api, image_id, {"url": web["/a.img"]}).status_code == 202


def test_a_location_whose_data_cannot_be_read_stays_active_without_hashes(api: Any, container: Any,
                                                                          web: FileServer) -> None:
    image_id = queued(api)
    post_location(api, image_id, {"url": web["/a.img"]})
    task_id = the_task(api, container, image_id)["id"]
    del web.files["/a.img"]  # gone after the probe: the GET answers 404
    assert run_location_task(container, task_id)["status"] == "failure"
    doc = shown(api, image_id)
    # "The image location add operation should succeed": active, its location kept, hashes unset, unlocked.
    assert (doc["status"], doc["size"], hashes(doc)) == ("active", len(DATA), UNHASHED)
    assert "os_glance_import_task" not in doc
    assert location_urls(api, image_id) == [web["/a.img"]]
    task = the_task(api, container, image_id)
    assert (task["status"], task["message"]) == ("failure", f"Could not retrieve image: 404 from {web['/a.img']}")


def test_the_hashes_are_not_written_once_the_location_is_gone(api: Any, container: Any, web: FileServer) -> None:
    image_id = queued(api)
    post_location(api, image_id, {"url": web["/a.img"]})
    task_id = the_task(api, container, image_id)["id"]
    state = container.import_steps.begin({"task_id": task_id})
    repo = container.ports.images
    current = repo.get(image_id)
    repo.save(replace(current, locations=()), expected=current)  # another writer took the location away
    with pytest.raises(Conflict, match="lost the location"):
        container.import_steps.hash_location(state)
    assert hashes(shown(api, image_id)) == UNHASHED


def test_an_image_deleted_while_hashed_stays_deleted(api: Any, container: Any, web: FileServer) -> None:
    image_id = queued(api)
    post_location(api, image_id, {"url": web["/a.img"]})
    task_id = the_task(api, container, image_id)["id"]
    assert api.http.delete(f"/v2/images/{image_id}", headers=ALICE).status_code == 204
    gone = container.ports.images.get(image_id)
    assert run_location_task(container, task_id)["status"] == "failure"
    assert container.ports.images.get(image_id) == gone  # neither hashed nor "reverted"
    assert container.tasks.find(task_id).message == (
        f"Image {image_id} is deleted, or lost the location {web['/a.img']}, while it was hashed.")


def test_a_retry_after_the_write_landed_changes_nothing(api: Any, container: Any, web: FileServer) -> None:
    image_id = queued(api)
    post_location(api, image_id, {"url": web["/a.img"]})
    state = container.import_steps.begin({"task_id": the_task(api, container, image_id)["id"]})
    first = container.import_steps.hash_location(state)
    before = container.ports.images.get(image_id)
    again = container.import_steps.hash_location(state)
    assert (again["checksum"], again["os_hash_value"]) == (first["checksum"], first["os_hash_value"]) == (MD5, SHA512)
    assert container.ports.images.get(image_id) == before  # no second write
    assert [m for m, _ in web.requests] == ["HEAD", "GET"]  # and no second read


def test_an_s3_location_of_a_service_is_hashed_from_its_store_object(api: Any, container: Any) -> None:
    image_id = queued(api)
    container.stores.default().put_stream(f"images/{image_id}", [DATA[:4000], DATA[4000:]])
    url = container.stores.default().url_of(f"images/{image_id}")
    assert post_location(api, image_id, {"url": url}, OWNER_AS_SERVICE).status_code == 202
    run_location_task(container, the_task(api, container, image_id)["id"])
    doc = shown(api, image_id)
    assert (doc["status"], doc["size"], hashes(doc)) == ("active", len(DATA), {
        "checksum": MD5, "os_hash_algo": "sha512", "os_hash_value": SHA512})


def test_without_do_secure_hash_validation_data_is_stored_as_given_and_no_task_runs(
        api: Any, container: Any, web: FileServer) -> None:
    reconfigure(container, do_secure_hash=False)
    image_id = queued(api)
    vd = {"os_hash_algo": "sha256", "os_hash_value": "ab" * 32}  # not DATA's: nothing checks it (_SetHashValues)
    assert post_location(api, image_id, {"url": web["/a.img"], "validation_data": vd}).status_code == 202
    doc = shown(api, image_id)
    assert (doc["status"], hashes(doc)) == ("active", {"checksum": None, **vd})
    assert body(api.http.get(f"/v2/images/{image_id}/tasks", headers=ALICE))["tasks"] == []
    assert container.ports.launcher.started == []


class _RefusingLauncher:
    """Step Functions refusing the start (throttled past the SDK's retries)."""

    def start(self, name: str, payload: Any) -> None:
        raise ServiceUnavailable("Step Functions is unavailable")


def test_a_task_that_cannot_start_leaves_no_lock(api: Any, container: Any, web: FileServer) -> None:
    reconfigure(container, ports={"launcher": _RefusingLauncher()})
    plain, verified = queued(api), queued(api)
    # Without validation data the add stands (unhashed, as a hashing failure leaves it); the task says why.
    assert post_location(api, plain, {"url": web["/a.img"]}).status_code == 202
    doc = shown(api, plain)
    assert (doc["status"], hashes(doc), "os_glance_import_task" in doc) == ("active", UNHASHED, False)
    task = the_task(api, container, plain)
    assert (task["status"], task["message"]) == (
        "failure", "The import could not be started: Step Functions is unavailable")
    # With validation data nothing could be verified: 503, and the image is as it was.
    resp = post_location(api, verified, {"url": web["/a.img"],
                                         "validation_data": {"os_hash_algo": "sha256", "os_hash_value": SHA256}})
    assert resp.status_code == 503
    doc = shown(api, verified)
    assert (doc["status"], doc["size"], hashes(doc), "os_glance_import_task" in doc) == (
        "queued", None, UNHASHED, False)
    assert location_urls(api, verified) == []
