"""The WSGI front called as a WSGI server would (no sockets), over the fake container.

Mode ``data`` (the data plane's container): only the streamed upload routes and ``/healthcheck``,
authenticated in cloud mode by the TOKEN authorizer's own validation with the same identity
context; any other path a Glance 404. Mode ``all``: every route as API Gateway would, with the
front's own answers (unknown methods, oversize bodies) in Glance's format.
"""
from __future__ import annotations

import io
import json
from typing import Any, Iterator

import pytest

from chalicelib import wiring
from chalicelib.adapters.token_validators import Identity, InvalidToken
from chalicelib.api.authorizer import identity_context
from chalicelib.config import FrontSettings, IdentitySettings
from chalicelib.front import make_application
from chalicelib.front.wsgi import MAX_EVENT_BODY, Front
from tests.webserver import free_port

OCTETS = "application/octet-stream"


class Tokens:
    """A validator: known tokens -> identities (what JWT/Keystone validation yields)."""

    known = {"good": Identity("alice", "p1", frozenset({"member"}))}

    def validate(self, token: str) -> tuple[Identity, float]:
        if token not in self.known:
            raise InvalidToken("unknown")
        return self.known[token], 2e9


def call(front: Any, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"",
         declared: int | None = None, chunked: bool = False) -> tuple[int, dict[str, str], bytes]:
    path, _, query = path.partition("?")
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
                               "REQUEST_URI": path + (f"?{query}" if query else ""), "wsgi.input": io.BytesIO(body)}
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    if chunked:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    elif body or declared is not None:
        environ["CONTENT_LENGTH"] = str(len(body) if declared is None else declared)
    seen: dict[str, Any] = {}

    def start_response(status: str, out: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = int(status[:3]), dict(out)

    payload = b"".join(front(environ, start_response))
    return seen["status"], seen["headers"], payload


def glance_json(status: int, body: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(body)
    assert set(doc) == {"message", "code", "title"} and doc["code"].startswith(f"{status} "), doc
    return doc


@pytest.fixture
def app() -> Any:
    from app import app as chalice_app

    return chalice_app


@pytest.fixture
def everything(app: Any, fake: wiring.Container) -> Front:
    return Front(app, FrontSettings(), IdentitySettings(auth_mode="dev"))


def create(front: Any, headers: dict[str, str]) -> str:
    status, _, body = call(front, "POST", "/v2/images", {**headers, "Content-Type": "application/json"},
                           json.dumps({"name": "x", "disk_format": "raw", "container_format": "bare"}).encode())
    assert status == 201, body
    return str(json.loads(body)["id"])


@pytest.mark.settings(auth_mode="cloud")
def test_the_data_plane_serves_uploads_with_the_authorizers_identity_and_nothing_else(app: Any, fake: wiring.Container) -> None:
    authorize = lambda token: identity_context(token, Tokens())  # noqa: E731 - the authorizer's own validation
    plane = Front(app, FrontSettings(front_mode="data"), IdentitySettings(auth_mode="cloud"), authorize)
    api = Front(app, FrontSettings(), IdentitySettings(auth_mode="cloud"), authorize)
    image_id = create(api, {"X-Auth-Token": "good"})

    status, headers, body = call(plane, "PUT", f"/v2/images/{image_id}/file",
                                 {"X-Auth-Token": "good", "Content-Type": OCTETS}, b"d" * 3000)
    assert status == 204 and body == b"" and "Content-Type" not in headers
    image = fake.images.show(fake_ctx("p1"), image_id)
    assert image.status == "active" and image.size == 3000 and image.owner == "p1"

    for token in ("", "forged"):
        status, _, body = call(plane, "PUT", f"/v2/images/{image_id}/file",
                               {"X-Auth-Token": token, "Content-Type": OCTETS, "Accept": "application/json"}, b"x")
        assert status == 401 and glance_json(401, body)
    status, _, body = call(plane, "GET", f"/v2/images/{image_id}", {"X-Auth-Token": "good", "Accept": "application/json"})
    assert status == 404 and glance_json(404, body)
    status, headers, body = call(plane, "GET", "/healthcheck")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    # A version alias streams here as the route itself; a version not served is the functions' 300, not a 404
    status, _, _ = call(plane, "PUT", f"/v2.1/images/{image_id}/file",
                        {"X-Auth-Token": "good", "Content-Type": OCTETS}, b"d" * 10)
    assert status == 409  # the image is active: the upload route answered, not a 404
    for front in (plane, api):
        status, _, body = call(front, "PUT", f"/v2.14/images/{image_id}/file",
                               {"X-Auth-Token": "good", "Content-Type": OCTETS, "Accept": "application/json"}, b"d")
        assert status == 300 and "versions" in json.loads(body), body


def fake_ctx(project: str) -> Any:
    from chalicelib.domain.context import RequestContext

    return RequestContext("alice", project, frozenset({"admin"}), "req-test")


def test_a_body_shorter_than_its_length_is_400_and_requeues(everything: Front, fake: wiring.Container) -> None:
    headers = {"X-Auth-Token": "u:p1:admin", "Accept": "application/json"}
    image_id = create(everything, headers)
    status, _, body = call(everything, "PUT", f"/v2/images/{image_id}/file", {**headers, "Content-Type": OCTETS},
                           b"d" * 1000, declared=5000)
    assert status == 400 and "ended after 1000 of 5000 bytes" in glance_json(400, body)["message"]
    assert fake.images.show(fake_ctx("p1"), image_id).status == "queued"


def test_unknown_methods_and_oversize_bodies_are_answered_in_glances_format(everything: Front) -> None:
    for method in ("TRACE", "PROPFIND", "BREW"):
        status, _, body = call(everything, method, "/v2/images", {"Accept": "application/json"})
        assert status == 501 and glance_json(501, body)["title"] == "Not Implemented"
    status, headers, body = call(everything, "PROPFIND", "/v2/images")
    assert status == 501 and headers["Content-Type"].startswith("text/html") and b"<h1>501 Not Implemented</h1>" in body
    big = b"{" + b" " * MAX_EVENT_BODY + b"}"
    status, _, body = call(everything, "POST", "/v2/images", {"X-Auth-Token": "u:p1:admin", "Accept": "application/json",
                                                               "Content-Type": "application/json"}, big)
    assert status == 413 and glance_json(413, body)


def test_head_keeps_gets_length_without_a_body(everything: Front) -> None:
    headers = {"X-Auth-Token": "u:p1:admin"}
    image_id = create(everything, headers)
    call(everything, "PUT", f"/v1/images/{image_id}", {**headers, "Content-Type": OCTETS}, b"v" * 10)
    status, out, body = call(everything, "HEAD", f"/v1/images/{image_id}", headers)
    assert status == 200 and body == b"" and out["x-image-meta-size"] == "10"


@pytest.fixture
def data_application(app: Any, fake: wiring.Container) -> Iterator[Any]:
    settings = fake.settings.with_values(front_mode="data")
    yield make_application(app, settings)


def test_make_application_builds_the_configured_mode(data_application: Any) -> None:
    status, _, body = call(data_application, "GET", "/v2/images", {"Accept": "application/json"})
    assert status == 404 and glance_json(404, body)


def test_importing_the_front_loads_no_server_sdk_or_app() -> None:
    import subprocess
    import sys

    code = ("import sys, chalicelib.front; "
            "print(sorted(m for m in ('boto3', 'botocore', 'cheroot', 'app', 'chalice.local') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PATH": ""})
    assert done.stdout.strip() == "[]"


def test_the_container_command_serves_the_data_plane_until_sigterm(tmp_path: Any) -> None:
    """``python -m chalicelib.front`` as the data plane's container runs it: mode, port from the environment,
    ``GET /healthcheck`` answered (no AWS call needed), any other path a Glance 404, SIGTERM stops it."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import requests

    port = free_port()
    from tests.conftest import TEST_ENV, test_settings

    env = {**TEST_ENV, **test_settings().to_env(), "PATH": os.environ.get("PATH", ""), "IMAGES_FRONT_MODE": "data",
           "IMAGES_FRONT_HOST": "127.0.0.1", "IMAGES_FRONT_PORT": str(port), "IMAGES_FRONT_THREADS": "2"}
    env.pop("AWS_ENDPOINT_URL", None)
    root = Path(__file__).resolve().parents[3]
    proc = subprocess.Popen([sys.executable, "-m", "chalicelib.front"], cwd=root, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/healthcheck", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and proc.poll() is None, "the front did not start"
                time.sleep(0.1)
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        other = requests.get(f"http://127.0.0.1:{port}/v2/images", headers={"Accept": "application/json"}, timeout=5)
        assert other.status_code == 404 and glance_json(404, other.content)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    output = proc.stdout.read() if proc.stdout else ""
    assert "Glance front (data)" in output and "GET /healthcheck 200" in output


def test_the_module_level_application_builds_itself_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import front
    from tests.conftest import test_settings

    for key, value in {**test_settings().to_env(), "IMAGES_FRONT_MODE": "data"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(front, "_built", {})
    status, _, body = call(front.application, "GET", "/healthcheck")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    status, _, body = call(front.application, "GET", "/v2/images", {"Accept": "application/json"})
    assert status == 404 and glance_json(404, body)
