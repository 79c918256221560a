"""python-glanceclient moving real qemu-img images through the local service (issue: image data)."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import urllib.request
from pathlib import Path

import boto3
import pytest

from infra.local.run import LocalService
from tests.e2e.test_glanceclient import field, glance

ADMIN = "admin:demo:admin"
MEMBER = "m:demo:member"


def qemu_img(*args: str) -> None:
    assert shutil.which("qemu-img"), "qemu-img is needed (make test installs qemu-utils)"
    subprocess.run(["qemu-img", *args], check=True, capture_output=True, timeout=60)


def bucket_keys(service: LocalService) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=service.endpoint_url, region_name="us-east-1")
    return [o["Key"] for o in s3.list_objects_v2(Bucket=service.settings.resources.bucket).get("Contents", [])]


@pytest.fixture(scope="module")
def real_qcow2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("img")
    raw = work / "disk.raw"
    raw.write_bytes(bytes((i * 131) % 256 for i in range(2 * 1024 * 1024)) + b"\0" * (2 * 1024 * 1024))
    out = work / "disk.qcow2"
    qemu_img("convert", "-f", "raw", "-O", "qcow2", str(raw), str(out))
    return out


def test_upload_download_round_trip_with_checksums(service: LocalService, real_qcow2: Path, tmp_path: Path) -> None:
    made = glance(service, ADMIN, "image-create", "--name", "real", "--disk-format", "qcow2", "--container-format", "bare",
                  "--file", str(real_qcow2), "--progress", home=tmp_path)
    assert made.returncode == 0, made.stderr
    image_id = field(made.stdout, "id")
    data = real_qcow2.read_bytes()
    shown = glance(service, ADMIN, "image-show", image_id, home=tmp_path).stdout
    assert field(shown, "status") == "active"
    assert field(shown, "checksum") == hashlib.md5(data).hexdigest()
    assert int(field(shown, "size")) == len(data)
    assert int(field(shown, "virtual_size")) == 4 * 1024 * 1024
    # The CLI table wraps the 128-hex SHA-512; read it from the API instead.
    req = urllib.request.Request(f"{service.url}/v2/images/{image_id}", headers={"X-Auth-Token": ADMIN})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert json.loads(resp.read())["os_hash_value"] == hashlib.sha512(data).hexdigest()

    out = tmp_path / "out"
    got = glance(service, ADMIN, "image-download", "--file", str(out), image_id, home=tmp_path)
    assert got.returncode == 0, got.stderr
    assert out.read_bytes() == data

    assert glance(service, ADMIN, "image-deactivate", image_id, home=tmp_path).returncode == 0
    denied = glance(service, MEMBER, "image-download", "--file", str(tmp_path / "m"), image_id, home=tmp_path)
    assert denied.returncode == 1 and "403" in denied.stderr
    assert glance(service, ADMIN, "image-download", "--file", str(tmp_path / "a"), image_id, home=tmp_path).returncode == 0
    assert glance(service, ADMIN, "image-reactivate", image_id, home=tmp_path).returncode == 0
    again = glance(service, MEMBER, "image-download", "--file", str(tmp_path / "m2"), image_id, home=tmp_path)
    assert again.returncode == 0 and (tmp_path / "m2").read_bytes() == data


@pytest.mark.parametrize("kind", ["backing", "data_file", "vmdk_flat", "raw_as_qcow2"])
def test_unsafe_real_images_are_415_queued_and_leave_no_bytes(service: LocalService, tmp_path: Path, kind: str) -> None:
    base = tmp_path / "base.qcow2"
    qemu_img("create", "-f", "qcow2", str(base), "1M")
    disk = "qcow2"
    if kind == "backing":
        path = tmp_path / "child.qcow2"
        qemu_img("create", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(path))
    elif kind == "data_file":
        path = tmp_path / "df.qcow2"
        qemu_img("create", "-f", "qcow2", "-o", f"data_file={tmp_path / 'ext.raw'}", str(path), "1M")
    elif kind == "vmdk_flat":
        path, disk = tmp_path / "flat.vmdk", "vmdk"
        qemu_img("create", "-f", "vmdk", "-o", "subformat=monolithicFlat", str(path), "1M")
    else:
        path = tmp_path / "plain.raw"
        path.write_bytes(b"\x01" * 70000)
    before = set(bucket_keys(service))
    made = glance(service, ADMIN, "image-create", "--name", kind, "--disk-format", disk, "--container-format", "bare",
                  "--file", str(path), home=tmp_path)
    assert made.returncode == 1 and "415" in made.stderr, made.stderr
    listed = glance(service, ADMIN, "image-list", "--property-filter", f"name={kind}", home=tmp_path).stdout
    image_id = next(line.split("|")[1].strip() for line in listed.splitlines() if f" {kind} " in line)
    assert field(glance(service, ADMIN, "image-show", image_id, home=tmp_path).stdout, "status") == "queued"
    assert set(bucket_keys(service)) == before
