"""Imports against the local service (make run's stack): the tasks API over HTTP and glanceclient's import commands.

The state machine runs on the embedded emulator's Step Functions executor, with the
Lambda steps in-process; the source is a file server on 127.0.0.1 (allowed, as with
``IMPORT_ALLOWED_HOSTS=127.0.0.1 IMPORT_ALLOWED_PORTS=... make run``).
"""
from __future__ import annotations

import hashlib
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.imports import derived_id
from infra.local.run import LocalService
from tests.e2e import local_process
from tests.e2e.test_glanceclient import field, glance
from tests.e2e.test_glanceclient_data import bucket_keys, qemu_img, real_qcow2  # noqa: F401 - fixture
from tests.e2e.waiting import until
from tests.webserver import FileServer

ADMIN = "admin:demo:admin"


def call(service: LocalService, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A JSON request to the in-process service as the admin (tests/e2e/local_process.call)."""
    return local_process.call(service.url, method, path, body)


def finished_task(service: LocalService, url: str, fmt: str = "qcow2") -> dict[str, Any]:
    status, task = call(service, "POST", "/v2/tasks", {"type": "import", "input": {
        "import_from": url, "import_from_format": fmt,
        "image_properties": {"name": "via-task", "container_format": "bare"}}})
    assert status == 201, task
    return until(lambda: call(service, "GET", f"/v2/tasks/{task['id']}")[1],
                 lambda shown: shown["status"] not in ("pending", "processing"))


def test_a_task_imports_a_real_qcow2(service: LocalService, web: FileServer, real_qcow2: Path) -> None:
    data = real_qcow2.read_bytes()
    web.files["/real.qcow2"] = data
    task = finished_task(service, web["/real.qcow2"])
    assert task["status"] == "success", task["message"]
    assert task["expires_at"]
    status, image = call(service, "GET", f"/v2/images/{task['result']['image_id']}")
    assert status == 200 and image["status"] == "active"
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    assert image["virtual_size"] == 4 * 1024 * 1024


@pytest.mark.parametrize("case", ["missing", "mismatch", "backing", "metadata"])
def test_a_bad_source_fails_with_a_message_and_leaves_nothing(
        service: LocalService, web: FileServer, tmp_path: Path, case: str) -> None:
    if case == "backing":
        qemu_img("create", "-f", "qcow2", str(tmp_path / "base.qcow2"), "1M")
        qemu_img("create", "-f", "qcow2", "-F", "qcow2", "-b", str(tmp_path / "base.qcow2"), str(tmp_path / "top.qcow2"))
        web.files["/backed.qcow2"] = (tmp_path / "top.qcow2").read_bytes()
    web.files["/plain.raw"] = b"\x01" * 70000
    url, words = {
        "missing": (web["/gone.qcow2"], ["Could not retrieve image", "404"]),
        "mismatch": (web["/plain.raw"], ["does not match disk_format qcow2"]),
        "backing": (web["/backed.qcow2"], ["safety checks", "backing"]),
        "metadata": ("http://169.254.169.254/latest/meta-data/", ["instance metadata"]),
    }[case]
    task = finished_task(service, url)
    assert task["status"] == "failure"
    for word in words:
        assert word in task["message"], task["message"]
    image_id = derived_id("task-image", task["id"])
    assert call(service, "GET", f"/v2/images/{image_id}")[0] == 404
    assert not [k for k in bucket_keys(service) if image_id in k]


def _wait_active(service: LocalService, image_id: str, home: Path) -> str:
    deadline = time.monotonic() + 60
    while True:
        status = field(glance(service, ADMIN, "image-show", image_id, home=home).stdout, "status")
        if status not in ("queued", "uploading", "importing") or time.monotonic() > deadline:
            return status
        time.sleep(0.3)


def test_glance_image_create_via_import_web_download(service: LocalService, web: FileServer, real_qcow2: Path,
                                                     tmp_path: Path) -> None:
    web.files["/cli.qcow2"] = real_qcow2.read_bytes()
    made = glance(service, ADMIN, "image-create-via-import", "--name", "web", "--disk-format", "qcow2",
                  "--container-format", "bare", "--import-method", "web-download", "--uri", web["/cli.qcow2"],
                  home=tmp_path)
    assert made.returncode == 0, made.stderr
    assert _wait_active(service, field(made.stdout, "id"), tmp_path) == "active"


def test_glance_image_create_via_import_glance_direct(service: LocalService, real_qcow2: Path, tmp_path: Path) -> None:
    made = glance(service, ADMIN, "image-create-via-import", "--name", "direct", "--disk-format", "qcow2",
                  "--container-format", "bare", "--import-method", "glance-direct", "--file", str(real_qcow2),
                  home=tmp_path)
    assert made.returncode == 0, made.stderr
    image_id = field(made.stdout, "id")
    assert _wait_active(service, image_id, tmp_path) == "active"
    shown = glance(service, ADMIN, "image-show", image_id, home=tmp_path).stdout
    assert field(shown, "checksum") == hashlib.md5(real_qcow2.read_bytes()).hexdigest()


def test_glance_task_list_and_show(service: LocalService, web: FileServer, real_qcow2: Path, tmp_path: Path) -> None:
    web.files["/listed.qcow2"] = real_qcow2.read_bytes()
    task = finished_task(service, web["/listed.qcow2"])
    # task-list sorts by status (desc) by default: the status index serves it
    listed = glance(service, ADMIN, "task-list", home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert task["id"] in listed.stdout
    shown = glance(service, ADMIN, "task-show", task["id"], home=tmp_path)
    assert shown.returncode == 0 and field(shown.stdout, "status") == "success"


def test_a_presigned_upload_imports_itself(service: LocalService, real_qcow2: Path) -> None:
    status, image = call(service, "POST", "/v2/images", {"disk_format": "qcow2", "container_format": "bare"})
    assert status == 201
    status, ticket = call(service, "POST", f"/v2/images/{image['id']}/upload-url", {})
    assert status == 200 and ticket["url"].startswith(service.endpoint_url)
    data = real_qcow2.read_bytes()
    put = urllib.request.Request(ticket["url"], data=data, method="PUT", headers=ticket["headers"])
    with urllib.request.urlopen(put, timeout=30) as resp:  # straight to the emulator's S3, as a client would
        assert resp.status == 200
    shown = until(lambda: call(service, "GET", f"/v2/images/{image['id']}")[1], lambda doc: doc["status"] == "active")
    assert shown["checksum"] == hashlib.md5(data).hexdigest() and shown["virtual_size"] == 4 * 1024 * 1024
    assert not [k for k in bucket_keys(service) if k.startswith("staging/") and image["id"] in k]
