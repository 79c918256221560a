"""The ImageWriter over fakes: transient faults retried with growing jittered delays, a write that landed
before its answer was lost is recognised (never applied twice, never a false 409), budgets end in the fault."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import TransientFault
from chalicelib.domain.images import Image, ImageStatus, begin_upload
from chalicelib.services.writer import ImageWriter, RetryPolicy
from tests.fakes import InMemoryImageRepository, InMemoryMemberRepository, TickingClock

ALICE = RequestContext("alice", "proj-a", frozenset({"member", "reader"}))


class FlakyRepo(InMemoryImageRepository):
    """Fails the next ``faults`` writes; with ``land``, each failed write is stored first (its answer is lost)."""

    def __init__(self, faults: int, land: bool = False) -> None:
        super().__init__()
        self.faults, self.land, self.writes = faults, land, 0

    def _flaky(self, write: Any) -> Any:
        self.writes += 1
        if self.faults:
            self.faults -= 1
            if self.land:
                write()
            raise TransientFault(detail="throttled")
        return write()

    def add(self, image: Image, **kw: Any) -> Image:
        return self._flaky(lambda: super(FlakyRepo, self).add(image, **kw))  # type: ignore[no-any-return]

    def save(self, image: Image, **kw: Any) -> Image:
        return self._flaky(lambda: super(FlakyRepo, self).save(image, **kw))  # type: ignore[no-any-return]


def writer(repo: FlakyRepo, sleeps: list[float], transient: int = 5) -> ImageWriter:
    return ImageWriter(repo, InMemoryMemberRepository(repo), TickingClock(), {}, RetryPolicy(transient=transient),
                       sleep=sleeps.append)


def image(clock: TickingClock = TickingClock()) -> Image:
    now = clock.now()
    return Image(id="i-1", owner="proj-a", created_at=now, updated_at=now, disk_format="raw", container_format="bare")


def test_faults_are_retried_with_growing_jittered_delays() -> None:
    repo, sleeps = FlakyRepo(faults=3), []
    w = writer(repo, sleeps)
    w.add(image())
    assert repo.writes == 4 and len(sleeps) == 3
    policy = RetryPolicy()
    for n, delay in enumerate(sleeps, start=1):
        assert 0 <= delay <= min(policy.max_delay, policy.base_delay * 2 ** n)


def test_an_add_that_landed_before_the_fault_is_not_a_duplicate() -> None:
    repo = FlakyRepo(faults=1, land=True)
    made = writer(repo, []).add(image())
    assert repo.get(made.id) == made and repo.usage("proj-a")["image_count"] == 1


def test_a_save_that_landed_before_the_fault_is_not_judged_again() -> None:
    repo = FlakyRepo(faults=0)
    w = writer(repo, [])
    w.add(image())
    repo.faults, repo.land = 1, True
    # begin_upload would refuse a second time (saving -> saving): a re-judged retry would answer 409.
    written = w.change(ALICE, "i-1", begin_upload)
    assert written.before.status is ImageStatus.QUEUED and written.after.status is ImageStatus.SAVING
    assert repo.get("i-1") == written.after and written.after.version == 1
    assert repo.usage("proj-a")["uploading_count"] == 1  # counted once


def test_a_fault_that_does_not_pass_is_raised_and_nothing_changes() -> None:
    repo, sleeps = FlakyRepo(faults=0), []
    w = writer(repo, sleeps, transient=3)
    w.add(image())
    stored = repo.get("i-1")
    repo.faults = 100
    with pytest.raises(TransientFault):
        w.change(ALICE, "i-1", lambda im: replace(im, name="renamed"))
    assert repo.get("i-1") == stored and len(sleeps) == 2


class RetriedIntoItself(InMemoryImageRepository):
    """The SDK's retry of a write whose answer was lost meets the write itself: it lands, then 'fails' its
    condition (ConditionalCheckFailed), as botocore's own retries do against real DynamoDB."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False

    def save(self, image: Image, **kw: Any) -> Image:
        stored = super().save(image, **kw)
        if self.armed:
            self.armed = False
            from chalicelib.domain.errors import ConcurrentUpdate

            raise ConcurrentUpdate(image_id=image.id)
        return stored

    def add(self, image: Image, **kw: Any) -> Image:
        stored = super().add(image, **kw)
        if self.armed:
            self.armed = False
            from chalicelib.domain.errors import Duplicate

            raise Duplicate(image_id=image.id)
        return stored


