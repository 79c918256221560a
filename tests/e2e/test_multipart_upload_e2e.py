"""Presigned multipart uploads against the local service, as a client that talks to S3 directly does them:
plain HTTP PUTs of each part to its presigned URL on the emulator (127.0.0.1), then the completion call.

S3 (and moto) refuse parts under 5 MiB but the last one. For small parts here, both sides are lowered:
the service's IMAGES_UPLOAD_MIN_PART_SIZE, and moto's own knob, ``S3_UPLOAD_PART_MIN_SIZE`` (moto reads
that variable once, at import, into ``moto.s3.models``; the emulator runs in this process).
"""
from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from chalicelib import wiring
from infra.local.run import LocalService
from tests.api.helpers import reconfigure
from tests.e2e.test_glanceclient_data import bucket_keys, qemu_img, real_qcow2  # noqa: F401 - fixtures
from tests.e2e.test_import_e2e import call
from tests.e2e.waiting import until

PART = 256 * 1024
OCTETS = {"Content-Type": "application/octet-stream"}


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch, _serve_this_service: None) -> None:
    import moto.s3.models

    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", PART)
    reconfigure(wiring.container(), upload_min_part_size=PART)


def _put(url: str, data: bytes, headers: dict[str, str] = OCTETS) -> tuple[int, str]:
    """One part, PUT straight to the emulator's S3 as any HTTP client would, with the ticket's headers
    (urllib would send a form type, on which moto's server waits for a body it already read); (status, ETag)."""
    req = urllib.request.Request(url, data=data, method="PUT", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, str(resp.headers["ETag"])
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def _in_progress(service: LocalService) -> list[str]:
    store = wiring.container().data.store
    return [u["Key"] for u in store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])]


def _queued_image(service: LocalService) -> dict[str, Any]:
    status, image = call(service, "POST", "/v2/images", {"disk_format": "qcow2", "container_format": "bare"})
    assert status == 201, image
    return image


def test_a_multipart_upload_in_several_parts_ends_active(service: LocalService, real_qcow2: Path,
                                                         small_parts: None) -> None:
    data = real_qcow2.read_bytes()
    image = _queued_image(service)
    status, ticket = call(service, "POST", f"/v2/images/{image['id']}/upload-url", {"size": len(data), "part_size": PART})
    assert status == 200, ticket
    assert ticket["part_count"] == -(-len(data) // PART) >= 3 and ticket["next_part"] is None

    parts = []
    for part in ticket["parts"]:
        assert part["url"].startswith(service.endpoint_url)
        start = (part["part_number"] - 1) * PART
        put, etag = _put(part["url"], data[start:start + part["size"]], ticket["headers"])
        assert put == 200 and etag
        parts.append({"part_number": part["part_number"], "etag": etag})
    assert call(service, "GET", f"/v2/images/{image['id']}")[1]["status"] == "queued"  # nothing imported yet

    status, _ = call(service, "POST", f"/v2/images/{image['id']}/upload-url/complete",
                     {"upload_id": ticket["upload_id"], "parts": parts})
    assert status == 202
    shown = until(lambda: call(service, "GET", f"/v2/images/{image['id']}")[1], lambda doc: doc["status"] == "active",
                  meanwhile=lambda doc: doc["status"] in ("queued", "importing"))
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert (shown["os_hash_algo"], shown["os_hash_value"]) == ("sha512", hashlib.sha512(data).hexdigest())
    assert shown["size"] == len(data) and shown["virtual_size"] == 4 * 1024 * 1024
    keys = [k for k in bucket_keys(service) if image["id"] in k]
    assert keys == [f"images/{image['id']}"] and image["id"] not in " ".join(_in_progress(service))
    with urllib.request.urlopen(urllib.request.Request(service.url + f"/v2/images/{image['id']}/file", headers={
            "X-Auth-Token": "admin:demo:admin"}), timeout=30) as resp:
        assert hashlib.sha512(resp.read()).hexdigest() == shown["os_hash_value"]


def test_an_aborted_upload_leaves_no_parts_and_its_urls_stop_working(service: LocalService, small_parts: None) -> None:
    image = _queued_image(service)
    status, ticket = call(service, "POST", f"/v2/images/{image['id']}/upload-url", {"size": 3 * PART, "part_size": PART})
    assert status == 200, ticket
    assert _put(ticket["parts"][0]["url"], b"x" * PART)[0] == 200
    assert f"staging/imports/{image['id']}" in _in_progress(service)

    assert call(service, "DELETE", f"/v2/images/{image['id']}/upload-url")[0] == 204
    assert f"staging/imports/{image['id']}" not in _in_progress(service)
    refused = _put(ticket["parts"][1]["url"], b"y" * PART)[0]
    assert refused in (404, 500), refused  # S3: 404 NoSuchUpload (moto 5.2 answers its KeyError with a 500)
    assert call(service, "GET", f"/v2/images/{image['id']}")[1]["status"] == "queued"
    assert not [k for k in bucket_keys(service) if image["id"] in k]
    status, error = call(service, "POST", f"/v2/images/{image['id']}/upload-url/complete", {})
    assert status == 404 and error["code"] == "404 Not Found" and "No multipart upload" in error["message"]


def test_an_incomplete_upload_is_not_completed(service: LocalService, small_parts: None) -> None:
    image = _queued_image(service)
    status, ticket = call(service, "POST", f"/v2/images/{image['id']}/upload-url", {"size": 2 * PART, "part_size": PART})
    assert status == 200, ticket
    assert _put(ticket["parts"][0]["url"], b"x" * PART)[0] == 200
    assert _put(ticket["parts"][1]["url"], b"y" * (PART - 1))[0] == 200  # one byte short

    status, error = call(service, "POST", f"/v2/images/{image['id']}/upload-url/complete", {})
    assert status == 400 and "Part 2 holds" in error["message"], error
    assert not [k for k in bucket_keys(service) if image["id"] in k]  # no object, so no import
    assert call(service, "DELETE", f"/v2/images/{image['id']}")[0] == 204  # the delete aborts the upload
    assert f"staging/imports/{image['id']}" not in _in_progress(service)
