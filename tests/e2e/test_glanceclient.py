"""python-glanceclient's CLI, unmodified, against the local service (the issue's must-show)."""
from __future__ import annotations

import atexit
import json
import os
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any


from infra.local.run import LocalService
from tests.e2e.warm_cli import WarmScript

GLANCE = str(Path(sys.executable).parent / "glance")


# A new process per invocation when E2E_COLD_CLI=1; else a fork of an interpreter with glanceclient imported.
COLD = os.environ.get("E2E_COLD_CLI") == "1"
WARM = WarmScript(GLANCE, ["glanceclient.shell", "glanceclient.v2.client", "glanceclient.v2.shell"])
atexit.register(WARM.stop)


def glance(service: LocalService, token: str, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    # stdin closed (<&-): with a pipe or /dev/null glanceclient would upload it as image data.
    argv = ["--os-image-url", service.url, "--os-auth-token", token, *args]
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    if not COLD:
        return WARM.run(argv, env=env, timeout=60)
    cmd = " ".join(shlex.quote(a) for a in [GLANCE, *argv])
    return subprocess.run(["bash", "-c", cmd + " <&-"], capture_output=True, text=True, timeout=60, env=env)


def field(output: str, name: str) -> str:
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 2 and cells[1] == name:
            return cells[2]
    raise AssertionError(f"{name} not in output:\n{output}")


def test_glance_cli_image_lifecycle(service: LocalService, tmp_path: Path) -> None:
    admin = "admin:demo:admin"
    created = glance(service, admin, "image-create", "--name", "x", "--disk-format", "qcow2", "--container-format", "bare", home=tmp_path)
    assert created.returncode == 0, created.stderr
    image_id = field(created.stdout, "id")
    assert field(created.stdout, "status") == "queued"

    listed = glance(service, admin, "image-list", home=tmp_path)
    assert image_id in listed.stdout

    updated = glance(service, admin, "image-update", "--property", "k=v", image_id, home=tmp_path)
    assert updated.returncode == 0, updated.stderr
    assert field(updated.stdout, "k") == "v"

    tagged = glance(service, admin, "image-tag-update", image_id, "web server", home=tmp_path)
    assert tagged.returncode == 0, tagged.stderr
    shown = glance(service, admin, "image-show", image_id, home=tmp_path)
    assert json.loads(field(shown.stdout, "tags")) == ["web server"]

    hidden = glance(service, "u2:other:member", "image-show", image_id, home=tmp_path)
    assert hidden.returncode == 1 and "404 Not Found" in hidden.stderr
    assert image_id not in glance(service, "u2:other:member", "image-list", home=tmp_path).stdout

    deleted = glance(service, admin, "image-delete", image_id, home=tmp_path)
    assert deleted.returncode == 0, deleted.stderr
    gone = glance(service, admin, "image-show", image_id, home=tmp_path)
    assert gone.returncode == 1 and "404" in gone.stderr


def test_private_image_hidden_from_second_project(service: LocalService, tmp_path: Path) -> None:
    made = glance(service, "u1:proj1:member", "image-create", "--name", "p", "--visibility", "private", home=tmp_path)
    image_id = field(made.stdout, "id")
    other = glance(service, "u2:other:member", "image-show", image_id, home=tmp_path)
    assert other.returncode == 1 and "404" in other.stderr


def _http(service: LocalService, method: str, path: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> Any:
    req = urllib.request.Request(service.url + path, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_unknown_path_is_glance_404_and_versions_at_root(service: LocalService) -> None:
    status, headers, body = _http(service, "GET", "/v2/nothing/here", {"Accept": "application/json", "X-Auth-Token": "a:b:admin"})
    assert status == 404 and json.loads(body)["code"] == "404 Not Found"
    assert headers["x-openstack-request-id"].startswith("req-")
    status, _, body = _http(service, "GET", "/")
    assert status == 300 and json.loads(body)["versions"][0]["links"][0]["href"] == service.url + "/v2/"


def test_chunked_create_body_is_read(service: LocalService) -> None:
    import http.client

    host, port = service.url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("POST", "/v2/images")
    for key, value in {"X-Auth-Token": "a:p:admin", "Transfer-Encoding": "chunked", "Content-Type": "application/json"}.items():
        conn.putheader(key, value)
    conn.endheaders()
    payload = json.dumps({"name": "chunky"}).encode()
    for piece in (payload[:5], payload[5:]):
        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    conn.send(b"0\r\n\r\n")
    resp = conn.getresponse()
    assert resp.status == 201 and json.loads(resp.read())["name"] == "chunky"
