"""Issue 18 item 12: after SIGTERM ``make run`` exits within 5 s, requests in flight or not; an upload in
flight is aborted as a cut-off body is (issue 15: image back to ``queued``, nothing stored)."""
from __future__ import annotations

import re
import signal
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import requests

from infra.local.run import EMULATOR_CREDENTIALS, LocalService
from tests.e2e.local_process import RunProcess
from tests.e2e.test_front_uploads import DATA, SIZE, assert_nothing_kept, create_v2, head, status_of, usage

TOKEN = "admin:demo:admin"


def slow_upload(url: str, image_id: str, stop: threading.Event) -> None:
    """A chunked upload that keeps sending 64 KiB pieces until ``stop`` (or the server cuts it)."""
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
            sock.sendall(head("PUT", f"/v2/images/{image_id}/file", {"Transfer-Encoding": "chunked"}))
            offset = 0
            while not stop.is_set():
                piece = DATA[offset % SIZE : offset % SIZE + 65536]
                sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
                offset += len(piece)
                time.sleep(0.01)
    except OSError:
        pass  # the server went away: what this test is about


def test_sigterm_stops_make_run_within_5_s_under_load(tmp_path: Path) -> None:
    # Its state (kept, as make run keeps it, and snapshotted at the stop) in a directory of its own, not .run/.
    run = RunProcess(tmp_path / "run.log", {"LOCAL_STATE_DIR": str(tmp_path / "state")})
    url = run.url
    headers = {"X-Auth-Token": TOKEN}
    ids = [requests.post(f"{url}/v2/images", headers=headers, json={"name": f"load{n}"}, timeout=30).json()["id"]
           for n in range(2)]
    stop = threading.Event()

    def lister() -> None:
        while not stop.is_set():
            try:
                requests.get(f"{url}/v2/images", headers=headers, timeout=10)
            except requests.RequestException:
                return

    load = [threading.Thread(target=slow_upload, args=(url, i, stop), daemon=True) for i in ids]
    load += [threading.Thread(target=lister, daemon=True) for _ in range(4)]
    for thread in load:
        thread.start()
    time.sleep(1.5)
    started = time.monotonic()
    try:
        code = run.stop(signal.SIGTERM, timeout=15)
    finally:
        stop.set()
    elapsed = time.monotonic() - started
    output = run.log.read_text().splitlines()
    assert code == 0 and elapsed < 5, (code, elapsed, output)
    assert any("Stopping..." in line for line in output) and any(line.startswith("Stopped") for line in output)
    # Requests were answered until the signal: one access line each, with a request id.
    assert any(re.search(r"GET /v2/images 200 [\d.]+ms req-", line) for line in output), output[:5]


def test_an_upload_in_flight_when_the_front_stops_is_aborted(service: LocalService) -> None:
    image_id = create_v2(service)
    before = usage(service)
    second = LocalService(port=0, endpoint_url=service.endpoint_url,
                          env={**service.settings.to_env(), **EMULATOR_CREDENTIALS}).start()
    stop = threading.Event()
    uploader = threading.Thread(target=slow_upload, args=(second.url, image_id, stop), daemon=True)
    uploader.start()
    stopped = False
    try:
        assert status_of(service, image_id, "saving") == "saving"
        started = time.monotonic()
        second.stop()
        stopped = True
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        if not stopped:  # a failed check above: no second front left serving the shared emulator
            second.stop()
        uploader.join(timeout=10)
    assert elapsed < 5, elapsed
    assert_nothing_kept(service, image_id, "queued", before)
