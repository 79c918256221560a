"""The concurrency workload of issue 13 against the local service, with and without emulator faults.

Runs ``python -m infra.local.run`` (``make run``) in a child process on free ports, so its
resident memory can be read from /proc, then: T threads x N creates in one project, mixed with
PATCHes, 1 MiB uploads, deactivate/reactivate and deletes; then every image deleted. Prints
responses by status, the 409s and 5xx, latency, /v2/info/usage against the listing, and the
service's RSS before and after. ``--fault-rate`` starts the service with ``LOCAL_FAULT_RATE``.

    python bench/concurrency.py                   # 16 x 50, then again with 10% faults
    python bench/concurrency.py --threads 8 --creates 10 --fault-rate 0.1 --once

tests/e2e/test_concurrency.py runs a smaller version of the same workload in-process.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import requests

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
PATCH_TYPE = "application/openstack-images-v2.1-json-patch"
# Answers Glance's rules call for in this workload: an upload to an image that is no longer queued
# (another thread's upload got there first) is 409 (reference 2.3).
ALLOWED = {"upload": {409}}


@dataclass
class Call:
    op: str
    status: int
    seconds: float
    retry_after: bool = False
    detail: str = ""


@dataclass
class Report:
    """What the workload saw; ``unexpected`` are the answers no Glance rule explains."""

    calls: list[Call] = field(default_factory=list)
    create_latency_by_size: dict[int, list[float]] = field(default_factory=dict)
    usage_checks: list[tuple[str, dict[str, int], dict[str, int]]] = field(default_factory=list)
    race_409s: list[Call] = field(default_factory=list)  # 409s on an upload whose image was still queued
    stalls: list[float] = field(default_factory=list)  # /versions answers slower than a second
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)

    @property
    def by_status(self) -> Counter[int]:
        return Counter(c.status for c in self.calls)

    @property
    def busy(self) -> list[Call]:
        """503s with Retry-After: a retry budget spent on transient faults (only with faults injected)."""
        return [c for c in self.calls if c.status == 503 and c.retry_after]

    @property
    def unexpected(self) -> list[Call]:
        """Answers >= 400 that are neither Glance's rule, a counted service race, nor a spent retry budget."""
        known = {id(c) for c in self.race_409s} | {id(c) for c in self.busy}
        return [c for c in self.calls if c.status >= 400 and id(c) not in known
                and c.status not in ALLOWED.get(c.op, set())]

    @property
    def server_errors(self) -> list[Call]:
        return [c for c in self.calls if c.status >= 500]

    def usage_mismatches(self) -> list[str]:
        return [f"{when}: usage {u} != listing {lst}" for when, u, lst in self.usage_checks if u != lst]


class Client:
    """One thread's HTTP session as a project member, timing and recording each answer."""

    def __init__(self, base: str, project: str, user: str, report: Report) -> None:
        self.base, self.report = base, report
        self.http = requests.Session()
        self.headers = {"X-Auth-Token": f"{user}:{project}:member,reader", "Accept": "application/json"}

    def call(self, op: str, method: str, path: str, *, body: Any = None, data: bytes | None = None,
             content_type: str = "application/json") -> requests.Response:
        headers = dict(self.headers)
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = content_type
        started = time.perf_counter()
        resp = self.http.request(method, self.base + path, data=data, headers=headers, timeout=120)
        elapsed = time.perf_counter() - started
        call = Call(op, resp.status_code, elapsed, "Retry-After" in resp.headers,
                    resp.text[:200] if resp.status_code >= 400 else "")
        self.report.add(call)
        resp.call = call  # type: ignore[attr-defined]
        return resp


