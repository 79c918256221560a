"""Benchmarks that print figures (no pass/fail).

Run with ``make bench``. Targets: importing ``app`` costs at most 1.5x
importing boto3 alone; ``import app`` plus the first ``GET /v2/images/{id}`` through the handler at
most 1.3x ``import boto3`` plus one ``GetItem`` (bench/first_request.py, which also sizes the package); per operation at 300 and 3,000 images (calls, rows
read, write units, latency; ``BENCH_SIZES`` to change): show = 1 call, writes
cost the same at both sizes, a PATCH of a property <= 4 index write units, a
list page reads <= 2 x sources x (limit + 1) rows for every filter; a
presigned download moves 0 image bytes through the function; the upload pass
(hashes + inspection) runs at >= 0.8x sha512sum.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RUNS = 7
# Keep the figures readable: no per-request JSON log lines or EMF blobs from the middleware. Set before the
# first bench that sends an event: powertools' Logger takes its level when that first event creates it.
QUIET = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}


def _import_seconds(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


# What the first request adds: the adapters (PynamoDB, botocore) wired on first use.
_WIRED = (
    "app; from chalicelib import wiring; from chalicelib.config import Settings; "
    "wiring.build(Settings.of(region='us-east-1', images_table='t', members_table='m', usage_table='u', metadefs_table='d', tasks_table='k', bucket='b', auth_mode='dev'))"
)


def bench_imports() -> None:
    # Interleave the runs so machine noise hits all alike.
    boto, app, wired = [], [], []
    for _ in range(RUNS):
        boto.append(_import_seconds("boto3"))
        app.append(_import_seconds("app"))
        wired.append(_import_seconds(_WIRED))
    b, a, w = statistics.median(boto), statistics.median(app), statistics.median(wired)
    print(f"import boto3 alone           : {b * 1000:7.1f} ms (median of {RUNS})")
    print(f"import app                   : {a * 1000:7.1f} ms (median of {RUNS})")
    print(f"ratio app/boto3              : {a / b:7.2f}x   (target <= 1.5x)")
    print(f"import app + wire adapters   : {w * 1000:7.1f} ms  ({w / b:.2f}x boto3; paid by the first request)")
    # Imported on first use, not with app: what the first event / the authorizer's first call adds.
    for label, module in (("powertools Logger+Metrics", "aws_lambda_powertools.logging, aws_lambda_powertools.metrics"),
                          ("jwt + cryptography (RS256)", "jwt, jwt.algorithms, cryptography.hazmat.primitives.asymmetric.rsa")):
        cost = statistics.median(_import_seconds(module) for _ in range(RUNS))
        print(f"{label:<29}: {cost * 1000:7.1f} ms  (first event only; not in import app)")


def bench_calls() -> None:
    """Per operation at 300 and 3,000 images: DynamoDB calls, rows read, write units, latency (bench/operations.py)."""
    for key, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1", **QUIET}.items():
        os.environ.setdefault(key, value)
    sys.path.insert(0, str(ROOT / "bench"))
    from operations import bench_operations

    sizes = tuple(int(n) for n in os.environ.get("BENCH_SIZES", "300,3000").split(","))
    bench_operations(sizes)
    print("targets: get = 1 call; create/patch/delete the same at every size; an ordinary PATCH <= 4 index write "
          "units; every list page reads <= 2 x sources x (limit + 1) rows; no Scan anywhere")


def bench_download_bytes() -> None:
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from app import app
    from chalicelib import wiring
    from chalicelib.config import Settings
    from infra.local.bootstrap import ensure_resources

    with mock_aws():
        settings = Settings.of(region="us-east-1", images_table="d-images", members_table="d-members", usage_table="d-usage", bucket="d-bucket",
                            auth_mode="dev", metadefs_table="d-metadefs", tasks_table="d-tasks")
        ensure_resources(settings, boto3.Session())
        wiring.override(wiring.build(settings))
        headers = {"X-Auth-Token": "u:p:member,reader", "Accept": "*/*"}
        data = os.urandom(3 * 1024 * 1024)
        with Client(app) as client:
            made = client.http.post("/v2/images", headers={**headers, "Content-Type": "application/json"},
                                    body=json.dumps({"disk_format": "raw", "container_format": "bare"}))
            image_id = json.loads(made.body)["id"]
            client.http.put(f"/v2/images/{image_id}/file", headers={**headers, "Content-Type": "application/octet-stream"}, body=data)
            print(f"\n{'download of a ' + str(len(data)) + '-byte image':48} {'status':>6}  image bytes through the function")
            for label, extra in [("presigned (default)", {}), ("presigned with Range", {"Range": "bytes=0-1023"}),
                                 ("deprecated Content-Range (proxied)", {"Content-Range": "bytes 0-1023/*"})]:
                resp = client.http.get(f"/v2/images/{image_id}/file", headers={**headers, **extra})
                print(f"{label:48} {resp.status_code:>6}  {len(resp.body)}")
        print("target: 0 bytes for presigned downloads")


def bench_upload_pass(size_mib: int = 512) -> None:
    import hashlib
    import tempfile
    import time
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.adapters.inspection import OsloInspector
    from chalicelib.services.scanning import Digests, capped

    with tempfile.NamedTemporaryFile(dir="/tmp") as tmp:
        block = os.urandom(1024 * 1024)
        for _ in range(size_mib):
            tmp.write(block)
        tmp.flush()
        subprocess.run(["sha512sum", tmp.name], capture_output=True, check=True)  # warm the page cache
        t = time.perf_counter()
        native_out = subprocess.run(["sha512sum", tmp.name], capture_output=True, check=True, text=True).stdout
        native = time.perf_counter() - t

        def chunks():
            with open(tmp.name, "rb") as fh:
                while chunk := fh.read(1024 * 1024):
                    yield chunk

        t = time.perf_counter()
        with ThreadPoolExecutor(max_workers=1) as pool:
            digests = Digests(pool)
            inspection = OsloInspector().inspect(chunks())
            for _ in capped(inspection, 1 << 40, digests):
                pass
            inspection.verdict()
        ours = time.perf_counter() - t
        # The figure counts only if the pass really hashed every byte.
        assert digests.sha.hexdigest() == native_out.split()[0], "upload pass digest differs from sha512sum"
        verify = _verify_step_seconds(chunks, native_out.split()[0])
        t = time.perf_counter()
        hashlib.sha512(open(tmp.name, "rb").read())
        sha_only = time.perf_counter() - t
    mib = float(size_mib)
    print(f"\nupload pass over {size_mib} MiB (MD5 + SHA-512 + format inspection, 1 MiB chunks)")
    print(f"sha512sum                    : {mib / native:8.1f} MiB/s")
    print(f"hashlib sha512 alone         : {mib / sha_only:8.1f} MiB/s")
    print(f"our pass                     : {mib / ours:8.1f} MiB/s  ({native / ours:.2f}x sha512sum; target >= 0.8x)")
    print(f"import VerifyData step       : {mib / verify:8.1f} MiB/s  ({native / verify:.2f}x sha512sum; target >= 0.8x)")


def _verify_step_seconds(chunks, expected_sha: str) -> float:
    """The pipeline's real verify step over the same file (the store streams it as S3 would, 1 MiB chunks)."""
    import time
    from datetime import datetime, timezone
    from types import SimpleNamespace

    from chalicelib.adapters.inspection import OsloInspector
    from chalicelib.domain.images import Image
    from chalicelib.domain.tasks import Task
    from chalicelib.services.import_steps import ImportStepService

    now = datetime.now(timezone.utc)
    # raw data declared raw: the inspector runs, the format matches.
    image = Image(id="i", owner="p", created_at=now, updated_at=now, disk_format="raw", container_format="bare")
    task = Task(id="t", type="api_image_import", owner="p", created_at=now, updated_at=now, image_id="i")
    step = ImportStepService(
        images=None,  # type: ignore[arg-type]  # VerifyData reads through the writer only
        writer=SimpleNamespace(get=lambda _: image),  # type: ignore[arg-type]  # a stand-in holding one image
        tasks=SimpleNamespace(find=lambda _: task),  # type: ignore[arg-type]  # a stand-in holding one task
        store=SimpleNamespace(iter_object=lambda _: chunks()),  # type: ignore[arg-type]
        web=None, inspector=OsloInspector(), image_size_cap=1 << 40,  # type: ignore[arg-type]
    )
    t = time.perf_counter()
    out = step.verify({"task_id": "t", "image_id": "i", "staged_key": "staging/i"})
    elapsed = time.perf_counter() - t
    assert out["os_hash_value"] == expected_sha, "verify step digest differs from sha512sum"
    return elapsed


if __name__ == "__main__":
    from first_request import bench_first_request, package_size

    for quiet_key, quiet_value in QUIET.items():
        os.environ.setdefault(quiet_key, quiet_value)
    bench_imports()
    bench_first_request()
    package_size()
    bench_calls()
    bench_download_bytes()
    bench_upload_pass(int(os.environ.get("BENCH_UPLOAD_MIB", "512")))
