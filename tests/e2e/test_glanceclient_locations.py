"""python-glanceclient's location commands against the local service (issue: atomic location management).

The local runner turns show_multiple_locations on; IMPORT_ALLOWED_HOSTS=127.0.0.1 lets an http
location point at a file server on this machine.
"""
from __future__ import annotations

import hashlib
import json
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from infra.local.run import LocalService
from tests.e2e.test_glanceclient import field, glance
from tests.e2e.waiting import until
from tests.webserver import FileServer, file_server

ADMIN = "admin:demo:admin"
DATA = bytes(range(256)) * 64


@pytest.fixture(scope="module")
def web() -> Iterator[FileServer]:
    with file_server() as server:
        server.files.update({"/mirror.img": DATA, "/second.img": DATA})
        yield server


def image_json(service: LocalService, image_id: str) -> dict[str, Any]:
    """The image document over plain HTTP (the CLI wraps long table cells)."""
    req = urllib.request.Request(f"{service.url}/v2/images/{image_id}", headers={"X-Auth-Token": ADMIN})
    with urllib.request.urlopen(req, timeout=10) as resp:
        doc: dict[str, Any] = json.loads(resp.read())
    return doc


def locations(service: LocalService, image_id: str) -> list[dict[str, Any]]:
    return list(image_json(service, image_id)["locations"])


def uploaded(service: LocalService, home: Path) -> str:
    disk = home / "disk.raw"
    disk.write_bytes(DATA)
    made = glance(service, ADMIN, "image-create", "--name", "loc", "--disk-format", "raw", "--container-format", "bare",
                  "--file", str(disk), home=home)
    assert made.returncode == 0, made.stderr
    assert field(made.stdout, "status") == "active"
    return field(made.stdout, "id")


def test_location_add_update_delete_on_an_active_image(service: LocalService, web: FileServer, tmp_path: Path) -> None:
    image_id = uploaded(service, tmp_path)
    [own] = locations(service, image_id)
    assert own["url"] == f"s3://{service.settings.resources.bucket}/images/{image_id}"

    added = glance(service, ADMIN, "location-add", "--url", web["/mirror.img"], "--metadata", '{"site": "dc1"}', image_id,
                   home=tmp_path)
    assert added.returncode == 0, added.stderr
    assert web["/mirror.img"] in added.stdout.replace("\n", "")
    assert [loc["url"] for loc in locations(service, image_id)] == [own["url"], web["/mirror.img"]]

    updated = glance(service, ADMIN, "location-update", "--url", web["/mirror.img"], "--metadata", '{"site": "dc2"}',
                     image_id, home=tmp_path)
    assert updated.returncode == 0, updated.stderr
    assert locations(service, image_id)[1] == {"url": web["/mirror.img"], "metadata": {"site": "dc2", "store": "http"}}

    deleted = glance(service, ADMIN, "location-delete", "--url", web["/mirror.img"], image_id, home=tmp_path)
    assert deleted.returncode == 0, deleted.stderr
    assert [loc["url"] for loc in locations(service, image_id)] == [own["url"]]
    # The last location stays: removing it is 403.
    last = glance(service, ADMIN, "location-delete", "--url", own["url"], image_id, home=tmp_path)
    assert last.returncode != 0 and "403" in last.stderr


def test_location_commands_on_a_deactivated_image_are_409(service: LocalService, web: FileServer, tmp_path: Path) -> None:
    image_id = uploaded(service, tmp_path)
    assert glance(service, ADMIN, "location-add", "--url", web["/second.img"], image_id, home=tmp_path).returncode == 0
    assert glance(service, ADMIN, "image-deactivate", image_id, home=tmp_path).returncode == 0
    before = image_json(service, image_id)

    for args in (
        ["location-add", "--url", web["/mirror.img"]],
        ["location-update", "--url", web["/second.img"], "--metadata", '{"k": "v"}'],
        ["location-delete", "--url", web["/second.img"]],
    ):
        result = glance(service, ADMIN, *args, image_id, home=tmp_path)
        assert result.returncode != 0, args
        assert "409" in result.stderr and "deactivated" in result.stderr, result.stderr
    assert image_json(service, image_id) == before  # nothing changed, not even updated_at


def test_add_location_new_api_activates_a_queued_image(service: LocalService, web: FileServer, tmp_path: Path) -> None:
    made = glance(service, ADMIN, "image-create", "--name", "ext", "--disk-format", "raw", "--container-format", "bare",
                  home=tmp_path)
    image_id = field(made.stdout, "id")
    added = glance(service, ADMIN, "add-location", "--url", web["/mirror.img"], image_id, home=tmp_path)
    assert added.returncode == 0, added.stderr
    shown = glance(service, ADMIN, "image-show", image_id, home=tmp_path).stdout
    assert (field(shown, "status"), field(shown, "size")) == ("active", str(len(DATA)))
    # make run's pipeline then hashes the location's data (Glance's location_import task).
    doc = hashed(service, image_id)
    assert (doc["checksum"], doc["os_hash_algo"], doc["os_hash_value"]) == (
        hashlib.md5(DATA).hexdigest(), "sha512", hashlib.sha512(DATA).hexdigest())


def test_add_location_with_validation_data_is_verified(service: LocalService, web: FileServer, tmp_path: Path) -> None:
    made = glance(service, ADMIN, "image-create", "--name", "ext", "--disk-format", "raw", "--container-format", "bare",
                  home=tmp_path)
    image_id = field(made.stdout, "id")
    sha256 = hashlib.sha256(DATA).hexdigest()
    vd = json.dumps({"os_hash_algo": "sha256", "os_hash_value": sha256})
    added = glance(service, ADMIN, "add-location", "--url", web["/second.img"], "--validation-data", vd, image_id,
                   home=tmp_path)
    assert added.returncode == 0, added.stderr
    doc = hashed(service, image_id)
    assert (doc["status"], doc["checksum"], doc["os_hash_algo"], doc["os_hash_value"]) == (
        "active", hashlib.md5(DATA).hexdigest(), "sha256", sha256)


def hashed(service: LocalService, image_id: str, timeout: float = 20.0) -> dict[str, Any]:
    """The image document once its location_import task has released the lock."""
    return until(lambda: image_json(service, image_id), lambda doc: "os_glance_import_task" not in doc,
                 timeout, interval=0.05)
