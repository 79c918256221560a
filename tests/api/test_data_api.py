"""Upload, download, ranges, format safety, deactivation, deletion of data (issue: image data)."""
from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import pytest

from tests import images as fx
from tests.api.helpers import ADMIN, ALICE, BOB, READER, body, create, reconfigure, stored_keys

OCTET = {"Content-Type": "application/octet-stream", "Accept": "*/*"}


def put_file(api: Any, headers: dict[str, str], image_id: str, data: bytes, **extra: str) -> Any:
    return api.http.put(f"/v2/images/{image_id}/file", headers={**headers, **OCTET, **extra}, body=data)


objects = stored_keys


def show(api: Any, headers: dict[str, str], image_id: str) -> dict[str, Any]:
    return body(api.http.get(f"/v2/images/{image_id}", headers=headers))


@pytest.fixture
def qcow(api: Any) -> dict[str, Any]:
    return create(api, ALICE, name="q", disk_format="qcow2", container_format="bare")


def test_upload_sets_checksums_size_virtual_size_and_activates(api: Any, container: Any, qcow: dict[str, Any]) -> None:
    data = fx.qcow2()
    resp = put_file(api, ALICE, qcow["id"], data)
    assert resp.status_code == 204, resp.body
    doc = show(api, ALICE, qcow["id"])
    assert doc["status"] == "active"
    assert doc["checksum"] == hashlib.md5(data).hexdigest()
    assert (doc["os_hash_algo"], doc["os_hash_value"]) == ("sha512", hashlib.sha512(data).hexdigest())
    assert (doc["size"], doc["virtual_size"]) == (len(data), fx.VIRTUAL_SIZE)
    assert objects(container) == [f"images/{qcow['id']}"]


def test_large_upload_goes_multipart_and_round_trips(api: Any, aws: Any) -> None:
    """On moto: S3's multipart upload is the behaviour."""
    aws.data.store.part_size = 5 * 1024 * 1024  # S3's minimum part size
    image = create(api, ALICE, disk_format="raw", container_format="bare")
    data = fx.raw(5 * 1024 * 1024 + 12345)
    assert put_file(api, ALICE, image["id"], data).status_code == 204
    stored = aws.data.store.client.get_object(Bucket=aws.data.store.bucket, Key=f"images/{image['id']}")["Body"].read()
    assert stored == data


@pytest.mark.parametrize(
    "name,data,disk",
    [
        ("backing file", fx.qcow2(backing_file=True), "qcow2"),
        ("external data file", fx.qcow2(data_file=True), "qcow2"),
        ("vmdk flat extent", fx.vmdk_flat_descriptor(), "vmdk"),
        ("qed", fx.qed(), "qcow2"),
        ("raw as qcow2", fx.raw(), "qcow2"),
        ("qcow2 as vmdk", fx.qcow2(), "vmdk"),
        ("unsafe qcow2 as raw", fx.qcow2(backing_file=True), "raw"),
    ],
)
def test_unsafe_or_mismatched_data_is_415_queued_and_nothing_stored(api: Any, container: Any, name: str, data: bytes, disk: str) -> None:
    image = create(api, ALICE, disk_format=disk, container_format="bare")
    resp = put_file(api, ALICE, image["id"], data)
    assert resp.status_code == 415, (name, resp.body)
    doc = show(api, ALICE, image["id"])
    assert (doc["status"], doc["size"], doc["checksum"]) == ("queued", None, None)
    assert objects(container) == []
    # The image can still take good data afterwards.
    if disk == "qcow2":
        assert put_file(api, ALICE, image["id"], fx.qcow2()).status_code == 204


def test_non_bare_container_is_not_inspected(api: Any) -> None:
    image = create(api, ALICE, disk_format="qcow2", container_format="ovf")
    assert put_file(api, ALICE, image["id"], fx.raw()).status_code == 204
    assert show(api, ALICE, image["id"])["virtual_size"] is None


def test_raw_data_for_formats_the_inspector_cannot_know(api: Any) -> None:
    image = create(api, ALICE, disk_format="ploop", container_format="bare")
    assert put_file(api, ALICE, image["id"], fx.raw()).status_code == 204
    assert show(api, ALICE, image["id"])["virtual_size"] is None


