"""``make run`` with a non-loopback ``HOST`` serves other machines (issue 16 item 2), and proxy mode past 4.5 MB.

A client elsewhere reaches the service by one of this machine's addresses: the 302 of a download
and a presigned upload URL must name an address it can reach (not 127.0.0.1 or 0.0.0.0), and the
emulator must listen there. Here the client is this machine using that address.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from chalicelib import wiring
from infra.local.run import LocalService, reachable_host
from tests.api.helpers import reconfigure
from tests.e2e.local_process import ADMIN, RunProcess, call
from tests.e2e.waiting import until

SIZE = 5_000_000  # past IMAGES_PROXY_MAX_BYTES (4,500,000)


def _non_loopback_address() -> str:
    candidates = {reachable_host("0.0.0.0")}
    try:
        candidates |= {str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    except OSError:
        pass
    for address in sorted(a for a in candidates if not a.startswith("127.")):
        with socket.socket() as probe:
            try:
                probe.bind((address, 0))  # an address of this machine, not just a name for it
                return address
            except OSError:
                continue
    pytest.skip("this machine has no non-loopback IPv4 address to serve on")


def _first_answer(url: str) -> http.client.HTTPResponse:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request("GET", parts.path, headers={"X-Auth-Token": ADMIN})
    return connection.getresponse()


@pytest.mark.parametrize("bind", ["address", "wildcard"])
def test_a_client_on_the_machines_address_downloads_through_the_302_and_uploads_presigned(
        tmp_path: Path, bind: str) -> None:
    address = _non_loopback_address()
    host = address if bind == "address" else "0.0.0.0"
    run = RunProcess(tmp_path / "run.log", {"LOCAL_STATE_DIR": "none"}, host=host)
    try:
        run.url = f"http://{address}:{run.port}"  # what a client elsewhere uses
        log = (tmp_path / "run.log").read_text()
        assert f"http://{address}:{run.port}" in log and "0.0.0.0" not in log, log[-2000:]
        data = os.urandom(SIZE)
        status, image = run.call("POST", "/v2/images", {"disk_format": "raw", "container_format": "bare"})
        assert status == 201 and run.call("PUT", f"/v2/images/{image['id']}/file", data=data)[0] == 204
        answer = _first_answer(f"{run.url}/v2/images/{image['id']}/file")
        location = answer.getheader("Location") or ""
        assert answer.status == 302 and urlsplit(location).hostname == address, (answer.status, location)
        digest, served_by = run.sha256(image["id"])
        assert digest == hashlib.sha256(data).hexdigest() and urlsplit(served_by).hostname == address

        status, other = run.call("POST", "/v2/images", {"disk_format": "raw", "container_format": "bare"})
        status, ticket = run.call("POST", f"/v2/images/{other['id']}/upload-url", {})
        assert status == 200 and urlsplit(ticket["url"]).hostname == address, ticket
        put = urllib.request.Request(ticket["url"], data=data[:300_000], method="PUT", headers=ticket["headers"])
        with urllib.request.urlopen(put, timeout=30) as done:
            assert done.status == 200
        shown = until(lambda: run.call("GET", f"/v2/images/{other['id']}")[1], lambda doc: doc["status"] == "active")
        assert shown["size"] == 300_000
    finally:
        run.stop()


def test_proxy_mode_past_the_limit_answers_400_and_serves_ranges(service: LocalService) -> None:
    """``IMAGES_DOWNLOAD_MODE=proxy`` past 4.5 MB: the function cannot return more (Lambda's 6 MB), locally as in AWS.

    A whole download is a clear 400 naming the way out; ranges within the limit are served (206), and
    put together they are the image.
    """
    data = os.urandom(SIZE)
    status, image = call(service.url, "POST", "/v2/images", {"disk_format": "raw", "container_format": "bare"})
    assert status == 201, image
    assert call(service.url, "PUT", f"/v2/images/{image['id']}/file", data=data)[0] == 204
    reconfigure(wiring.container(), download_mode="proxy")  # the e2e fixture serves the next test as before
    _check_proxy(service, image["id"], data)


def _check_proxy(service: LocalService, image_id: str, data: bytes) -> None:
    parts = urlsplit(service.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request("GET", f"/v2/images/{image_id}/file", headers={"X-Auth-Token": ADMIN, "Accept": "application/json"})
    whole = connection.getresponse()
    body = whole.read()
    assert whole.status == 400 and b"Range header" in body, (whole.status, body[:300])
    pieces = []
    for start in range(0, SIZE, 4_000_000):
        end = min(start + 4_000_000, SIZE) - 1
        connection.request("GET", f"/v2/images/{image_id}/file", headers={
            "X-Auth-Token": ADMIN, "Range": f"bytes={start}-{end}", "Accept": "*/*"})  # as python-glanceclient
        piece = connection.getresponse()
        assert piece.status == 206 and piece.getheader("Location") is None, (piece.status, piece.read()[:400])
        pieces.append(piece.read())
    assert hashlib.sha256(b"".join(pieces)).digest() == hashlib.sha256(data).digest()
