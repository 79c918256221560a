"""Two uploads to one image: the conditional queued -> saving write lets exactly one through."""
from __future__ import annotations

import threading
from typing import Any


from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import Conflict
from chalicelib.domain.images import ImageStatus
from tests import images as fx

ALICE = RequestContext("alice", "proj-a", frozenset({"member", "reader"}))


def test_concurrent_uploads_one_wins_one_conflicts(serial_moto: Any) -> None:
    aws = serial_moto
    image = aws.images.create(ALICE, {"disk_format": "qcow2", "container_format": "bare"})
    repo = aws.ports.images
    both_read = threading.Barrier(2, timeout=10)
    real_get = repo.get

    def get_then_wait(image_id: str) -> Any:
        found = real_get(image_id)
        if found.status is ImageStatus.QUEUED:
            try:
                both_read.wait()  # both uploads have seen "queued" before either writes
            except threading.BrokenBarrierError:
                pass
        return found

    repo.get = get_then_wait  # type: ignore[method-assign]
    outcomes: list[str] = []

    def upload(payload: bytes) -> None:
        try:
            aws.data.upload(ALICE, image.id, [payload], None)
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    data_a, data_b = fx.qcow2(padding=100), fx.qcow2(padding=200)
    threads = [threading.Thread(target=upload, args=(d,)) for d in (data_a, data_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    repo.get = real_get  # type: ignore[method-assign]

    assert sorted(outcomes) == ["conflict", "ok"]
    stored = real_get(image.id)
    assert stored.status is ImageStatus.ACTIVE
    assert stored.size in (len(data_a), len(data_b))
    # The winner's bytes are what the store holds.
    key = f"images/{image.id}"
    body = aws.data.store.client.get_object(Bucket=aws.data.store.bucket, Key=key)["Body"].read()
    assert len(body) == stored.size