def test_a_write_the_sdk_retried_into_its_own_condition_is_recognised() -> None:
    repo = RetriedIntoItself()
    w = ImageWriter(repo, InMemoryMemberRepository(repo), TickingClock(), {}, sleep=lambda _: None)
    repo.armed = True
    made = w.add(image())  # not a Duplicate: it is our own
    assert repo.get(made.id) == made
    repo.armed = True
    written = w.change(ALICE, made.id, begin_upload)  # not a 409 from re-judging saving -> saving
    assert written.after.status is ImageStatus.SAVING and repo.get(made.id) == written.after
    assert repo.usage("proj-a")["uploading_count"] == 1


def test_a_finished_upload_whose_answer_was_lost_is_not_gone_after_a_later_edit() -> None:
    """The upload's finish lands, its answer is lost (a fault), and a rename lands before the writer looks: the
    writer cannot match its own stamp, judges again, and the upload's judge sees its own data: active, not 410."""
    from chalicelib.domain.patch import PatchOp
    from tests.conftest import test_settings
    from tests.fakes.adapters import fake_container

    svc = fake_container(test_settings())
    repo = svc.ports.images
    image_id = svc.images.create(ALICE, {"name": "n", "disk_format": "raw", "container_format": "bare"}).id
    real_save = repo.save

    def lose_the_finish_answer(new: Image, **kw: Any) -> Image:
        stored = real_save(new, **kw)
        if stored.status is ImageStatus.ACTIVE and stored.name == "n":
            repo.save = real_save
            svc.images.update(ALICE, image_id, [PatchOp("replace", ("name",), "renamed")])
            raise TransientFault(detail="connection failed")
        return stored

    repo.save = lose_the_finish_answer
    uploaded = svc.data.upload(ALICE, image_id, [b"\x00" * 512], None)
    assert uploaded.status is ImageStatus.ACTIVE and uploaded.size == 512 and uploaded.name == "renamed"
    assert svc.ports.store.keys() == [f"images/{image_id}"]


def test_a_begun_upload_whose_answer_was_lost_is_not_refused_after_a_later_edit() -> None:
    """The upload's begin (queued -> saving) lands, its answer is lost, and a rename lands before the writer looks:
    the writer finds its own hold token, so the upload goes on (no 409 for saving -> saving, no image left
    saving with nobody uploading) and ends active with its bytes and the later name."""
    from chalicelib.domain.patch import PatchOp
    from tests.conftest import test_settings
    from tests.fakes.adapters import fake_container

    svc = fake_container(test_settings())
    repo = svc.ports.images
    image_id = svc.images.create(ALICE, {"name": "n", "disk_format": "raw", "container_format": "bare"}).id
    real_save = repo.save
    held: list[str | None] = []

    def lose_the_begin_answer(new: Image, **kw: Any) -> Image:
        stored = real_save(new, **kw)
        if stored.status is ImageStatus.SAVING:
            repo.save = real_save
            held.append(stored.holder)
            svc.images.update(ALICE, image_id, [PatchOp("replace", ("name",), "renamed")])
            raise TransientFault(detail="connection failed")
        return stored

    repo.save = lose_the_begin_answer
    uploaded = svc.data.upload(ALICE, image_id, [b"\x00" * 512], None)
    assert held and held[0] is not None, "the begin did not land with a hold token: the race did not happen"
    assert uploaded.status is ImageStatus.ACTIVE and uploaded.size == 512 and uploaded.name == "renamed"
    assert repo.get(image_id).holder is None  # the hold ended with the upload
    assert svc.ports.store.keys() == [f"images/{image_id}"]


def test_an_upload_cannot_finish_or_give_back_another_uploads_hold() -> None:
    """Upload A fails late, after its image was given back and upload B began: A's cleanup must not requeue B's
    image, and A's finish must not take B's hold (only the token's owner moves it)."""
    from chalicelib.services.image_data import Hold
    from tests.conftest import test_settings
    from tests.fakes.adapters import fake_container

    svc = fake_container(test_settings())
    image_id = svc.images.create(ALICE, {"name": "n", "disk_format": "raw", "container_format": "bare"}).id
    repo = svc.ports.images
    b_hold = svc.data._writer.change(ALICE, image_id, lambda im: replace(begin_upload(im), holder="b-token")).after
    a = Hold(ImageStatus.SAVING, "a-token")
    assert not a.kept_by(b_hold) and Hold(ImageStatus.SAVING, "b-token").kept_by(b_hold)
    svc.data._abandon(image_id, f"images/{image_id}", a, lambda im: im)  # A's give-back: B's image untouched
    stored = repo.get(image_id)
    assert stored.status is ImageStatus.SAVING and stored.holder == "b-token"