@pytest.mark.parametrize("ctype", ["application/json", "text/plain", "application/octet-stream-x"])
def test_wrong_content_type_is_415_and_status_untouched(api: Any, qcow: dict[str, Any], ctype: str) -> None:
    resp = api.http.put(f"/v2/images/{qcow['id']}/file", headers={**ALICE, "Content-Type": ctype}, body=b"x")
    assert resp.status_code == 415
    assert show(api, ALICE, qcow["id"])["status"] == "queued"


def test_bad_size_header_is_400(api: Any, qcow: dict[str, Any]) -> None:
    assert put_file(api, ALICE, qcow["id"], b"x", **{"x-openstack-image-size": "lots"}).status_code == 400


def test_upload_to_active_image_is_409(api: Any, qcow: dict[str, Any]) -> None:
    assert put_file(api, ALICE, qcow["id"], fx.qcow2()).status_code == 204
    assert put_file(api, ALICE, qcow["id"], fx.qcow2()).status_code == 409


def test_upload_without_formats_is_400_and_stays_queued(api: Any) -> None:
    image = create(api, ALICE, name="noformat")
    assert put_file(api, ALICE, image["id"], b"abc").status_code == 400
    assert show(api, ALICE, image["id"])["status"] == "queued"


def test_size_cap_is_413_queued_nothing_stored(api: Any, container: Any, qcow: dict[str, Any]) -> None:
    reconfigure(container, image_size_cap=1000)
    assert put_file(api, ALICE, qcow["id"], fx.qcow2()).status_code == 413
    assert show(api, ALICE, qcow["id"])["status"] == "queued" and objects(container) == []
    assert put_file(api, ALICE, qcow["id"], b"x", **{"x-openstack-image-size": "5000"}).status_code == 413


def test_other_project_upload_hidden_and_reader_forbidden(api: Any, qcow: dict[str, Any]) -> None:
    assert put_file(api, BOB, qcow["id"], fx.qcow2()).status_code == 404
    assert put_file(api, READER, qcow["id"], fx.qcow2()).status_code == 403


@pytest.fixture
def active(api: Any, qcow: dict[str, Any]) -> tuple[str, bytes]:
    data = fx.qcow2(padding=1000)
    assert put_file(api, ALICE, qcow["id"], data).status_code == 204
    return qcow["id"], data


@pytest.mark.moto  # a real S3 presigned URL, fetched with ranges
def test_download_redirects_to_a_presigned_url_that_serves_the_bytes(api: Any, active: tuple[str, bytes]) -> None:
    import requests

    image_id, data = active
    resp = api.http.get(f"/v2/images/{image_id}/file", headers={**ALICE, "Accept": "*/*"})
    assert resp.status_code == 302
    assert resp.headers["Content-MD5"] == hashlib.md5(data).hexdigest()
    url = resp.headers["Location"]
    assert f"images/{image_id}" in url and "X-Amz-Signature" in url
    fetched = requests.get(url, headers={"Range": "bytes=4-11"}, timeout=10)
    assert fetched.status_code == 206 and fetched.content == data[4:12]
    assert requests.get(url, timeout=10).content == data


@pytest.fixture
def proxy(container: Any) -> None:
    reconfigure(container, download_mode="proxy")


@pytest.mark.parametrize(
    "rng,start,end",
    [("bytes=0-9", 0, 9), ("bytes=10-", 10, None), ("bytes=-16", -16, None), ("bytes=-99999", 0, None), ("bytes=20-999999", 20, None)],
)
def test_proxy_ranges_give_exact_bytes_and_headers(api: Any, proxy: None, active: tuple[str, bytes], rng: str, start: int, end: int | None) -> None:
    image_id, data = active
    resp = api.http.get(f"/v2/images/{image_id}/file", headers={**ALICE, "Accept": "*/*", "Range": rng})
    expected = data[start:] if end is None else data[start : end + 1]
    first = len(data) + start if start < 0 else start
    first = max(first, 0)
    assert resp.status_code == 206
    assert resp.body == expected
    assert resp.headers["Content-Range"] == f"bytes {first}-{first + len(expected) - 1}/{len(data)}"
    assert resp.headers["Content-Type"] == "application/octet-stream"


