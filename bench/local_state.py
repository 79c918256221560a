"""What keeping ``make run``'s data on disk costs (issue 16): restore time, and request latency with and without.

Each phase runs the local service (infra/local/run.LocalService) in a child process of its own, as
``make run`` does, since moto's state is process-wide:

1. ``fill``: N images (default 1,000) created and uploaded (4 KiB each) by 4 threads, then the child
   ends with ``os._exit`` (a kill -9: no compaction, everything is in the journal);
2. ``restore`` twice on that directory: first from the journal (after the "kill"), then, after that
   run's clean stop compacted it, from the snapshot; each prints the restore's own time and the
   child's time to serving;
3. ``latency`` with ``LOCAL_STATE_DIR=none`` and with a state directory, alternately (5 rounds each):
   100 cycles of create, upload (64 KiB), show, PATCH, download, delete; the mean and p95 per request,
   and the time the service itself spent in persistence (journal lines, object records, object file
   I/O), which the machine's load does not blur as it does an A/B of latencies.

    python bench/local_state.py [--images 1000] [--cycles 100] [--rounds 5] [--skip-restore]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TOKEN = {"X-Auth-Token": "admin:bench:admin"}
PATCH_TYPE = "application/openstack-images-v2.1-json-patch"


def _start(state_dir: str | None) -> Any:
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    import logging

    logging.disable(logging.WARNING)
    from infra.local.run import LocalService

    return LocalService(port=0, state_dir=Path(state_dir) if state_dir else None).start()


def _create(session: requests.Session, url: str, size: int) -> str:
    image = session.post(f"{url}/v2/images", json={"disk_format": "raw", "container_format": "bare"}, headers=TOKEN)
    image_id = str(image.json()["id"])
    put = session.put(f"{url}/v2/images/{image_id}/file", data=os.urandom(size),
                      headers={**TOKEN, "Content-Type": "application/octet-stream"})
    assert put.status_code == 204, put.text
    return image_id


def child_fill(state_dir: str, images: int) -> dict[str, Any]:
    service = _start(state_dir)
    started = time.monotonic()
    per_thread = [images // 4 + (1 if i < images % 4 else 0) for i in range(4)]

    def work(count: int) -> None:
        with requests.Session() as session:
            for _ in range(count):
                _create(session, service.url, 4096)

    threads = [threading.Thread(target=work, args=(n,)) for n in per_thread]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"images": images, "fill_s": round(time.monotonic() - started, 1)}


def child_restore(state_dir: str) -> dict[str, Any]:
    started = time.monotonic()
    service = _start(state_dir)
    serving = time.monotonic() - started
    with requests.Session() as session:
        listed: list[str] = []
        while True:
            marker = f"&marker={listed[-1]}" if listed else ""
            page = session.get(f"{service.url}/v2/images?limit=1000{marker}", headers=TOKEN).json()
            listed += [i["id"] for i in page["images"]]
            if "next" not in page or not page["images"]:
                break
        first = listed[0]
        data = session.get(f"{service.url}/v2/images/{first}/file", headers=TOKEN)
    service.stop()
    return {**service.restored, "serving_s": round(serving, 1), "listed": len(listed), "bytes_of_one": len(data.content)}


def _time_persistence() -> list[float]:
    """Wrap the persistence hooks (journal lines, object records, object file I/O); their total time lands in [0]."""
    from infra.local import state

    spent = [0.0]

    def timed(owner: Any, name: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - started

        setattr(owner, name, wrapper)

    for owner, name in ((state.LocalState, "dynamo_applied"), (state.ObjectStore, "sync"), (state.ObjectFile, "read"),
                        (state.ObjectFile, "write"), (state.ObjectFile, "truncate"), (state.ObjectFile, "__init__")):
        timed(owner, name)
    return spent


def child_latency(state_dir: str | None, cycles: int) -> dict[str, Any]:
    spent = _time_persistence() if state_dir else [0.0]
    service = _start(state_dir)
    times: list[float] = []
    with requests.Session() as session:
        url = service.url

        def timed(method: str, path: str, **kw: Any) -> requests.Response:
            started = time.perf_counter()
            answer = session.request(method, url + path, **kw)
            times.append(time.perf_counter() - started)
            assert answer.status_code < 400, (method, path, answer.status_code, answer.text[:200])
            return answer

        for _ in range(cycles):
            image_id = timed("POST", "/v2/images", json={"disk_format": "raw", "container_format": "bare"},
                             headers=TOKEN).json()["id"]
            timed("PUT", f"/v2/images/{image_id}/file", data=os.urandom(65536),
                  headers={**TOKEN, "Content-Type": "application/octet-stream"})
            timed("GET", f"/v2/images/{image_id}", headers=TOKEN)
            timed("PATCH", f"/v2/images/{image_id}", data=json.dumps([{"op": "add", "path": "/k", "value": "v"}]),
                  headers={**TOKEN, "Content-Type": PATCH_TYPE})
            timed("GET", f"/v2/images/{image_id}/file", headers=TOKEN)  # the 302, then S3
            timed("DELETE", f"/v2/images/{image_id}", headers=TOKEN)
    service.stop()
    times.sort()
    return {"requests": len(times), "mean_ms": statistics.fmean(times) * 1000,
            "p95_ms": times[int(len(times) * 0.95)] * 1000, "persistence_ms": spent[0] * 1000 / len(times)}


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "child", *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=1800)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"child {args} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return dict(json.loads(lines[-1][len("RESULT "):]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-restore", action="store_true")
    args = parser.parse_args()
    if not args.skip_restore:
        with tempfile.TemporaryDirectory(prefix="glance-state-bench-") as state:
            fill = _child("fill", state, str(args.images))
            print(f"filled {fill['images']} images with 4 KiB each in {fill['fill_s']} s, then os._exit (as kill -9)")
            for what in ("journal (after the kill)", "snapshot (after a clean stop)"):
                r = _child("restore", state)
                print(f"restore from the {what}: {r['ms']} ms ({r['items']} DynamoDB items put back, "
                      f"{r['objects']} objects, {r['left_out']} left out); serving after {r['serving_s']} s; "
                      f"{r['listed']} images listed, one download {r['bytes_of_one']} bytes")
    rounds: dict[str, list[dict[str, Any]]] = {"in memory": [], "state directory": []}
    for _ in range(args.rounds):  # alternated, so the machine's load falls on both alike
        rounds["in memory"].append(_child("latency", "none", str(args.cycles)))
        with tempfile.TemporaryDirectory(prefix="glance-state-bench-") as state:
            rounds["state directory"].append(_child("latency", state, str(args.cycles)))
    median = {mode: statistics.median(r["mean_ms"] for r in results) for mode, results in rounds.items()}
    for mode, results in rounds.items():
        means = ", ".join(f"{r['mean_ms']:.1f}" for r in results)
        p95 = statistics.median(r["p95_ms"] for r in results)
        print(f"latency, {mode}: median of the rounds' means {median[mode]:.1f} ms (rounds: {means}), "
              f"p95 {p95:.1f} ms, {results[0]['requests']} requests a round")
    own = statistics.median(r["persistence_ms"] for r in rounds["state directory"])
    print(f"A/B: persistence {100 * (median['state directory'] / median['in memory'] - 1):+.1f}% of the mean "
          f"(noisy on a shared machine); measured inside the service, persistence's own work (journal lines, "
          f"object records and file I/O) is {own:.2f} ms a request = {100 * own / median['in memory']:.1f}% "
          "(target: at most 10%)")

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        kind, rest = sys.argv[2], sys.argv[3:]
        if kind == "fill":
            result = child_fill(rest[0], int(rest[1]))
        elif kind == "restore":
            result = child_restore(rest[0])
        else:
            result = child_latency(None if rest[0] == "none" else rest[0], int(rest[1]))
        print("RESULT " + json.dumps(result), flush=True)
        os._exit(0)  # fill: as a kill -9 (no compaction); the others stopped their service already
    main()
