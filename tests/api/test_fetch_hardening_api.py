"""Issue 18 over HTTP: location URLs parsers read differently, hosts no codec encodes, a HEAD that
declares more than the size cap or never finishes, overlong schema names. Each refusal is Glance's
JSON error, and the image, the project's usage and the stored objects are re-read unchanged."""
from __future__ import annotations

import json
import time
from typing import Any, Iterator

import pytest

from tests.api.helpers import ALICE, body, create, patch, stored_keys, token
from tests.webserver import ALLOWED_PORTS, FileServer, file_server

pytestmark = pytest.mark.settings(show_multiple_locations=True, allowed_hosts=frozenset({"127.0.0.1"}),
                                  allowed_ports=ALLOWED_PORTS, probe_deadline_ms=600, image_size_cap=2**40)
SERVICE = token("nova", "service-proj", "service")
V1_JSON = {"X-Auth-Token": ALICE["X-Auth-Token"], "Accept": "application/json"}
DATA = b"x" * 1000
LONG_LABEL = "a" * 300


@pytest.fixture
def web() -> Iterator[FileServer]:
    with file_server() as server:
        server.files["/ok"] = DATA
        yield server


def glance_error(resp: Any, status: int, *words: str) -> str:
    """Assert ``resp`` is Glance's JSON error with ``status``; its message (checked for ``words``)."""
    assert resp.status_code == status, resp.body
    doc = body(resp)
    assert set(doc) == {"message", "code", "title"}, doc
    assert doc["code"].startswith(f"{status} ") and doc["code"].endswith(doc["title"])
    for word in words:
        assert word in doc["message"], doc["message"]
    for codec_text in ("codec", "UnicodeError", "Errno", "Traceback"):
        assert codec_text not in doc["message"]
    return str(doc["message"])


class Snapshot:
    """The image, the owner's usage and the stored objects, to compare after a refusal."""

    def __init__(self, container: Any, image_id: str) -> None:
        self.container, self.image_id = container, image_id
        self.before = self._read()

    def _read(self) -> tuple[Any, dict[str, int], list[str]]:
        repo = self.container.ports.images
        image = repo.get(self.image_id)
        return image, repo.usage(image.owner), stored_keys(self.container)

    def unchanged(self) -> None:
        assert self._read() == self.before


def new_api(api: Any, image_id: str, url: str, headers: dict[str, str] = ALICE) -> Any:
    return api.http.post(f"/v2/images/{image_id}/locations", headers=headers, body=json.dumps({"url": url}))


def add_op(url: str) -> list[dict[str, Any]]:
    return [{"op": "add", "path": "/locations/-", "value": {"url": url, "metadata": {}}}]


def _queued(api: Any) -> str:
    return str(create(api, ALICE, disk_format="raw", container_format="bare")["id"])


# -- 7: URLs that parsers read differently ---------------------------------------------------------
AMBIGUOUS = {
    "backslash": ("http://169.254.169.254\\@127.0.0.1:{port}/ok", "backslash"),
    "two-at": ("http://a@169.254.169.254@127.0.0.1:{port}/ok", "'@'"),
    "space": ("http://127.0.0.1:{port}/o k", "character"),
    "tab-in-host": ("http://127.0.0.1\t:{port}/ok", "character"),
    "newline": ("http://127.0.0.1:{port}/ok\n", "character"),
    "short-ipv4": ("http://127.1:{port}/ok", "IPv4"),
    "hex-ipv4": ("http://0x7f000001:{port}/ok", "IPv4"),
    "percent-host": ("http://%31%32%37.0.0.1:{port}/ok", "host"),
    "long-label": ("http://" + "a" * 70 + ".example:{port}/ok", "host"),  # within the schema's 255
    "bad-idna": ("http://\u00e9" + "a" * 70 + ".example:{port}/ok", "host"),
}


@pytest.mark.parametrize("case", AMBIGUOUS, ids=list(AMBIGUOUS))
def test_an_ambiguous_url_is_refused_by_every_location_path(api: Any, container: Any, web: FileServer,
                                                           case: str) -> None:
    template, word = AMBIGUOUS[case]
    url = template.format(port=web.url.rsplit(":", 1)[1])
    image_id = _queued(api)
    snap = Snapshot(container, image_id)
    glance_error(patch(api, ALICE, image_id, add_op(url)), 400, word)
    glance_error(api.http.patch(
        f"/v2/images/{image_id}", headers={**ALICE, "Content-Type": "application/openstack-images-v2.1-json-patch"},
        body=json.dumps([{"op": "replace", "path": "/locations", "value": [{"url": url, "metadata": {}}]}])),
        400, word)
    glance_error(new_api(api, image_id, url), 400, word)
    snap.unchanged()
    assert web.requests == []  # refused before any request


