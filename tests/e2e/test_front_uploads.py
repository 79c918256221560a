"""Issue 15's must-show: a cut-off upload to the real local server never becomes an image.

Against ``make run``'s service (tests/e2e/conftest.py: cheroot, chalicelib/front), each way a body
can stop short: (a) a Content-Length body cut off halfway (the client half-closes and waits for the
answer), (b) a chunked body closed without its terminating chunk, (c) a client that disconnects
mid-stream (reset). Each time the image is back to ``queued`` (v1: ``killed``), the bucket holds no
object and no multipart upload for it (listed), the project's usage is what it was, and a following
complete upload succeeds. The bodies are 20 MiB, so the cut comes after a multipart part was stored.
"""
from __future__ import annotations

import hashlib
import json
import socket
import struct
import time
from typing import Any, Callable
from urllib.parse import urlparse

import boto3
import pytest
import requests

from infra.local.run import LocalService

TOKEN = "admin:demo:admin"
HEADERS = {"X-Auth-Token": TOKEN}
SIZE = 20 * 1024 * 1024
DATA = bytes(range(256)) * (SIZE // 256)
pytestmark = pytest.mark.moto


def _s3(service: LocalService) -> Any:
    return boto3.client("s3", endpoint_url=service.endpoint_url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def stored_for(service: LocalService, image_id: str) -> tuple[list[str], list[str]]:
    """(object keys, multipart upload keys) in the bucket that belong to ``image_id``."""
    s3, bucket = _s3(service), service.settings.resources.bucket
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []) if image_id in o["Key"]]
    uploads = [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) if image_id in u["Key"]]
    return keys, uploads


def create_v2(service: LocalService) -> str:
    resp = requests.post(f"{service.url}/v2/images", headers=HEADERS, timeout=30,
                         json={"name": "cut", "disk_format": "raw", "container_format": "bare"})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def usage(service: LocalService) -> dict[str, Any]:
    resp = requests.get(f"{service.url}/v2/info/usage", headers=HEADERS, timeout=30)
    assert resp.status_code == 200
    return dict(resp.json()["usage"])


def status_of(service: LocalService, image_id: str, wanted: str) -> str:
    """The image's status once it is ``wanted`` (or whatever it is after 10 s): a reset client gets no answer
    to wait for, so the server's clean-up is waited for here."""
    deadline = time.monotonic() + 10
    while True:
        status = str(requests.get(f"{service.url}/v2/images/{image_id}", headers=HEADERS, timeout=30).json()["status"])
        if status == wanted or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def connect(service: LocalService) -> socket.socket:
    url = urlparse(service.url)
    return socket.create_connection((url.hostname, url.port), timeout=30)