def test_whole_download_in_proxy_mode_is_200(api: Any, proxy: None, active: tuple[str, bytes]) -> None:
    image_id, data = active
    resp = api.http.get(f"/v2/images/{image_id}/file", headers={**ALICE, "Accept": "*/*"})
    assert resp.status_code == 200 and resp.body == data and "Content-Range" not in resp.headers


@pytest.mark.parametrize("accept", ["application/json", "text/html", None])
def test_a_download_returns_the_bytes_whatever_the_accept_header(api: Any, proxy: None, active: tuple[str, bytes],
                                                                  accept: str | None) -> None:
    # API Gateway's binary media types are */* (infra/stacks/gateway.py); the app must not refuse either.
    image_id, data = active
    headers = {k: v for k, v in ALICE.items() if k != "Accept"}
    resp = api.http.get(f"/v2/images/{image_id}/file", headers={**headers, **({"Accept": accept} if accept else {})})
    assert resp.status_code == 200 and resp.body == data
    assert resp.headers["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize("headers,code", [({"Range": "bytes=999999-"}, 416), ({"Range": "bytes=0-1,4-5"}, 400),
                                          ({"Range": "nonsense"}, 416), ({"Content-Range": "bytes 999999-1000000/*"}, 416)])
def test_range_errors(api: Any, active: tuple[str, bytes], headers: dict[str, str], code: int) -> None:
    resp = api.http.get(f"/v2/images/{active[0]}/file", headers={**ALICE, "Accept": "*/*", **headers})
    assert resp.status_code == code


def test_deprecated_content_range_is_served_directly_and_ignored_with_range(api: Any, active: tuple[str, bytes]) -> None:
    image_id, data = active
    resp = api.http.get(f"/v2/images/{image_id}/file", headers={**ALICE, "Accept": "*/*", "Content-Range": "bytes 2-5/*"})
    assert resp.status_code == 206 and resp.body == data[2:6]
    both = api.http.get(f"/v2/images/{image_id}/file", headers={**ALICE, "Accept": "*/*", "Content-Range": "bytes 2-5/*", "Range": "bytes=0-0"})
    assert both.status_code == 302  # Range wins and goes to the store


def test_proxy_refuses_ranges_beyond_the_payload_limit(api: Any, container: Any, active: tuple[str, bytes]) -> None:
    reconfigure(container, proxy_max_bytes=10)
    resp = api.http.get(f"/v2/images/{active[0]}/file", headers={**ALICE, "Accept": "application/json", "Content-Range": "bytes 0-100/*"})
    assert resp.status_code == 400 and "at most 10 bytes" in body(resp)["message"]


def test_download_without_data_is_204_and_reader_is_403(api: Any, qcow: dict[str, Any], active: tuple[str, bytes]) -> None:
    empty = create(api, ALICE, name="empty")
    assert api.http.get(f"/v2/images/{empty['id']}/file", headers=ALICE).status_code == 204
    assert api.http.get(f"/v2/images/{active[0]}/file", headers=READER).status_code == 403
    assert api.http.get(f"/v2/images/{active[0]}/file", headers=BOB).status_code == 404


def test_deactivate_blocks_member_download_not_admin_and_reactivate_restores(api: Any, active: tuple[str, bytes]) -> None:
    image_id, _ = active
    assert api.http.post(f"/v2/images/{image_id}/actions/deactivate", headers=ALICE).status_code == 204
    assert api.http.post(f"/v2/images/{image_id}/actions/deactivate", headers=ALICE).status_code == 204  # no-op
    assert show(api, ALICE, image_id)["status"] == "deactivated"
    denied = api.http.get(f"/v2/images/{image_id}/file", headers=ALICE)
    assert denied.status_code == 403 and "deactivated" in body(denied)["message"]
    assert api.http.get(f"/v2/images/{image_id}/file", headers={**ADMIN, "Accept": "*/*"}).status_code == 302
    assert api.http.post(f"/v2/images/{image_id}/actions/reactivate", headers=ALICE).status_code == 204
    assert api.http.post(f"/v2/images/{image_id}/actions/reactivate", headers=ALICE).status_code == 204  # no-op
    assert api.http.get(f"/v2/images/{image_id}/file", headers={**ALICE, "Accept": "*/*"}).status_code == 302


