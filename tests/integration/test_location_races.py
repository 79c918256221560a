"""Glance's location TODO, closed: a status change that lands between a request's read and its write.

Each race drives a real concurrent writer (another conditional write through the
adapter) right after the request has read the image, so the request's own write
meets DynamoDB's condition with the status already moved. The write must be
refused by that condition, or applied only when the final status permits it.
"""
from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any, Callable, Iterator

import pytest

from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import ConcurrentUpdate, Conflict, DomainError
from chalicelib.domain.images import Image, ImageStatus, Location
from chalicelib.domain.locations import ADD_STATUSES, REMOVE_STATUSES
from chalicelib.domain.patch import PatchOp
from tests.webserver import ALLOWED_PORTS, FileServer, file_server

S = ImageStatus
pytestmark = pytest.mark.settings(show_multiple_locations=True, allowed_hosts=frozenset({"127.0.0.1"}), allowed_ports=ALLOWED_PORTS)
ADMIN = RequestContext("admin", "admin-proj", frozenset({"admin"}))
ALLOWED = {"add": ADD_STATUSES, "replace": ADD_STATUSES, "remove": REMOVE_STATUSES}
# Glance's TODO: status changes that could slip between the location check and the write.
RACES = [
    (S.SAVING, S.ACTIVE), (S.DEACTIVATED, S.ACTIVE), (S.ACTIVE, S.DEACTIVATED),
    (S.QUEUED, S.SAVING), (S.ACTIVE, S.DELETED), (S.ACTIVE, S.KILLED),
]


@pytest.fixture
def web() -> Iterator[FileServer]:
    with file_server() as server:
        server.files.update({f"/{n}.img": b"d" * 64 for n in range(40)})
        yield server


def ops_for(op: str, web: FileServer, current: tuple[str, ...]) -> list[PatchOp]:
    if op == "add":
        return [PatchOp("add", ("locations", "-"), {"url": web["/9.img"], "metadata": {}})]
    if op == "replace":
        urls = current or (web["/9.img"],)
        return [PatchOp("replace", ("locations",), [{"url": u, "metadata": {"m": "1"}} for u in urls])]
    return [PatchOp("remove", ("locations", "0"))]


def seeded(aws: Any, status: ImageStatus, urls: tuple[str, ...]) -> Image:
    image = aws.images.create(ADMIN, {"disk_format": "raw", "container_format": "bare"})
    stored = replace(image, status=status, size=64 if urls else None, locations=tuple(Location(u, {}) for u in urls))
    return aws.ports.images.save(stored, expected=image)


def after_first_read(repo: Any, action: Callable[[Image], None]) -> None:
    """Run ``action`` (another writer) once, right after the request's first read returns."""
    real_get = repo.get
    fired = []

    def get(image_id: str) -> Image:
        found = real_get(image_id)
        if not fired:
            fired.append(True)
            action(found)
        return found

    repo.get = get


@pytest.mark.parametrize("op", ["add", "replace", "remove"])
@pytest.mark.parametrize("before, after", RACES, ids=[f"{a.value}->{b.value}" for a, b in RACES])
def test_status_change_between_read_and_write(
    aws: Any, web: FileServer, op: str, before: ImageStatus, after: ImageStatus
) -> None:
    urls = (web["/1.img"], web["/2.img"]) if before not in (S.QUEUED, S.SAVING) else ()
    image = seeded(aws, before, urls)
    repo = aws.ports.images
    real_get, real_save = repo.get, repo.save
    refused_by_condition: list[ImageStatus] = []

    def save(new: Image, *, expected: Image, **kw: Any) -> Image:
        try:
            return real_save(new, expected=expected, **kw)
        except ConcurrentUpdate:
            refused_by_condition.append(expected.status)
            raise

    def other_writer(seen: Image) -> None:
        # A concurrent request moves the status with its own conditional write.
        real_save(replace(seen, status=after), expected=seen)

    after_first_read(repo, other_writer)
    repo.save = save
    try:
        outcome: Image | DomainError = aws.images.update(ADMIN, image.id, ops_for(op, web, urls))
    except Conflict as exc:
        outcome = exc
    finally:
        repo.get, repo.save = real_get, real_save

    stored = real_get(image.id)
    assert stored.status in (after, S.ACTIVE)
    permitted_before, permitted_after = before in ALLOWED[op], after in ALLOWED[op]
    if permitted_before:
        # The request's write was conditioned on the status it read, and DynamoDB refused it.
        assert refused_by_condition == [before]
    if permitted_before and permitted_after:
        assert isinstance(outcome, Image) and outcome.locations == stored.locations
        assert stored.locations != tuple(Location(u, {}) for u in urls)  # applied, on the final status
    else:
        assert isinstance(outcome, Conflict), outcome
        assert stored.status is after
        assert stored.locations == tuple(Location(u, {}) for u in urls)  # nothing changed