def head(method: str, path: str, extra: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", f"X-Auth-Token: {TOKEN}",
             "Content-Type: application/octet-stream", *(f"{k}: {v}" for k, v in extra.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer(sock: socket.socket) -> tuple[int, bytes]:
    raw = b""
    while b"\r\n\r\n" not in raw:
        got = sock.recv(65536)
        if not got:
            break
        raw += got
    head_part, body = raw.split(b"\r\n\r\n", 1)
    length = next(int(line.split(b":", 1)[1]) for line in head_part.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        got = sock.recv(65536)
        if not got:
            break
        body += got
    return int(raw.split(b" ", 2)[1]), body


def cut_content_length(service: LocalService, method: str, path: str, extra: dict[str, str]) -> tuple[int, bytes]:
    """(a) Content-Length says SIZE, half of it comes, the client closes its sending side and reads the answer."""
    with connect(service) as sock:
        sock.sendall(head(method, path, {"Content-Length": str(SIZE), **extra}) + DATA[: SIZE // 2])
        sock.shutdown(socket.SHUT_WR)
        return answer(sock)


def cut_chunked(service: LocalService, method: str, path: str, extra: dict[str, str]) -> tuple[int, bytes]:
    """(b) chunked, every chunk complete, but the stream ends without the terminating ``0`` chunk."""
    with connect(service) as sock:
        sock.sendall(head(method, path, {"Transfer-Encoding": "chunked", **extra}))
        for start in range(0, SIZE // 2, 65536):
            piece = DATA[start : start + 65536]
            sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        sock.shutdown(socket.SHUT_WR)
        return answer(sock)


def reset_mid_stream(service: LocalService, method: str, path: str, extra: dict[str, str]) -> tuple[int, bytes]:
    """(c) the client disappears mid-body: the connection is reset (SO_LINGER 0), nothing is read back."""
    sock = connect(service)
    sock.sendall(head(method, path, {"Content-Length": str(SIZE), **extra}) + DATA[: SIZE // 2])
    time.sleep(0.2)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    return 0, b""


CUTS: dict[str, Callable[[LocalService, str, str, dict[str, str]], tuple[int, bytes]]] = {
    "content-length-cut-halfway": cut_content_length, "chunked-without-last-chunk": cut_chunked,
    "client-disconnects": reset_mid_stream,
}


def assert_nothing_kept(service: LocalService, image_id: str, settled: str, before: dict[str, Any]) -> None:
    """An aborted upload's end state: the image back to ``settled``, no object or part left, usage as ``before``."""
    assert status_of(service, image_id, settled) == settled
    assert stored_for(service, image_id) == ([], [])
    assert usage(service) == before


def check_refused(status: int, body: bytes) -> None:
    if status:  # the client that reset reads no answer
        assert status == 400
        assert json.loads(body)["code"] == "400 Bad Request" and "nothing was stored" in json.loads(body)["message"]


@pytest.mark.parametrize("cut", CUTS)
@pytest.mark.parametrize("route", ["file", "stage"])
def test_a_cut_off_v2_upload_leaves_the_image_queued_and_nothing_stored(service: LocalService, cut: str,
                                                                        route: str) -> None:
    image_id = create_v2(service)
    before = usage(service)
    status, body = CUTS[cut](service, "PUT", f"/v2/images/{image_id}/{route}", {"Accept": "application/json"})
    check_refused(status, body)
    assert_nothing_kept(service, image_id, "queued", before)

    done = requests.put(f"{service.url}/v2/images/{image_id}/{route}", data=DATA, timeout=60,
                        headers={**HEADERS, "Content-Type": "application/octet-stream"})
    assert done.status_code == 204, done.text
    image = requests.get(f"{service.url}/v2/images/{image_id}", headers=HEADERS, timeout=30).json()
    assert image["size"] == SIZE and image["status"] == ("active" if route == "file" else "uploading")
    if route == "file":
        assert image["os_hash_value"] == hashlib.sha512(DATA).hexdigest()
    assert stored_for(service, image_id)[1] == []


@pytest.mark.parametrize("cut", CUTS)
def test_a_cut_off_v1_upload_leaves_the_image_killed_and_nothing_stored(service: LocalService, cut: str) -> None:
    created = requests.post(f"{service.url}/v1/images", timeout=30, headers={
        **HEADERS, "x-image-meta-name": "v1 cut", "x-image-meta-disk_format": "raw",
        "x-image-meta-container_format": "bare"})
    assert created.status_code == 201, created.text
    image_id = created.json()["image"]["id"]
    before = usage(service)
    status, body = CUTS[cut](service, "PUT", f"/v1/images/{image_id}", {"Accept": "application/json"})
    check_refused(status, body)
    assert_nothing_kept(service, image_id, "killed", before)
    # Glance v1 does not take data into a killed image; a new image with the complete body does become active.
    again = requests.post(f"{service.url}/v1/images", data=DATA, timeout=60, headers={
        **HEADERS, "x-image-meta-name": "v1 whole", "x-image-meta-disk_format": "raw",
        "x-image-meta-container_format": "bare", "Content-Type": "application/octet-stream"})
    assert again.status_code == 201, again.text
    assert again.json()["image"]["status"] == "active" and again.json()["image"]["size"] == SIZE
