"""``make run`` keeps its data across a restart (issue 16 item 1): SIGTERM, and kill -9.

Each test runs the real runner as a child process on a state directory of its own, creates
images with data (a single PUT and a multipart upload), a member, a task (a web-download
import) and a metadef namespace, stops it, starts it again on the same directory and reads
everything back: documents equal, bytes with equal sha256.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.local_process import RunProcess
from tests.e2e.waiting import until
from tests.webserver import FileServer

CONSUMER = "u2:consumer:member"


def _image(run: RunProcess, name: str, data: bytes | None, **extra: Any) -> str:
    status, image = run.call("POST", "/v2/images", {"name": name, "disk_format": "raw", "container_format": "bare",
                                                    **extra})
    assert status == 201, image
    if data is not None:
        assert run.call("PUT", f"/v2/images/{image['id']}/file", data=data)[0] == 204
    return str(image["id"])


def _populate(run: RunProcess, web: FileServer, tag: str, task: bool = True) -> dict[str, Any]:
    """Images with data, a member (accepted), a metadef namespace, a finished import task; returns their ids."""
    small, large = os.urandom(1 << 20), os.urandom(9 << 20)  # 9 MiB: a multipart upload (8 MiB parts)
    shared = _image(run, f"{tag}-shared", small, visibility="shared", tags=["t1"], os_distro="cirros")
    ids = {"shared": shared, "large": _image(run, f"{tag}-large", large), "queued": _image(run, f"{tag}-queued", None)}
    doomed = _image(run, f"{tag}-deleted", small)
    assert run.call("DELETE", f"/v2/images/{doomed}")[0] == 204  # its object goes, on disk too
    assert run.call("POST", f"/v2/images/{shared}/members", {"member": "consumer"})[0] == 200
    assert run.call("PUT", f"/v2/images/{shared}/members/consumer", {"status": "accepted"}, token=CONSUMER)[0] == 200
    namespace = f"Issue16::{tag}"
    status, _ = run.call("POST", "/v2/metadefs/namespaces", {
        "namespace": namespace, "visibility": "public",
        "properties": {"speed": {"type": "integer", "title": "speed"}}})
    assert status == 201
    ids["namespace"] = namespace
    if task:
        web.files[f"/{tag}.raw"] = os.urandom(300_000)
        status, created = run.call("POST", "/v2/tasks", {"type": "import", "input": {
            "import_from": web[f"/{tag}.raw"], "import_from_format": "raw",
            "image_properties": {"name": f"{tag}-task", "container_format": "bare", "disk_format": "raw"}}})
        assert status == 201, created
        created = until(lambda: run.call("GET", f"/v2/tasks/{created['id']}")[1],
                        lambda shown: shown["status"] not in ("pending", "processing"))
        assert created["status"] == "success", created
        ids["task"], ids["task_image"] = created["id"], created["result"]["image_id"]
    return ids


def _read_back(run: RunProcess, ids: dict[str, Any]) -> dict[str, Any]:
    """Every document the ids name, the data's sha256, the listings and the usage, as the API answers them."""
    seen: dict[str, Any] = {}
    for name in ("shared", "large", "queued", "task_image"):
        if name in ids:
            status, seen[name] = run.call("GET", f"/v2/images/{ids[name]}")
            assert status == 200, (name, seen[name])
            if seen[name]["status"] == "active":
                seen[f"{name}.sha256"] = run.sha256(ids[name])[0]
    seen["members"] = run.call("GET", f"/v2/images/{ids['shared']}/members")
    seen["consumer_list"] = sorted(i["id"] for i in run.call("GET", "/v2/images?visibility=shared", token=CONSUMER)[1]["images"])
    seen["namespace"] = run.call("GET", f"/v2/metadefs/namespaces/{ids['namespace']}")
    if "task" in ids:
        seen["task"] = run.call("GET", f"/v2/tasks/{ids['task']}")
    seen["images"] = sorted(i["id"] for i in run.call("GET", "/v2/images?limit=100")[1]["images"])
    seen["usage"] = run.call("GET", "/v2/info/usage")
    return seen


def test_a_restart_after_sigterm_or_kill_9_finds_everything_with_identical_bytes(tmp_path: Path, web: FileServer) -> None:
    """SIGTERM: everything is back. kill -9: every write the service had answered is back too (each DynamoDB
    write is journaled, and each object's file written, before the emulator answers); only requests still in
    flight are lost, and executions in flight, which the next start runs again (infra/local/pipeline.resume)."""
    env = {"LOCAL_STATE_DIR": str(tmp_path / "state")}
    first = RunProcess(tmp_path / "run.log", env)
    try:
        ids = _populate(first, web, "term")
        before = _read_back(first, ids)
    finally:
        assert first.stop(signal.SIGTERM) == 0
    assert before["shared.sha256"] and before["large.sha256"] and before["task_image.sha256"]
    assert before["members"][1]["members"][0]["status"] == "accepted" and ids["shared"] in before["consumer_list"]

    second = RunProcess(tmp_path / "run.log", env)
    try:
        assert _read_back(second, ids) == before
        more = _populate(second, web, "kill", task=False)
        before_kill = {"term": _read_back(second, ids), "kill": _read_back(second, more)}
    finally:
        second.stop(signal.SIGKILL)

    third = RunProcess(tmp_path / "run.log", env)
    try:
        assert {"term": _read_back(third, ids), "kill": _read_back(third, more)} == before_kill
    finally:
        assert third.stop() == 0
    # One object per image with data (term: shared, large, the task's; kill: shared, large); deleted images'
    # objects and the import's staged bytes are gone, and nothing else is left behind.
    # A multipart object (the large ones) keeps its parts' files as numbered segments 1..n beside it.
    files: dict[str, list[str]] = {}
    for path in (tmp_path / "state" / "objects").iterdir():
        files.setdefault(path.name.split(".")[0], []).append(path.suffix)
    assert len(files) == 5, files
    for suffixes in files.values():
        segments = sorted(int(s[1:]) for s in suffixes if s[1:].isdigit())
        assert sorted(set(suffixes) - {f".{n}" for n in segments}) == ["", ".json"], files
        assert segments == list(range(1, len(segments) + 1)), files
    assert sum(1 for suffixes in files.values() if len(suffixes) > 2) == 2, files  # the two large images