def test_new_api_location_with_a_300_character_host_label_is_400(api: Any, container: Any) -> None:
    image_id = _queued(api)
    snap = Snapshot(container, image_id)
    glance_error(new_api(api, image_id, f"http://{LONG_LABEL}.example/disk.img"), 400, "host", "63")
    snap.unchanged()


def test_v1_location_with_a_300_character_host_label_is_400_and_creates_nothing(api: Any, container: Any) -> None:
    headers = {**V1_JSON, "x-image-meta-name": "x", "x-image-meta-disk_format": "raw",
               "x-image-meta-container_format": "bare",
               "x-image-meta-location": f"http://{LONG_LABEL}.example/disk.img"}
    glance_error(api.http.post("/v1/images", headers=headers, body=b""), 400, "host")
    assert container.ports.images.usage("proj-a").get("image_count", 0) == 0
    assert body(api.http.get("/v2/images", headers=ALICE))["images"] == []
    assert stored_keys(container) == []


def test_a_location_url_is_stored_normalized(api: Any, web: FileServer) -> None:
    image_id = _queued(api)
    given = web["/ok"].replace("http://", "HTTP://") + "?q=\u00e9"
    web.files["/ok?q=%C3%A9"] = DATA
    resp = patch(api, ALICE, image_id, add_op(given))
    assert resp.status_code == 200, resp.body
    assert [loc["url"] for loc in body(resp)["locations"]] == [web["/ok"] + "?q=%C3%A9"]


# -- 6: a HEAD declaring more than the size cap ------------------------------------------------------
@pytest.mark.parametrize("route", ["patch", "new-api"])
def test_a_location_declaring_more_than_the_cap_is_413_and_counts_nothing(
        api: Any, container: Any, web: FileServer, route: str) -> None:
    web.declared["/ok"] = str(2**50)  # 1 PiB, the cap is 1 TiB
    image_id = _queued(api)
    snap = Snapshot(container, image_id)
    resp = patch(api, ALICE, image_id, add_op(web["/ok"])) if route == "patch" else new_api(api, image_id, web["/ok"])
    glance_error(resp, 413, str(2**50), str(2**40))
    snap.unchanged()
    assert body(api.http.get(f"/v2/images/{image_id}", headers=ALICE))["status"] == "queued"


# -- 5: a location server that never finishes its answer ------------------------------------------------
@pytest.mark.parametrize("route", ["patch", "new-api"])
def test_a_location_that_trickles_its_headers_is_400_at_the_probe_deadline(
        api: Any, container: Any, web: FileServer, route: str) -> None:
    web.trickle_headers["/ok"] = 0.1  # a header line every 0.1 s, never the blank line
    image_id = _queued(api)
    snap = Snapshot(container, image_id)
    started = time.monotonic()
    resp = patch(api, ALICE, image_id, add_op(web["/ok"])) if route == "patch" else new_api(api, image_id, web["/ok"])
    elapsed = time.monotonic() - started
    glance_error(resp, 400, "no complete answer within 0.6 s", "IMAGES_LOCATION_PROBE_DEADLINE_MS")
    assert elapsed < 3
    time.sleep(0.3)  # nothing lands after the answer either
    snap.unchanged()


# -- 9: names no file system or codec takes ------------------------------------------------------------
@pytest.mark.parametrize("path", ["/v2/schemas/" + "x" * 5000, "/v2/schemas/metadefs/" + "x" * 5000,
                                  "/v2/schemas/nope", "/v2/schemas/metadefs/nope"])
def test_an_unknown_schema_name_is_404_whatever_its_length(api: Any, path: str) -> None:
    message = glance_error(api.http.get(path, headers=ALICE), 404, "not found")
    assert len(message) < 200


def test_known_schemas_are_still_served(api: Any) -> None:
    assert api.http.get("/v2/schemas/image", headers=ALICE).status_code == 200
    assert api.http.get("/v2/schemas/metadefs/namespace", headers=ALICE).status_code == 200


@pytest.mark.parametrize("url", ["http://" + LONG_LABEL + ".example/x.qcow2", "http://a\\@example.com/x",
                                 "http://127.1/x"])
def test_web_download_and_tasks_refuse_such_urls_at_once(api: Any, container: Any, url: str) -> None:
    image_id = _queued(api)
    snap = Snapshot(container, image_id)
    resp = api.http.post(f"/v2/images/{image_id}/import", headers=ALICE,
                         body=json.dumps({"method": {"name": "web-download", "uri": url}}))
    glance_error(resp, 400, "URL")
    admin = token("admin", "admin-proj", "admin")
    task = {"type": "import", "input": {"import_from": url, "import_from_format": "qcow2",
                                        "image_properties": {"container_format": "bare"}}}
    glance_error(api.http.post("/v2/tasks", headers=admin, body=json.dumps(task)), 400, "URL")
    snap.unchanged()
    assert container.ports.tasks is not None and body(api.http.get("/v2/tasks", headers=admin))["tasks"] == []
