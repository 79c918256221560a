"""``/vN.M`` paths as Glance's version negotiation serves them (glance/api/middleware/version_negotiation.py):
each case through API Gateway's event (the greedy ``/{proxy+}`` resource) and through the local WSGI front."""
from __future__ import annotations

import base64
import json
from typing import Any, Callable

import pytest

from chalicelib.config import FrontSettings, IdentitySettings
from chalicelib.front.wsgi import Front
from tests.api.helpers import ALICE, GATEWAY_HOST, gateway_event
from tests.unit.front.test_front_wsgi import call

Answer = tuple[int, dict[str, str], bytes]
HOST = GATEWAY_HOST
# Served as /v2: v2 and every version of the versions document (multi-store on, no cache API).
V2_ALIASES = ["v2.0", "v2.1", "v2.7", "v2.8", "v2.9", "v2.10", "v2.13", "v2.15", "v2.17"]
# Glance answers these 300: the cache API's versions (2.14, 2.16, 2.18), versions it never had, other spellings.
NOT_SERVED = ["v2.14", "v2.16", "v2.18", "v2.19", "v2.01", "v1.2", "v3.0", "v0"]


def gateway(method: str, path: str, headers: dict[str, str], data: bytes = b"") -> Answer:
    """The app as API Gateway invokes it for a path only ``/{proxy+}`` matches."""
    from app import app

    out = app(gateway_event(path, method=method, headers=headers, data=data), None)
    raw = out.get("body") or ""
    payload = base64.b64decode(raw) if out.get("isBase64Encoded") else raw.encode()
    return out["statusCode"], dict(out.get("headers") or {}), payload


def front(method: str, path: str, headers: dict[str, str], data: bytes = b"") -> Answer:
    """The same request through the local server's WSGI front (``make run``)."""
    from app import app

    return call(Front(app, FrontSettings(), IdentitySettings(auth_mode="dev")), method, path,
                {**headers, "Host": HOST}, data)


@pytest.fixture(params=[gateway, front], ids=["gateway", "front"])
def ask(request: pytest.FixtureRequest, fake: Any) -> Callable[..., Answer]:
    return request.param  # type: ignore[no-any-return]  # pytest's param is Any


def _create(ask: Callable[..., Answer], prefix: str) -> dict[str, Any]:
    status, headers, payload = ask("POST", f"/{prefix}/images", ALICE,
                                   json.dumps({"name": "n", "disk_format": "raw", "container_format": "bare"}).encode())
    assert status == 201, payload
    doc: dict[str, Any] = json.loads(payload)
    assert headers["Location"] == f"/v2/images/{doc['id']}"  # served as v2: v2's links
    return doc


@pytest.mark.parametrize("alias", V2_ALIASES)
def test_a_listed_version_is_served_as_v2(ask: Callable[..., Answer], alias: str) -> None:
    image = _create(ask, alias)
    status, _, payload = ask("GET", f"/{alias}/images/{image['id']}", ALICE)
    assert status == 200 and json.loads(payload)["id"] == image["id"]
    status, _, payload = ask("GET", f"/{alias}/images?limit=5", ALICE)
    listed = json.loads(payload)
    assert status == 200 and [im["id"] for im in listed["images"]] == [image["id"]]
    assert listed["first"] == "/v2/images?limit=5"


@pytest.mark.parametrize("version", NOT_SERVED)
def test_other_versions_answer_300_with_the_versions_document(ask: Callable[..., Answer], version: str) -> None:
    status, headers, payload = ask("GET", f"/{version}/images", ALICE)
    assert status == 300 and headers["Content-Type"].startswith("application/json")
    doc = json.loads(payload)
    assert "v2.17" in [v["id"] for v in doc["versions"]] and "v2.14" not in [v["id"] for v in doc["versions"]]


def test_a_bare_alias_redirects_as_bare_v2_does(ask: Callable[..., Answer]) -> None:
    status, headers, _ = ask("GET", "/v2.1", ALICE)
    assert status == 302 and headers["Location"].endswith("/v2/")


def test_legacy_v1_aliases_are_v1(ask: Callable[..., Answer]) -> None:
    # Glance with enable_v1_api took v1.0 and v1.1 as v1 (before 3dde3204d removed the v1 API).
    for alias in ("v1.0", "v1.1"):
        status, _, payload = ask("GET", f"/{alias}/images", ALICE)
        assert status == 200 and json.loads(payload) == {"images": []}


def test_unknown_paths_under_an_alias_are_v2s_404_and_identity_lookups_stay(ask: Callable[..., Answer]) -> None:
    assert ask("GET", "/v2.1/nope/x", ALICE)[0] == 404
    status, _, payload = ask("GET", "/v2.0/tenants/p1", ALICE)  # dev mode's Keystone look-up (Keystone v2.0)
    assert status == 403 and "used as given" in json.loads(payload)["message"]


def test_data_goes_through_an_alias_path(ask: Callable[..., Answer]) -> None:
    image = _create(ask, "v2.9")
    octets = {**ALICE, "Content-Type": "application/octet-stream"}
    assert ask("PUT", f"/v2.9/images/{image['id']}/file", octets, b"x" * 1000)[0] == 204
    status, _, payload = ask("GET", f"/v2.9/images/{image['id']}", ALICE)
    assert (status, json.loads(payload)["status"], json.loads(payload)["size"]) == (200, "active", 1000)
