"""An upload racing a web-download import of the same image: one wins, the other gets Glance's 409,
and no import lock outlives the race (it once stayed on 1 in 12 active images)."""
from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import Conflict, DomainError
from tests.images import qcow2
from tests.conftest import serialised_aws
from tests.pipeline.conftest import Pipeline

ALICE = RequestContext("alice", "proj-a", frozenset({"member", "reader"}))
ROUNDS = 12


def test_an_upload_and_a_web_download_never_both_win_and_leave_no_lock(pipeline: Pipeline) -> None:
    web_data, put_data = qcow2(padding=1000), qcow2(padding=2000)
    pipeline.web.files["/d.qcow2"] = web_data
    winners: dict[str, int] = {}
    with serialised_aws(pipeline.container.data.store.client):
        for round_ in range(ROUNDS):
            winner = play(pipeline, round_, pipeline.web["/d.qcow2"], put_data)
            final = pipeline.container.ports.images.get(winner[1])
            assert final.status.value == "active", (round_, final.status)
            props = final.extra_properties
            assert "os_glance_import_task" not in props and not props.get("os_glance_importing_to_stores"), (round_, final)
            expected = web_data if winner[0] == "import" else put_data
            assert final.checksum == hashlib.md5(expected).hexdigest(), round_
            winners[winner[0]] = winners.get(winner[0], 0) + 1
    assert sum(winners.values()) == ROUNDS, winners


def play(pipeline: Pipeline, round_: int, uri: str, put_data: bytes) -> tuple[str, str]:
    """Start an upload and a web-download at once; exactly one wins, the other is 409. (winner, image id)."""
    svc = pipeline.container
    image = svc.images.create(ALICE, {"name": f"r{round_}", "disk_format": "qcow2", "container_format": "bare"})
    start = threading.Barrier(2, timeout=10)
    results: dict[str, Any] = {}

    def upload() -> None:
        start.wait()
        time.sleep(0.001 * (round_ % 3))
        try:
            results["upload"] = svc.data.upload(ALICE, image.id, [put_data], None)
        except DomainError as exc:
            results["upload"] = exc

    def web_download() -> None:
        start.wait()
        time.sleep(0.001 * ((round_ + 1) % 3))
        try:
            body = {"method": {"name": "web-download", "uri": uri}}
            results["import"] = svc.imports.import_image(ALICE, image.id, body)
        except DomainError as exc:
            results["import"] = exc

    threads = [threading.Thread(target=upload), threading.Thread(target=web_download)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    refused = [name for name, outcome in results.items() if isinstance(outcome, DomainError)]
    assert len(refused) == 1 and len(results) == 2, (round_, results)  # exactly one wins
    assert isinstance(results[refused[0]], Conflict), (round_, results)  # the other: 409
    winner = "import" if refused == ["upload"] else "upload"
    if winner == "import":
        pipeline.execution(results["import"].id)
    return winner, image.id
