"""Keystone look-ups (issue 16 item 4): 403 in dev mode (tests/e2e/test_openstackclient.py), 404 in cloud mode."""
from __future__ import annotations

import urllib.error
import urllib.request
from typing import Iterator

import pytest

from chalicelib import wiring


@pytest.fixture
def served(fake: wiring.Container) -> Iterator[str]:
    """The app over ``fake`` behind the WSGI front make run serves through (API Gateway's greedy matching)."""
    from app import app
    from chalicelib.front.server import FrontServer
    from chalicelib.front.wsgi import Front

    # Cloud mode's tokens as the authorizer would map them (no JWKS offline): "user:project:roles".
    def authorize(token: str) -> dict[str, str]:
        user, project, roles = token.split(":")
        return {"user_id": user, "project_id": project, "roles": roles}

    # As front.serve, but stop() returns within 10 ms: cheroot's serve loop wakes every expiration_interval
    # (0.5 s by default) to see it should stop, half a second per test here.
    server = FrontServer(Front(app, fake.settings.front, fake.settings.identity, authorize), "127.0.0.1", 0, 2)
    server.server.expiration_interval = 0.01
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def _status(url: str) -> int:
    request = urllib.request.Request(url, headers={"X-Auth-Token": "u:p:admin", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.settings(auth_mode="cloud")
@pytest.mark.parametrize("path,code", [("/tenants/p1", 404), ("/projects?name=p1", 404),
                                       # an unknown version (v3): Glance's version negotiation answers 300
                                       ("/v3/projects/p1", 300), ("/v3/domains/default", 300)])
def test_cloud_mode_serves_no_identity_lookups(served: str, path: str, code: int) -> None:
    assert _status(served + path) == code


@pytest.mark.parametrize("path", ["/tenants/p1", "/v3/projects?name=p1"])
def test_dev_mode_answers_them_403(served: str, path: str) -> None:
    assert _status(served + path) == 403
