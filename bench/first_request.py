"""Cold start as a user sees it: a fresh interpreter's ``import app`` plus its first ``GET /v2/images/{id}``.

The request goes through the Lambda entry point (an API Gateway proxy event to ``app.app``), so it pays
for everything the first request builds (settings, PynamoDB, botocore's DynamoDB client, powertools).
The baseline is the least a Python Lambda reading DynamoDB can do: ``import boto3`` and one ``GetItem``
with a bare client. Both run against the same emulator (moto's server on 127.0.0.1, started here).
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
RUNS = 7
GOAL = 1.3

# The child's first request: an API Gateway REST proxy event, as API Gateway sends it to the function.
_APP = """
import time, json, sys
t = time.perf_counter()
import app
event = json.loads(sys.argv[1])
class Context:
    aws_request_id = "bench"; function_name = "api_handler"; memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:api_handler"
    def get_remaining_time_in_millis(self): return 60000
response = app.app(event, Context())
elapsed = time.perf_counter() - t
assert response["statusCode"] == 200, response
print(elapsed)
"""
_BARE = """
import time, sys
t = time.perf_counter()
import boto3
client = boto3.client("dynamodb")
item = client.get_item(TableName=sys.argv[1], Key={"id": {"S": sys.argv[2]}})
elapsed = time.perf_counter() - t
assert "Item" in item, item
print(elapsed)
"""


def api_event(image_id: str, token: str) -> dict[str, Any]:
    """``GET /v2/images/{image_id}`` as API Gateway's proxy integration delivers it."""
    headers = {"X-Auth-Token": token, "Accept": "application/json", "Host": "bench.example"}
    return {
        "resource": "/v2/images/{image_id}", "path": f"/v2/images/{image_id}", "httpMethod": "GET",
        "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": {"image_id": image_id}, "stageVariables": None, "body": None, "isBase64Encoded": False,
        "requestContext": {"resourcePath": "/v2/images/{image_id}", "httpMethod": "GET", "stage": "api",
                           "requestId": "bench-request", "path": f"/api/v2/images/{image_id}",
                           "identity": {"sourceIp": "127.0.0.1"}},
    }


def _seconds(code: str, args: list[str], env: dict[str, str], cwd: Path) -> float:
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return float(out.stdout.strip().splitlines()[-1])


def _seed(endpoint: str) -> tuple[dict[str, str], str]:
    """Tables, bucket and one image on the emulator; (the functions' environment, the image id)."""
    import boto3

    from chalicelib import wiring
    from chalicelib.config import Settings
    from infra.local.bootstrap import ensure_resources

    env = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint, "IMAGES_AUTH_MODE": "dev",
           "IMAGES_TABLE": "cold-images", "IMAGES_MEMBERS_TABLE": "cold-members", "IMAGES_USAGE_TABLE": "cold-usage",
           "IMAGES_METADEFS_TABLE": "cold-metadefs", "IMAGES_TASKS_TABLE": "cold-tasks", "IMAGES_BUCKET": "cold-bucket"}
    os.environ.update(env)
    settings = Settings.from_env(env)
    ensure_resources(settings, boto3.Session())
    built = wiring.build(settings)
    image = _create_image(built)
    wiring.reset()
    return {**os.environ, **env, "POWERTOOLS_LOG_LEVEL": "WARNING"}, image


def _create_image(container: Any) -> str:
    from chalice.test import Client

    from app import app
    from chalicelib import wiring

    wiring.override(container)
    with Client(app) as client:
        made = client.http.post("/v2/images", headers={"X-Auth-Token": "u:p:member,reader",
                                                       "Content-Type": "application/json"},
                                body=json.dumps({"disk_format": "raw", "container_format": "bare"}))
    return str(json.loads(made.body)["id"])


def _app_copy(root: Path, compiled: bool) -> Path:
    """The app's files as the package holds them, with their bytecode (as packaged) or without (source only)."""
    from infra.stacks.chalice_app import compile_tree, copy_app

    copy_app(ROOT, root)
    if compiled:
        compile_tree(root, shown_as=str(root))
    return root