class Workload:
    """T threads x N creates in one project with mixed writes on the created images, then all deleted."""

    def __init__(self, base: str, *, threads: int, creates: int, seed: int = 13, upload_bytes: int = MIB,
                 mixed_per_create: float = 0.6) -> None:
        self.base, self.threads, self.creates = base, threads, creates
        self.project = f"conc-{uuid.uuid4().hex[:8]}"
        self.seed, self.upload = seed, os.urandom(upload_bytes)
        self.mixed = mixed_per_create
        self.report = Report()
        self.shared: list[str] = []  # images any thread may PATCH or upload to
        self.owned: dict[int, list[str]] = {t: [] for t in range(threads)}
        self.private: dict[int, list[str]] = {t: [] for t in range(threads)}  # only the owner touches these
        self.pool_lock = threading.Lock()
        self.created = 0

    def run(self) -> Report:
        stop = threading.Event()
        watcher = threading.Thread(target=self._watch_versions, args=(stop,), daemon=True)
        watcher.start()
        self._parallel(self._thread_body)
        self.check_usage("after the mixed writes")
        self._parallel(self._delete_all)
        self.check_usage("after deleting everything")
        stop.set()
        watcher.join()
        return self.report

    def _parallel(self, body: Callable[[int], None]) -> None:
        errors: list[BaseException] = []

        def guarded(t: int) -> None:
            try:
                body(t)
            except BaseException as exc:  # noqa: BLE001 - reported after the join, not lost in a thread
                errors.append(exc)

        workers = [threading.Thread(target=guarded, args=(t,)) for t in range(self.threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        if errors:
            raise errors[0]

    def _thread_body(self, t: int) -> None:
        rng = random.Random(self.seed * 1000 + t)
        client = Client(self.base, self.project, f"user{t}", self.report)
        for i in range(self.creates):
            self._create(client, t, i, rng)
            mixed = int(self.mixed) + (1 if rng.random() < self.mixed - int(self.mixed) else 0)
            for _ in range(mixed):
                self._mixed(client, t, rng)

    def _create(self, client: Client, t: int, i: int, rng: random.Random) -> None:
        with self.pool_lock:
            size = self.created
        resp = client.call("create", "POST", "/v2/images",
                           body={"name": f"t{t}-{i}", "disk_format": "raw", "container_format": "bare"})
        self.report.create_latency_by_size.setdefault(size // 200 * 200, []).append(resp.call.seconds)
        if resp.status_code != 201:
            return
        image_id = resp.json()["id"]
        with self.pool_lock:
            self.created += 1
            self.owned[t].append(image_id)
            (self.private[t] if rng.random() < 0.2 else self.shared).append(image_id)

    def _mixed(self, client: Client, t: int, rng: random.Random) -> None:
        op = rng.choices(["patch", "upload", "cycle", "delete"], weights=[3, 3, 2, 2])[0]
        with self.pool_lock:
            shared = list(self.shared)
            mine = [i for i in self.owned[t] if i in set(shared)]
            private = self.private[t]
            victim = private.pop(rng.randrange(len(private))) if op == "delete" and private else None
            if victim is not None:
                self.owned[t].remove(victim)
        if op == "patch" and shared:
            client.call("patch", "PATCH", f"/v2/images/{rng.choice(shared)}", content_type=PATCH_TYPE,
                        body=[{"op": "replace", "path": "/name", "value": f"n{rng.randrange(10**6)}"},
                              {"op": "add", "path": "/bench_k", "value": str(rng.randrange(100))}])
        elif op == "upload" and shared:
            self._upload(client, rng.choice(shared))
        elif op == "cycle" and mine:
            self._cycle(client, rng.choice(mine))
        elif victim is not None:
            client.call("delete", "DELETE", f"/v2/images/{victim}")

    def _upload(self, client: Client, image_id: str) -> None:
        resp = client.call("upload", "PUT", f"/v2/images/{image_id}/file", data=self.upload,
                           content_type="application/octet-stream")
        if resp.status_code == 409:
            seen = client.call("show", "GET", f"/v2/images/{image_id}")
            if seen.status_code == 200 and seen.json()["status"] == "queued":
                with self.report.lock:  # a 409 Glance's rules do not call for: a race inside the service
                    self.report.race_409s.append(resp.call)

    def _cycle(self, client: Client, image_id: str) -> None:
        """Owner: data in if still queued, then deactivate and reactivate once it is active."""
        seen = client.call("show", "GET", f"/v2/images/{image_id}")
        if seen.status_code == 200 and seen.json()["status"] == "queued":
            self._upload(client, image_id)
            seen = client.call("show", "GET", f"/v2/images/{image_id}")
        if seen.status_code == 200 and seen.json()["status"] == "active":
            client.call("deactivate", "POST", f"/v2/images/{image_id}/actions/deactivate")
            client.call("reactivate", "POST", f"/v2/images/{image_id}/actions/reactivate")

    def _delete_all(self, t: int) -> None:
        client = Client(self.base, self.project, f"user{t}", self.report)
        for image_id in list(self.owned[t]):
            client.call("delete", "DELETE", f"/v2/images/{image_id}")

    def check_usage(self, when: str) -> None:
        """/v2/info/usage against what the listing shows for the project."""
        client = Client(self.base, self.project, "auditor", self.report)
        images, marker = [], None
        while True:
            resp = client.call("list", "GET", "/v2/images?limit=1000" + (f"&marker={marker}" if marker else ""))
            page = resp.json()["images"]
            images += [i for i in page if i["owner"] == self.project]
            if "next" not in resp.json() or not page:
                break
            marker = page[-1]["id"]
        usage = client.call("usage", "GET", "/v2/info/usage").json()["usage"]
        seen = {k: usage[k]["usage"] for k in ("image_count_total", "image_size_total", "image_count_uploading")}
        listed = {
            "image_count_total": len(images),
            "image_size_total": sum(i["size"] or 0 for i in images if i["status"] in ("active", "deactivated")) // MIB,
            "image_count_uploading": sum(1 for i in images if i["status"] in ("saving", "uploading", "importing")),
        }
        self.report.usage_checks.append((when, seen, listed))

    def _watch_versions(self, stop: threading.Event) -> None:
        """Ask /versions twice a second: an answer slower than a second is a stall of the whole API."""
        http = requests.Session()
        while not stop.wait(0.5):
            started = time.perf_counter()
            try:
                http.get(self.base + "/versions", timeout=120)
            except requests.RequestException:
                pass
            elapsed = time.perf_counter() - started
            if elapsed > 1.0:
                self.report.stalls.append(elapsed)


# -- the service in a child process -------------------------------------------------------------
class ChildService:
    """``python -m infra.local.run`` on free ports; its memory read from /proc."""

    def __init__(self, env: dict[str, str], root: Path = ROOT) -> None:
        self.root = root
        # The default persistent mode, in a directory of its own (not the user's .run/state), removed at the end.
        self._state = tempfile.TemporaryDirectory(prefix="glance-bench-")
        self.env = {**os.environ, "HOST": "127.0.0.1", "PORT": "0", "POWERTOOLS_LOG_LEVEL": "WARNING",
                    "POWERTOOLS_METRICS_DISABLED": "true", "LOCAL_STATE_DIR": self._state.name, **env}
        self.env.pop("AWS_ENDPOINT_URL", None)
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.output: list[str] = []  # what it printed after starting (the injected faults, on exit)

    def __enter__(self) -> "ChildService":
        self.proc = subprocess.Popen([sys.executable, "-m", "infra.local.run"], cwd=self.root, env=self.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            found = re.search(r"Glance API at (http://\S+)", line)
            if found:
                self.url = found.group(1)
                break
        if not self.url:
            raise RuntimeError("the local service did not start")
        self._drain = threading.Thread(target=lambda: self.output.extend(self.proc.stdout), daemon=True)  # type: ignore[union-attr,arg-type]
        self._drain.start()
        return self

    def memory_mib(self) -> tuple[float, float]:
        """(VmRSS, VmHWM: its peak) of the service in MiB."""
        assert self.proc is not None
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        rss, hwm = (int(re.search(rf"{key}:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]
                    for key in ("VmRSS", "VmHWM"))
        return rss, hwm

    def __exit__(self, *_: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._drain.join(timeout=5)
        self._state.cleanup()


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) >= 2 else (values or [0.0])[0]


def print_report(title: str, report: Report, rss: tuple[float, float] | None, seconds: float) -> None:
    print(f"\n== {title}  ({len(report.calls)} requests in {seconds:.1f} s)")
    print("responses by status  :", dict(sorted(report.by_status.items())))
    by_op = Counter((c.op, c.status) for c in report.calls if c.status >= 400)
    print("answers >= 400 by op :", {f"{op} {st}": n for (op, st), n in sorted(by_op.items())} or "none")
    print(f"409s                 : {report.by_status.get(409, 0)} "
          f"(upload to a non-queued image, Glance's rule: {report.by_status.get(409, 0) - len(report.race_409s)}; "
          f"upload 409 on a still-queued image, a race inside the service: {len(report.race_409s)})")
    fives = report.server_errors
    busy = Counter(c.op for c in report.busy)
    print(f"5xx                  : {len(fives)} ({len(report.busy)} are 503 with Retry-After: {dict(busy) or '-'})")
    print(f"unexpected >= 400    : {len(report.unexpected)}")
    for c in report.unexpected[:5]:
        print(f"    {c.op} {c.status}: {c.detail}")
    for op in ("create", "patch", "upload", "deactivate", "delete", "list"):
        times = [c.seconds for c in report.calls if c.op == op]
        if times:
            print(f"latency {op:<13}: p50 {percentile(times, 50) * 1000:7.1f} ms  "
                  f"p95 {percentile(times, 95) * 1000:7.1f} ms  (n={len(times)})")
    for size, times in sorted(report.create_latency_by_size.items()):
        print(f"create p50 at {size:>4}+ images in the table: {statistics.median(times) * 1000:6.1f} ms (n={len(times)})")
    print("stalls of /versions  :", [f"{s:.1f}s" for s in report.stalls] or "none (every answer under 1 s)")
    for when, seen, listed in report.usage_checks:
        print(f"usage {when:<26}: {'EQUAL' if seen == listed else 'DIFFERENT'}  usage={seen} listing={listed}")
    if rss:
        print(f"service RSS          : {rss[0]:.0f} MiB before, {rss[1]:.0f} MiB after ({rss[1] - rss[0]:+.0f} MiB)")


def latency_probe(root: Path, sizes: tuple[int, ...] = (200, 1000), window: int = 40) -> None:
    """One client alone: create latency when the images table holds ``sizes`` images (median of ``window``)."""
    with ChildService({}, root) as svc:
        report = Report()
        client = Client(svc.url, f"probe-{uuid.uuid4().hex[:6]}", "prober", report)
        medians = {}
        for n in range(max(sizes) + window // 2):
            client.call("create", "POST", "/v2/images", body={"name": f"p{n}"})
            for size in sizes:
                if n == size + window // 2 - 1:
                    medians[size] = statistics.median(c.seconds for c in report.calls[-window:])
        rss = svc.memory_mib()[0]
    shown = ", ".join(f"{medians[s] * 1000:.1f} ms at {s}" for s in sizes)
    print(f"\n== create latency, one client alone: {shown} images in the table (service RSS then {rss:.0f} MiB)")


def run_once(threads: int, creates: int, fault_rate: float, seed: int, root: Path = ROOT) -> Report:
    env = {"LOCAL_FAULT_RATE": str(fault_rate), "LOCAL_FAULT_SEED": str(seed)} if fault_rate else {}
    with ChildService(env, root) as svc:
        # Warm the service up (first requests wire the adapters), then read its memory.
        warm = Workload(svc.url, threads=2, creates=2, mixed_per_create=1.0)
        warm.run()
        before = svc.memory_mib()[0]
        started = time.perf_counter()
        report = Workload(svc.url, threads=threads, creates=creates, seed=seed).run()
        elapsed = time.perf_counter() - started
        after = svc.memory_mib()[0]
    title = f"{threads} threads x {creates} creates, faults {fault_rate:.0%}"
    print_report(title, report, (before, after), elapsed)
    for line in svc.output:
        if line.startswith("Faults injected"):
            print("emulator             :", line.strip())
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--creates", type=int, default=50)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--once", action="store_true", help="only the run with --fault-rate")
    parser.add_argument("--latency-probe", action="store_true", help="also: create latency at 200 and 1,000 images")
    parser.add_argument("--service-root", type=Path, default=ROOT,
                        help="run make run from this checkout (an older commit, to compare)")
    args = parser.parse_args()
    rates = [args.fault_rate] if args.once else [0.0, args.fault_rate]
    if args.latency_probe:
        latency_probe(args.service_root)
    reports = [run_once(args.threads, args.creates, rate, args.seed, args.service_root) for rate in rates]
    bad = any(r.unexpected or r.usage_mismatches() for r in reports)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
