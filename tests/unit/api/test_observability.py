"""Every handler logs one JSON line (request id, cold start) and flushes EMF metrics; app import stays lean."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

_TWO_REQUESTS = """
import json, sys
from chalice.test import Client
from app import app
with Client(app) as client:
    ids = [client.http.get("/versions").headers["x-openstack-request-id"] for _ in range(2)]
print("IDS " + json.dumps(ids))
"""


SERVICE_ENV = {"AWS_REGION": "us-east-1", "IMAGES_TABLE": "t", "IMAGES_MEMBERS_TABLE": "m", "IMAGES_USAGE_TABLE": "u", "IMAGES_METADEFS_TABLE": "md", "IMAGES_TASKS_TABLE": "tk",
               "IMAGES_BUCKET": "b", "IMAGES_AUTH_MODE": "dev"}


def _run(code: str, env: dict[str, str] | None = None) -> list[str]:
    # A fresh process: cold start is per process, and powertools binds stdout when first used.
    base = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGES_", "AWS_"))}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                          env={**base, **(env or {})})
    return done.stdout.splitlines()


def test_each_request_logs_json_with_its_request_id_and_cold_start_and_emits_metrics() -> None:
    lines = _run(_TWO_REQUESTS, SERVICE_ENV)
    ids = json.loads(next(line for line in lines if line.startswith("IDS "))[4:])
    records = [json.loads(line) for line in lines if line.startswith("{")]
    logs = [r for r in records if r.get("message") == "handled"]
    metrics = [r for r in records if "_aws" in r]
    assert [(r["request_id"], r["cold_start"], r["status"]) for r in logs] == [(ids[0], True, 200), (ids[1], False, 200)]
    assert all(r["level"] == "INFO" and r["service"] == "glance-api" for r in logs)
    assert [m["Requests"] for m in metrics] == [[1.0], [1.0]] and metrics[0]["ColdStart"] == [1.0]


def test_a_server_error_is_logged_as_an_error_and_counted() -> None:
    # Given no service configuration, the container cannot be built: every request is a 500
    records = [json.loads(line) for line in _run(_TWO_REQUESTS.replace("range(2)", "range(1)")) if line.startswith("{")]
    [log] = [r for r in records if r.get("message") == "server error"]
    [metric] = [r for r in records if "_aws" in r]
    assert log["level"] == "ERROR" and log["status"] == 500
    assert metric["ServerErrors"] == [1.0]


def test_importing_app_does_not_import_powertools_jwt_or_cryptography() -> None:
    code = "import sys, app; print(sorted({m.split('.')[0] for m in sys.modules} & {'aws_lambda_powertools', 'jwt', 'cryptography'}))"
    assert _run(code) == ["[]"]


_FRONT_REQUEST = """
import io, json, sys
from app import app
from chalicelib.config import Settings
from chalicelib.front import make_application
front = make_application(app, Settings.from_env())
environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/versions", "REQUEST_URI": "/versions", "wsgi.input": io.BytesIO()}
b"".join(front(environ, lambda status, headers: print("STATUS " + status)))
"""


def test_the_wsgi_front_writes_json_logs_and_metrics_only_with_log_format_json() -> None:
    quiet = _run(_FRONT_REQUEST, SERVICE_ENV)
    assert "STATUS 200 OK" in quiet and not [line for line in quiet if line.startswith("{")]
    loud = _run(_FRONT_REQUEST, {**SERVICE_ENV, "LOG_FORMAT": "json"})
    records = [json.loads(line) for line in loud if line.startswith("{")]
    assert [r["status"] for r in records if r.get("message") == "handled"] == [200]
    assert any("_aws" in r for r in records)