def test_actions_from_other_statuses_are_403_and_hidden_is_404(api: Any, qcow: dict[str, Any]) -> None:
    assert api.http.post(f"/v2/images/{qcow['id']}/actions/deactivate", headers=ALICE).status_code == 403
    assert api.http.post(f"/v2/images/{qcow['id']}/actions/reactivate", headers=ALICE).status_code == 403
    assert api.http.post(f"/v2/images/{qcow['id']}/actions/deactivate", headers=BOB).status_code == 404
    assert api.http.post("/v2/images/missing/actions/deactivate", headers=ALICE).status_code == 404


def test_delete_removes_the_data(api: Any, container: Any, active: tuple[str, bytes]) -> None:
    assert objects(container) == [f"images/{active[0]}"]
    assert api.http.delete(f"/v2/images/{active[0]}", headers=ALICE).status_code == 204
    assert objects(container) == []
    assert api.http.get(f"/v2/images/{active[0]}/file", headers=ALICE).status_code == 404


def test_stage_moves_to_uploading_with_size_and_twice_is_409(api: Any, container: Any, qcow: dict[str, Any]) -> None:
    url = f"/v2/images/{qcow['id']}/stage"
    assert api.http.put(url, headers={**ALICE, **OCTET}, body=b"staged-bytes").status_code == 204
    doc = show(api, ALICE, qcow["id"])
    assert (doc["status"], doc["size"]) == ("uploading", 12)
    assert objects(container) == [f"staging/{qcow['id']}"]
    assert api.http.put(url, headers={**ALICE, **OCTET}, body=b"again").status_code == 409
    assert put_file(api, ALICE, qcow["id"], fx.qcow2()).status_code == 409


def test_stage_failure_requeues_and_cleans(api: Any, container: Any, qcow: dict[str, Any]) -> None:
    reconfigure(container, image_size_cap=4)
    assert api.http.put(f"/v2/images/{qcow['id']}/stage", headers={**ALICE, **OCTET}, body=b"too-big").status_code == 413
    assert show(api, ALICE, qcow["id"])["status"] == "queued" and objects(container) == []


def test_image_deleted_during_upload_is_410_and_leaves_no_bytes(api: Any, container: Any, qcow: dict[str, Any]) -> None:
    store = container.data.store
    real_put = store.put_stream

    def put_then_lose_the_image(key: str, chunks: Any) -> int:
        size = real_put(key, chunks)
        # Another request deletes the image while this upload is still finishing.
        assert api.http.delete(f"/v2/images/{qcow['id']}", headers=ADMIN).status_code == 204
        return size

    store.put_stream = put_then_lose_the_image
    try:
        resp = put_file(api, ALICE, qcow["id"], fx.qcow2())
    finally:
        store.put_stream = real_put
    assert resp.status_code == 410
    assert objects(container) == []
    assert api.http.get(f"/v2/images/{qcow['id']}", headers=ADMIN).status_code == 404


def test_delayed_delete_keeps_bytes_until_the_scrubber_runs(api: Any, container: Any, active: tuple[str, bytes]) -> None:
    from chalicelib.pipeline.scrubber import scrub_images

    reconfigure(container, delayed_delete=True)
    assert api.http.delete(f"/v2/images/{active[0]}", headers=ALICE).status_code == 204
    assert api.http.get(f"/v2/images/{active[0]}", headers=ALICE).status_code == 404
    assert objects(container) == [f"images/{active[0]}"]
    assert scrub_images(container) == {"purged": [active[0]]}
    assert objects(container) == []


def test_storage_quota_is_413_queued_and_nothing_stored(api: Any, container: Any) -> None:
    reconfigure(container, user_storage_quota=300000)
    first = create(api, ALICE, disk_format="qcow2", container_format="bare")
    assert put_file(api, ALICE, first["id"], fx.qcow2(padding=200000)).status_code == 204
    second = create(api, ALICE, disk_format="qcow2", container_format="bare")
    assert put_file(api, ALICE, second["id"], fx.qcow2(padding=200000)).status_code == 413
    assert show(api, ALICE, second["id"])["status"] == "queued"
    assert objects(container) == [f"images/{first['id']}"]
    assert api.http.delete(f"/v2/images/{first['id']}", headers=ALICE).status_code == 204
    assert put_file(api, ALICE, second["id"], fx.qcow2(padding=200000)).status_code == 204
