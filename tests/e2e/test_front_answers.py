"""The real local server's own answers in Glance's format (issue 18 item 10), data whatever the Accept
header (issue 17 item 3, local side), no Content-Type on a 204 (issue 14 part 2), one access line per
request (issue 16 item 3)."""
from __future__ import annotations

import logging
import socket
from typing import Any
from urllib.parse import urlparse

import pytest
import requests

from infra.local.run import LocalService
from tests.unit.front.test_front_wsgi import glance_json

TOKEN = "admin:demo:admin"
JSON = {"X-Auth-Token": TOKEN, "Accept": "application/json"}
DATA = bytes(range(256)) * 64


def raw(service: LocalService, request: bytes) -> tuple[int, dict[str, str], bytes]:
    url = urlparse(service.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(request)
        got = b""
        while True:
            piece = sock.recv(65536)
            if not piece:
                break
            got += piece
            if b"\r\n\r\n" in got:
                head, body = got.split(b"\r\n\r\n", 1)
                length = [int(v.split(b":")[1]) for v in head.split(b"\r\n") if v.lower().startswith(b"content-length")]
                if length and len(body) >= length[0]:
                    break
    head, body = got.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def glance_html(status: int, headers: dict[str, str], body: bytes) -> None:
    assert headers["content-type"].startswith("text/html")
    assert f"<title>{status} ".encode() in body and f"<h1>{status} ".encode() in body


def test_a_request_line_too_long_is_414_in_glances_format(service: LocalService) -> None:
    # The headers (Accept among them) come after the line, unread: webob's HTML page, as for no Accept.
    status, headers, body = raw(service, b"GET /v2/images?" + b"q" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 414
    glance_html(414, headers, body)


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "MKCOL", "FOO"])
def test_methods_glance_does_not_implement_are_501_in_its_format(service: LocalService, method: str) -> None:
    resp = requests.request(method, f"{service.url}/v2/images", headers=JSON, timeout=10)
    assert resp.status_code == 501 and glance_json(501, resp.content)["title"] == "Not Implemented"
    assert resp.headers["x-openstack-request-id"].startswith("req-")


def test_connect_is_405_in_glances_format(service: LocalService) -> None:
    # Refused on its request line, before the headers are read: the HTML page.
    status, headers, body = raw(service, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
    assert status == 405
    glance_html(405, headers, body)


@pytest.mark.parametrize("request_bytes", [b"GARBAGE\r\n\r\n", b"GET /v2/images HTTP/1.1\r\nNo colon here\r\n\r\n",
                                           b"GET /v2/images HTTP/9.9\r\nHost: x\r\n\r\n"])
def test_malformed_requests_are_answered_in_glances_format(service: LocalService, request_bytes: bytes) -> None:
    status, headers, body = raw(service, request_bytes)
    assert status in (400, 505)
    glance_html(status, headers, body)


def _image_with_data(service: LocalService) -> str:
    created = requests.post(f"{service.url}/v2/images", headers=JSON, timeout=10,
                            json={"name": "accept", "disk_format": "raw", "container_format": "bare"}).json()
    put = requests.put(f"{service.url}/v2/images/{created['id']}/file", data=DATA, timeout=10,
                       headers={"X-Auth-Token": TOKEN, "Content-Type": "application/octet-stream"})
    assert put.status_code == 204 and "content-type" not in {k.lower() for k in put.headers}
    return str(created["id"])


def test_data_goes_out_with_accept_json_on_v1_get_and_v2_proxied_ranges(service: LocalService) -> None:
    image_id = _image_with_data(service)
    v1 = requests.get(f"{service.url}/v1/images/{image_id}", headers=JSON, timeout=10)
    assert v1.status_code == 200 and v1.content == DATA
    ranged = requests.get(f"{service.url}/v2/images/{image_id}/file", timeout=10,
                          headers={**JSON, "Content-Range": "bytes 10-19/*"})
    assert ranged.status_code == 206 and ranged.content == DATA[10:20]
    whole = requests.get(f"{service.url}/v2/images/{image_id}/file", headers=JSON, timeout=10)  # redirect, followed
    assert whole.status_code == 200 and whole.content == DATA


def test_a_204_has_no_content_type(service: LocalService) -> None:
    image_id = _image_with_data(service)
    deleted = requests.delete(f"{service.url}/v2/images/{image_id}", headers=JSON, timeout=10)
    assert deleted.status_code == 204 and deleted.content == b""
    assert not {"content-type", "content-length"} & {k.lower() for k in deleted.headers}


def test_each_request_logs_one_access_line(service: LocalService, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="glance.access"):
        resp = requests.get(f"{service.url}/v2/images?limit=1", headers=JSON, timeout=10)
    lines = [r.getMessage() for r in caplog.records if r.name == "glance.access"]
    rid = resp.headers["x-openstack-request-id"]
    assert len(lines) == 1 and lines[0].startswith("GET /v2/images?limit=1 200 ") and lines[0].endswith(rid)
    assert "ms " in lines[0]
