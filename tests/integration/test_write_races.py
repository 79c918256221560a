"""Writers racing one image over DynamoDB (moto, serialised per call as real DynamoDB is atomic per call).

An upload's status moves are conditioned on the status they leave, not on the version any edit bumps,
so renames never fail it; compensating writes land; usage counters move once per real change.
"""
from __future__ import annotations

import hashlib
import threading
import time
from typing import Any, Iterator

import pytest

from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import DomainError
from chalicelib.domain.images import Image, ImageStatus
from chalicelib.domain.patch import PatchOp

ALICE = RequestContext("alice", "proj-race", frozenset({"member", "reader"}))


def slow_chunks(data: bytes, pieces: int, pause: float) -> Iterator[bytes]:
    """``data`` in ``pieces`` chunks with a pause before each: other writers get between the upload's writes."""
    step = -(-len(data) // pieces)
    for start in range(0, len(data), step):
        time.sleep(pause)
        yield data[start:start + step]


def stored_bytes(aws: Any, image_id: str) -> bytes:
    store = aws.data.store
    return bytes(store.client.get_object(Bucket=store.bucket, Key=f"images/{image_id}")["Body"].read())


@pytest.mark.parametrize("size", [4096, 9 * 1024 * 1024], ids=["single-put", "multipart"])
@pytest.mark.parametrize("renamers", [1, 2, 8])
def test_an_upload_while_others_rename_succeeds_with_its_bytes_and_the_last_name(
    serial_moto: Any, renamers: int, size: int,
) -> None:
    aws = serial_moto
    image = aws.images.create(ALICE, {"name": "start", "disk_format": "raw", "container_format": "bare"})
    data = bytes(range(256)) * (size // 256)
    done = threading.Event()
    renamed: list[Image] = []
    during: list[Image] = []
    lock = threading.Lock()

    def rename(worker: int) -> None:
        n = 0
        while not done.is_set() or n < 2:
            n += 1
            try:
                stored = aws.images.update(ALICE, image.id, [PatchOp("replace", ("name",), f"w{worker}-{n}")])
            except DomainError:
                continue  # another renamer won this round: a rename is retried by its own client
            with lock:
                renamed.append(stored)
                if not done.is_set():
                    during.append(stored)
            time.sleep(0.002)  # a client's round trip: the serialised emulator's lock is not fair

    threads = [threading.Thread(target=rename, args=(w,)) for w in range(renamers)]
    for t in threads:
        t.start()
    try:
        uploaded = aws.data.upload(ALICE, image.id, slow_chunks(data, 6, 0.02), None)
    finally:
        done.set()
        for t in threads:
            t.join(timeout=60)

    assert uploaded.status is ImageStatus.ACTIVE
    assert during, "no rename landed while the upload ran: the race did not happen"
    final = aws.ports.images.get(image.id)
    last = max(renamed, key=lambda im: im.version)
    assert final.status is ImageStatus.ACTIVE and final.size == len(data)
    assert final.checksum == hashlib.md5(data).hexdigest()
    assert final.name == last.name
    assert stored_bytes(aws, image.id) == data
    assert aws.ports.images.usage(ALICE.project_id)["uploading_count"] == 0


def test_uploads_racing_deletes_leave_usage_equal_to_the_images_left(serial_moto: Any) -> None:
    aws = serial_moto
    data = b"\x01" * 300_000
    outcomes: dict[str, int] = {}
    for round_ in range(50):
        image = aws.images.create(ALICE, {"name": f"r{round_}", "disk_format": "raw", "container_format": "bare"})
        start = threading.Barrier(2, timeout=10)

        def upload() -> None:
            start.wait()
            try:
                aws.data.upload(ALICE, image.id, slow_chunks(data, 3, 0.001 * (round_ % 4)), None)
                outcomes["uploaded"] = outcomes.get("uploaded", 0) + 1
            except BaseException as exc:  # noqa: BLE001 - every outcome is counted and judged below
                outcomes[type(exc).__name__] = outcomes.get(type(exc).__name__, 0) + 1

        def delete() -> None:
            start.wait()
            time.sleep(0.002 * (round_ % 20))  # from at once to after the upload has finished
            aws.images.delete(ALICE, image.id)

        threads = [threading.Thread(target=upload), threading.Thread(target=delete)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        counters = aws.ports.images.usage(ALICE.project_id)
        assert min(counters.values()) >= 0, (round_, counters)
        assert counters == {"image_bytes": 0, "image_count": 0, "uploading_count": 0, "staged_bytes": 0}, round_
        store = aws.data.store
        left = store.client.list_objects_v2(Bucket=store.bucket).get("Contents", [])
        assert left == [], (round_, left)
    assert sum(outcomes.values()) == 50 and "uploaded" in outcomes and len(outcomes) >= 2, outcomes  # both orders
    assert set(outcomes) <= {"uploaded", "Gone", "NotFound", "InvalidTransition"}, outcomes  # Glance's answers only
