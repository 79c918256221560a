"""Keystone look-ups (issue 16 item 4): 403 in dev mode (tests/e2e/test_openstackclient.py), 404 in cloud mode."""
from __future__ import annotations

import threading
import urllib.error
import urllib.request
from typing import Iterator

import pytest

from chalicelib import wiring


@pytest.fixture
def served(fake: wiring.Container) -> Iterator[str]:
    """The app over ``fake`` behind the local HTTP front (API Gateway's greedy matching)."""
    from app import app
    from infra.local.server import make_server

    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server.server_address[1]}"
    finally:
        server.server.shutdown()
        server.server.server_close()


def _status(url: str) -> int:
    request = urllib.request.Request(url, headers={"X-Auth-Token": "u:p:admin", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.settings(auth_mode="cloud")
@pytest.mark.parametrize("path", ["/tenants/p1", "/v3/projects/p1", "/projects?name=p1", "/v3/domains/default"])
def test_cloud_mode_serves_no_identity_lookups(served: str, path: str) -> None:
    assert _status(served + path) == 404


@pytest.mark.parametrize("path", ["/tenants/p1", "/v3/projects?name=p1"])
def test_dev_mode_answers_them_403(served: str, path: str) -> None:
    assert _status(served + path) == 403