def bench_first_request() -> None:
    import logging
    import tempfile

    from infra.local.emulator import Emulator

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per emulator request
    emulator = Emulator().start()
    tmp = tempfile.TemporaryDirectory(prefix="cold-start-")
    saved = dict(os.environ)  # _seed points this process at the emulator: undone below, for the benches after it
    try:
        env, image = _seed(emulator.endpoint_url)
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # like Lambda's read-only code directory: nothing cached between runs
        event = json.dumps(api_event(image, "u:p:member,reader"))
        packaged = _app_copy(Path(tmp.name) / "packaged", compiled=True)
        source = _app_copy(Path(tmp.name) / "source", compiled=False)
        runs: dict[str, list[float]] = {"bare": [], "packaged": [], "source": []}
        for _ in range(RUNS + 1):  # interleaved, so machine noise hits all alike; the first run warms the file cache
            runs["bare"].append(_seconds(_BARE, ["cold-images", image], env, ROOT))
            runs["packaged"].append(_seconds(_APP, [event], env, packaged))
            runs["source"].append(_seconds(_APP, [event], env, source))
    finally:
        os.environ.clear()
        os.environ.update(saved)
        emulator.stop()
        tmp.cleanup()
    b, p, s = (statistics.median(runs[k][1:]) for k in ("bare", "packaged", "source"))
    print(f"\nfirst request in a fresh interpreter (emulator on 127.0.0.1, median of {RUNS})")
    print(f"import boto3 + one GetItem (bare client)          : {b * 1000:7.1f} ms")
    print(f"import app + first GET /v2/images/{{id}} (handler) : {p * 1000:7.1f} ms  "
          f"ratio {p / b:.2f}x (goal <= {GOAL}x): the app as packaged, with its bytecode")
    print(f"  the same from source only (no .pyc)             : {s * 1000:7.1f} ms  ratio {s / b:.2f}x")


def package_size() -> None:
    """What ``chalice package`` ships, measured offline: the app plus the installed distributions of requirements.txt
    and everything they require (their files in this venv, bytecode included, as the package now carries it)."""
    import zlib
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    lines = (ROOT / "requirements.txt").read_text().splitlines()
    queue = [Requirement(line) for line in lines if line.strip() and not line.lstrip().startswith("#")]
    dists: dict[str, Any] = {}
    while queue:
        req = queue.pop()
        name = canonicalize_name(req.name)
        if name in dists or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        dists[name] = metadata.distribution(req.name)
        queue += [Requirement(r) for r in dists[name].requires or []]

    def measure(paths: list[Path]) -> tuple[int, int]:
        raw = packed = 0
        for path in paths:
            data = path.read_bytes()
            raw, packed = raw + len(data), packed + len(zlib.compress(data, 6))
        return raw, packed

    sizes = {name: measure([Path(str(f.locate())) for f in d.files or [] if Path(str(f.locate())).is_file()])
             for name, d in dists.items()}
    from infra.stacks.chalice_app import APP_FILES

    app_files = [p for name in APP_FILES for p in ([ROOT / name] if (ROOT / name).is_file() else (ROOT / name).rglob("*.py"))]
    app_raw, app_packed = measure(app_files)
    raw = sum(r for r, _ in sizes.values()) + 2 * app_raw  # the app's bytecode: about its source's size
    packed = sum(p for _, p in sizes.values()) + 2 * app_packed
    sdk = sum(sizes[n][0] for n in ("boto3", "botocore", "s3transfer") if n in sizes)
    mib = 1024 * 1024
    print(f"\nLambda package (requirements.txt and what it requires, measured from this venv's installed files)")
    print(f"{len(dists)} distributions + the app: {raw / mib:6.1f} MiB unzipped (limit 250), ~{packed / mib:5.1f} MiB zipped")
    print(f"  of which boto3/botocore/s3transfer (pinned, so shipped instead of the runtime's): {sdk / mib:5.1f} MiB")
    print(f"  the app (app.py, chalicelib/): {app_raw / 1024:6.0f} KiB of source")
    for name, (r, _) in sorted(sizes.items(), key=lambda kv: -kv[1][0])[:6]:
        print(f"  {name:<28}{r / mib:6.1f} MiB")