def test_concurrent_location_changes_never_land_in_a_forbidden_status(serial_moto: Any, web: FileServer) -> None:
    """Location writers race deactivate/reactivate and a final delete through the real write path.

    A test-side log keeps every accepted write with the status it was conditioned on; the log
    must be one linear history (each write's expected version is the previous write's result)
    and no location change may have been accepted in a status that forbids it.
    """
    aws = serial_moto
    image = seeded(aws, S.ACTIVE, (web["/0.img"], web["/1.img"]))
    repo = aws.ports.images
    real_save = repo.save
    log: list[tuple[Image, Image]] = []
    log_lock = threading.Lock()

    def logged_save(new: Image, *, expected: Image, **kw: Any) -> Image:
        stored = real_save(new, expected=expected, **kw)  # raises when the condition fails
        with log_lock:
            log.append((expected, stored))
        return stored

    repo.save = logged_save
    stop = threading.Event()
    errors: list[BaseException] = []

    def guarded(body: Callable[[int], None]) -> Callable[[], None]:
        def run() -> None:
            for n in range(25):
                if stop.is_set():
                    return
                try:
                    body(n)
                except DomainError:
                    pass  # 409/403/404 are answers, not failures
                except BaseException as exc:  # noqa: BLE001 - surfaced below
                    errors.append(exc)
                    return
        return run

    def adder(offset: int) -> Callable[[int], None]:
        def body(n: int) -> None:
            url = web[f"/{2 + (offset * 12 + n) % 38}.img"]
            aws.images.update(ADMIN, image.id, [PatchOp("add", ("locations", "-"), {"url": url, "metadata": {}})])
        return body

    def remover(n: int) -> None:
        aws.images.update(ADMIN, image.id, [PatchOp("remove", ("locations", "0"))])

    def toggler(n: int) -> None:
        (aws.images.deactivate if n % 2 == 0 else aws.images.reactivate)(ADMIN, image.id)

    def deleter() -> None:
        # Midway through, delete; a lost race (409 after the service's retries) is tried again.
        while len(log) < 12 and not errors:
            stop.wait(0.01)
        for _ in range(100):
            try:
                aws.images.delete(ADMIN, image.id)
                return
            except ConcurrentUpdate:
                continue
            except BaseException as exc:  # noqa: BLE001 - surfaced below
                errors.append(exc)
                return

    bodies = (adder(0), adder(1), remover, toggler, toggler)
    threads = [threading.Thread(target=guarded(b)) for b in bodies] + [threading.Thread(target=deleter)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    stop.set()
    repo.save = real_save
    assert not errors, errors

    final = repo.get(image.id)
    assert final.status is S.DELETED
    # One linear history: every accepted write started from the version the previous one produced.
    versions = sorted((expected.version, stored.version) for expected, stored in log)
    assert [v for _, v in versions] == [e + 1 for e, _ in versions]
    assert [e for e, _ in versions] == list(range(image.version, final.version))
    location_writes = [(e, s) for e, s in log if e.locations != s.locations]
    assert location_writes, "no location change was accepted; the race did not happen"
    assert any(e.status is not S.ACTIVE for e, _ in log), "no status change was accepted"
    for expected, stored in location_writes:
        added = {loc.url for loc in stored.locations} - {loc.url for loc in expected.locations}
        dropped = {loc.url for loc in expected.locations} - {loc.url for loc in stored.locations}
        if added:
            assert expected.status in ADD_STATUSES, (expected.status, added)
        if dropped and stored.status is not S.DELETED:
            assert expected.status in REMOVE_STATUSES, (expected.status, dropped)
