"""python-openstackclient, unmodified, sharing an image with ``--os-auth-type admin_token`` (issue 16 item 4).

``image add project``, ``image remove project`` and ``image set --project P --accept`` look the
project up in Keystone first; with ``admin_token`` every service is the image endpoint, which in
dev mode answers those look-ups 403, after which the client uses the id as given.
"""
from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from infra.local.run import LocalService

OPENSTACK = str(Path(sys.executable).parent / "openstack")


def openstack(service: LocalService, token: str, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """python-openstackclient, unmodified, with the admin_token plugin; stdin a terminal, as at a shell (with a
    pipe or /dev/null ``image create`` uploads it as image data; closed, it fails)."""
    argv = [OPENSTACK, "--os-auth-type", "admin_token", "--os-endpoint", service.url, "--os-token", token, *args]
    controller, terminal = pty.openpty()
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=terminal,
                              env={"HOME": str(home), "PATH": "/usr/bin:/bin"})
    finally:
        os.close(controller)
        os.close(terminal)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def members(service: LocalService, image_id: str) -> list[dict[str, str]]:
    request = urllib.request.Request(f"{service.url}/v2/images/{image_id}/members",
                                     headers={"X-Auth-Token": "admin:demo:admin"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return list(json.load(answer)["members"])


def test_add_accept_remove_project_with_admin_token(service: LocalService, tmp_path: Path) -> None:
    owner, consumer = "admin:osc-owner:admin", "u2:osc-consumer:member"
    image_id = ok(openstack(service, owner, "image", "create", "--disk-format", "raw", "--container-format", "bare",
                            "--shared", "osc-shared", "-f", "value", "-c", "id", home=tmp_path)).strip()
    added = json.loads(ok(openstack(service, owner, "image", "add", "project", image_id, "osc-consumer", "-f", "json",
                                    home=tmp_path)))
    assert (added["member_id"], added["status"]) == ("osc-consumer", "pending")
    ok(openstack(service, consumer, "image", "set", "--project", "osc-consumer", "--accept", image_id, home=tmp_path))
    assert [(m["member_id"], m["status"]) for m in members(service, image_id)] == [("osc-consumer", "accepted")]
    shared = json.loads(ok(openstack(service, consumer, "image", "list", "--shared", "-f", "json", home=tmp_path)))
    assert image_id in [i["ID"] for i in shared]
    ok(openstack(service, owner, "image", "remove", "project", image_id, "osc-consumer", home=tmp_path))
    assert members(service, image_id) == []


def _get(service: LocalService, path: str, token: str | None) -> tuple[int, dict[str, str]]:
    headers = {"Accept": "application/json", **({"X-Auth-Token": token} if token else {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(service.url + path, headers=headers), timeout=10) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.parametrize("path", ["/tenants/p1", "/tenants?name=p1", "/v3/projects/p1", "/projects?name=p1",
                                  "/v3/domains/default", "/v2.0/tenants/p1"])
def test_identity_lookups_are_403_in_dev_mode_and_need_an_identity(service: LocalService, path: str) -> None:
    status, body = _get(service, path, "u:p:member")
    assert status == 403 and body["code"] == "403 Forbidden" and "used as given" in body["message"]
    assert _get(service, path, None)[0] == 401


@pytest.mark.parametrize("path,code", [("/tenants/p1/users", 404),
                                       # not a look-up, under an unknown version: Glance's 300 Multiple Choices
                                       ("/v3/projects/p1/tags/x", 300), ("/v3/users/u1", 300)])
def test_other_identity_paths_are_not_served(service: LocalService, path: str, code: int) -> None:
    assert _get(service, path, "u:p:member")[0] == code
