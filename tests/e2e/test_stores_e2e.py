"""Multi-store with unmodified clients against the local service, which `make run` starts with two stores
(``local``, the default, and ``replica`` on a second bucket in eu-west-1): python-glanceclient's stores-info,
image-create-via-import --stores, image-import copy-image, image-tasks and stores-delete; openstacksdk's
``create_image(use_import=True)``; python-openstackclient's ``image create --import --file``, ``image import
--method web-download`` with its defaults and ``image show``."""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import boto3
import openstack

from infra.local.run import LocalService
from tests.e2e import test_openstackclient as osc
from tests.e2e.test_glanceclient import field, glance
from tests.e2e.test_glanceclient_data import real_qcow2  # noqa: F401 - fixture
from tests.e2e.waiting import until
from tests.webserver import file_server

ADMIN = "admin:demo:admin"


def shown(service: LocalService, image_id: str, home: Path) -> str:
    out = glance(service, ADMIN, "image-show", image_id, home=home)
    assert out.returncode == 0, out.stderr
    return out.stdout


def settle(service: LocalService, image_id: str, home: Path, done: Any) -> str:
    """image-show until ``done(output)`` (the import runs in the background), at most a minute."""
    deadline = time.monotonic() + 60
    while True:
        out = shown(service, image_id, home)
        if done(out) or time.monotonic() > deadline:
            return out
        time.sleep(0.3)


def replica_keys(service: LocalService) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=service.endpoint_url, region_name="eu-west-1")
    bucket = service.settings.resources.bucket + "-replica"
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_stores_info_lists_both_local_stores(service: LocalService, tmp_path: Path) -> None:
    out = glance(service, ADMIN, "stores-info", home=tmp_path)
    assert out.returncode == 0, out.stderr
    compact = "".join(c for c in out.stdout if c not in "| \n")  # the table wraps long cells
    assert '"id":"local"' in compact and '"id":"replica"' in compact and '"default":"true"' in compact
    detail = glance(service, ADMIN, "stores-info", "--detail", home=tmp_path)
    assert detail.returncode == 0 and "eu-west-1" in "".join(c for c in detail.stdout if c not in "| \n")


def test_create_via_import_into_both_stores_then_tasks(service: LocalService, real_qcow2: Path,
                                                       tmp_path: Path) -> None:
    made = glance(service, ADMIN, "image-create-via-import", "--name", "two", "--disk-format", "qcow2",
                  "--container-format", "bare", "--import-method", "glance-direct", "--file", str(real_qcow2),
                  "--stores", "local,replica", home=tmp_path)
    assert made.returncode == 0, made.stderr
    image_id = field(made.stdout, "id")
    out = settle(service, image_id, tmp_path, lambda o: field(o, "os_glance_importing_to_stores") == ""
                 and field(o, "status") == "active")
    assert field(out, "status") == "active" and field(out, "stores") == "local,replica"
    assert field(out, "os_glance_failed_import") == ""
    assert field(out, "checksum") == hashlib.md5(real_qcow2.read_bytes()).hexdigest()
    assert f"glance/images/{image_id}" in replica_keys(service)
    tasks = glance(service, ADMIN, "image-tasks", image_id, home=tmp_path)  # needs v2.12 in /versions
    assert tasks.returncode == 0, tasks.stderr
    assert "success" in tasks.stdout


def test_copy_image_to_the_replica_then_delete_it_from_there(service: LocalService, real_qcow2: Path,
                                                              tmp_path: Path) -> None:
    made = glance(service, ADMIN, "image-create", "--name", "one", "--disk-format", "qcow2", "--container-format",
                  "bare", "--file", str(real_qcow2), home=tmp_path)
    assert made.returncode == 0, made.stderr
    image_id = field(made.stdout, "id")
    assert field(shown(service, image_id, tmp_path), "stores") == "local"
    copied = glance(service, ADMIN, "image-import", "--import-method", "copy-image", "--stores", "replica", image_id,
                    home=tmp_path)
    assert copied.returncode == 0, copied.stderr
    out = settle(service, image_id, tmp_path, lambda o: field(o, "stores") == "local,replica"
                 and field(o, "os_glance_importing_to_stores") == "")
    assert field(out, "stores") == "local,replica" and field(out, "status") == "active"
    deleted = glance(service, ADMIN, "stores-delete", "--store", "replica", image_id, home=tmp_path)
    assert deleted.returncode == 0, deleted.stderr
    assert field(shown(service, image_id, tmp_path), "stores") == "local"
    assert f"glance/images/{image_id}" not in replica_keys(service)
    last = glance(service, ADMIN, "stores-delete", "--store", "local", image_id, home=tmp_path)
    assert last.returncode == 1 and "403" in last.stderr  # never the last location


def test_openstacksdk_create_with_import_and_a_file(service: LocalService, real_qcow2: Path) -> None:
    conn = openstack.connect(auth_type="admin_token", auth={"endpoint": service.url, "token": "u:p:admin"})
    image = conn.image.create_image(name="sdk-import", filename=str(real_qcow2), disk_format="qcow2",
                                    container_format="bare", use_import=True, allow_duplicates=True, wait=False)
    current = until(lambda: conn.image.get_image(image.id), lambda shown: shown.status == "active", interval=0.3,
                    meanwhile=lambda shown: shown.status in ("queued", "uploading", "importing"))
    assert current.checksum == hashlib.md5(real_qcow2.read_bytes()).hexdigest()
    assert current.properties["stores"] == "local"  # an attribute the SDK does not model: in properties


def test_openstack_cli_create_import_file_and_web_download_import_with_defaults(
        service: LocalService, real_qcow2: Path, tmp_path: Path) -> None:
    data = real_qcow2.read_bytes()
    made = osc.openstack(service, ADMIN, "image", "create", "--import", "--file", str(real_qcow2), "--disk-format",
                         "qcow2", "--container-format", "bare", "osc-import", "-f", "json", home=tmp_path)
    assert made.returncode == 0, made.stderr
    image_id = json.loads(made.stdout)["id"]
    out = settle(service, image_id, tmp_path, lambda o: field(o, "status") == "active")
    assert field(out, "checksum") == hashlib.md5(data).hexdigest() and field(out, "stores") == "local"
    shown = osc.openstack(service, ADMIN, "image", "show", image_id, "-f", "json", home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["properties"]["stores"] == "local"
    # `openstack image import` sends all_stores_must_succeed=false by default (--allow-failure)
    with file_server() as web:
        web.files["/osc.qcow2"] = data
        queued = osc.openstack(service, ADMIN, "image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                               "osc-web", "-f", "json", home=tmp_path)
        assert queued.returncode == 0, queued.stderr
        web_id = json.loads(queued.stdout)["id"]
        imported = osc.openstack(service, ADMIN, "image", "import", "--method", "web-download", "--uri", web["/osc.qcow2"],
                                 web_id, home=tmp_path)
        assert imported.returncode == 0, imported.stderr
        out = settle(service, web_id, tmp_path, lambda o: field(o, "status") == "active")
    assert field(out, "stores") == "local" and field(out, "os_glance_failed_import") == ""
