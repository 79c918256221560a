"""Issue 18 through the real pipeline: sources whose Content-Length lies, and sources too slow to finish.

Each import fails; an interoperable import's image goes back to queued with os_glance_failed_import,
a legacy task's image is deleted; no object is kept and the project's usage is as before.
"""
from __future__ import annotations

import time
from typing import Any

import pytest

from chalicelib.domain import imports
from tests.images import qcow2
from tests.pipeline.conftest import ALICE, Pipeline
from tests.pipeline.test_import_faults import _legacy
from tests.pipeline.test_interop_import import _image, _import, _task_of

pytestmark = pytest.mark.settings(fetch_deadline_ms=800)


def _usage(p: Pipeline, owner: str) -> dict[str, int]:
    return dict(p.container.ports.images.usage(owner))


def _web_download_fails(p: Pipeline, path: str, *words: str) -> dict[str, Any]:
    """Run a web-download of ``path``; assert it failed cleanly (queued, failed-import flag, no bytes)."""
    image = _image(p)
    before = _usage(p, image["owner"])
    assert _import(p, image["id"], {"name": "web-download", "uri": p.web[path]})[0] == 202
    task = _task_of(p, image["id"])
    assert task["status"] == "failure", task
    for word in words:
        assert word in task["message"], task["message"]
    shown = p.get(f"/v2/images/{image['id']}", ALICE)[1]
    assert shown["status"] == "queued" and shown["os_glance_failed_import"] == "s3"
    assert shown["size"] is None and "os_glance_import_task" not in shown
    assert p.keys() == []
    assert _usage(p, image["owner"]) == before
    return task


def _legacy_fails(p: Pipeline, path: str, *words: str) -> dict[str, Any]:
    task = _legacy(p, p.web[path])
    assert task["status"] == "failure", task
    for word in words:
        assert word in task["message"], task["message"]
    image_id = imports.derived_id("task-image", task["id"])
    assert p.container.ports.images.get(image_id).status.value == "deleted"
    assert p.get(f"/v2/images/{image_id}")[0] == 404
    assert p.keys() == []
    return task


# -- 1: short fetches ------------------------------------------------------------------------------------
def test_a_short_body_fails_a_web_download(pipeline: Pipeline) -> None:
    pipeline.web.files["/short.qcow2"] = qcow2()[:20]
    pipeline.web.declared["/short.qcow2"] = "100000"
    task = _web_download_fails(pipeline, "/short.qcow2", "received 20 of the 100000 bytes")
    assert pipeline.states(task["id"]).count("FetchData") == 1  # retried inside the state, then caught


def test_a_short_body_fails_a_legacy_task_and_deletes_its_image(pipeline: Pipeline) -> None:
    pipeline.web.files["/short.qcow2"] = qcow2()[:20]
    pipeline.web.declared["/short.qcow2"] = "100000"
    _legacy_fails(pipeline, "/short.qcow2", "received 20 of the 100000 bytes")


def test_a_declared_length_above_the_cap_is_refused_before_reading(pipeline: Pipeline) -> None:
    pipeline.web.files["/huge.qcow2"] = b""
    pipeline.web.declared["/huge.qcow2"] = str(2**50)
    _web_download_fails(pipeline, "/huge.qcow2", f"declares {2**50} bytes", "largest image allowed")
    assert pipeline.web.requests.count(("GET", "/huge.qcow2")) == 1  # a refusal, not a transient fault


def test_a_declared_length_above_the_cap_fails_a_legacy_task(pipeline: Pipeline) -> None:
    pipeline.web.files["/huge.qcow2"] = b""
    pipeline.web.declared["/huge.qcow2"] = str(2**50)
    _legacy_fails(pipeline, "/huge.qcow2", f"declares {2**50} bytes")


def test_a_malformed_content_length_fails_the_import(pipeline: Pipeline) -> None:
    pipeline.web.files["/odd.qcow2"] = qcow2()
    pipeline.web.declared["/odd.qcow2"] = "12abc"
    _web_download_fails(pipeline, "/odd.qcow2")


# -- 5: the fetch deadline ---------------------------------------------------------------------------------
def test_a_body_trickled_past_the_deadline_fails_the_import_once(pipeline: Pipeline) -> None:
    pipeline.web.files["/slow.qcow2"] = qcow2()
    pipeline.web.trickle_body["/slow.qcow2"] = 0.05  # ~20 bytes/s: never done in 0.8 s
    started = time.monotonic()
    _web_download_fails(pipeline, "/slow.qcow2", "no complete answer within 0.8 s", "IMAGES_IMPORT_FETCH_DEADLINE_MS")
    assert time.monotonic() - started < 10
    assert pipeline.web.requests.count(("GET", "/slow.qcow2")) == 1  # not retried: it would be as slow again


def test_headers_trickled_past_the_deadline_fail_a_legacy_task(pipeline: Pipeline) -> None:
    pipeline.web.files["/slow.qcow2"] = qcow2()
    pipeline.web.trickle_headers["/slow.qcow2"] = 0.1
    _legacy_fails(pipeline, "/slow.qcow2", "no complete answer within 0.8 s")


def test_a_source_within_the_deadline_still_imports(pipeline: Pipeline) -> None:
    pipeline.web.files["/ok.qcow2"] = qcow2()
    image = _image(pipeline)
    assert _import(pipeline, image["id"], {"name": "web-download", "uri": pipeline.web["/ok.qcow2"]})[0] == 202
    assert _task_of(pipeline, image["id"])["status"] == "success"
    assert pipeline.keys() == [f"images/{image['id']}"]
