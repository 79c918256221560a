"""A v1 round trip with curl against the real local server (reference 11): POST with x-image-meta-* headers
and a body, HEAD shows the headers (no location), GET returns the bytes, the image is the same at /v2."""
from __future__ import annotations

import hashlib
import http.client
import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest

from infra.local.run import LocalService

TOKEN = "admin:demo:admin"
DATA = bytes(range(256)) * 40


def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["curl", "-sS", "-H", f"X-Auth-Token: {TOKEN}", *args], capture_output=True, timeout=60, check=True)


def headers_of(raw: bytes) -> tuple[int, dict[str, str]]:
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    pairs = [line.split(":", 1) for line in lines[1:] if ":" in line]
    return status, {k.strip().lower(): v.strip() for k, v in pairs}


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_v1_round_trip_with_curl(service: LocalService, tmp_path: Path) -> None:
    source = tmp_path / "disk.raw"
    source.write_bytes(DATA)
    created = curl("-X", "POST", f"{service.url}/v1/images",
                   "-H", "x-image-meta-name: curl image", "-H", "x-image-meta-disk_format: raw",
                   "-H", "x-image-meta-container_format: bare", "-H", "x-image-meta-property-os_distro: cirros",
                   "-H", "Content-Type: application/octet-stream", "--data-binary", f"@{source}",
                   "-D", str(tmp_path / "created.headers"))
    status, headers = headers_of((tmp_path / "created.headers").read_bytes())
    image = json.loads(created.stdout)["image"]
    checksum = hashlib.md5(DATA).hexdigest()
    assert status == 201, created.stdout
    assert headers["location"] == f"/v1/images/{image['id']}"
    assert headers["etag"] == checksum
    assert (image["status"], image["size"], image["checksum"]) == ("active", len(DATA), checksum)

    head = curl("-I", f"{service.url}/v1/images/{image['id']}")
    status, headers = headers_of(head.stdout)
    assert status == 200
    assert headers["x-image-meta-name"] == "curl image"
    assert headers["x-image-meta-status"] == "active"
    assert headers["x-image-meta-size"] == str(len(DATA))
    assert headers["x-image-meta-checksum"] == checksum
    assert headers["x-image-meta-property-os_distro"] == "cirros"
    assert not [k for k in headers if "location" in k]

    out = tmp_path / "out"
    got = curl("-L", "-o", str(out), "-w", "%{http_code} %{content_type}", f"{service.url}/v1/images/{image['id']}")
    assert got.stdout.decode() == "200 application/octet-stream"
    assert out.read_bytes() == DATA

    v2 = json.loads(curl(f"{service.url}/v2/images/{image['id']}").stdout)
    assert (v2["id"], v2["name"], v2["status"], v2["checksum"], v2["os_distro"]) == (
        image["id"], "curl image", "active", checksum, "cirros")


def test_head_keeps_a_keep_alive_connection_usable(service: LocalService) -> None:
    """A HEAD answer (even an error page) carries no body, so the next request on the connection reads cleanly."""
    address = urlparse(service.url)
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        for _ in range(2):
            conn.request("HEAD", "/v1/images/no-such-image", headers={"X-Auth-Token": TOKEN})
            resp = conn.getresponse()
            assert (resp.status, resp.read()) == (404, b"")
        conn.request("GET", "/v1/images", headers={"X-Auth-Token": TOKEN})
        resp = conn.getresponse()
        assert resp.status == 200
        assert "images" in json.loads(resp.read())
    finally:
        conn.close()
