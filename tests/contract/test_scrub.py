"""Delayed delete and the scrubber, against both repositories."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import NotFound
from chalicelib.domain.images import ImageStatus
from tests.service_factories import ImageHarness

ALICE = RequestContext("alice", "proj-a", frozenset({"member", "reader"}))


def active_image(harness: ImageHarness) -> str:
    image = harness.svc.create(ALICE, {"disk_format": "raw", "container_format": "bare"})
    stored = harness.repo.get(image.id)
    harness.repo.save(replace(stored, status=ImageStatus.ACTIVE, size=10), expected=stored)
    return image.id


def test_delayed_delete_keeps_image_pending_until_the_delay_has_passed(harness: ImageHarness) -> None:
    harness = harness.reconfigured(delayed_delete=True)
    svc = harness.svc
    old, young = active_image(harness), active_image(harness)
    svc.delete(ALICE, old)
    harness.clock.current += timedelta(hours=2)
    svc.delete(ALICE, young)
    assert harness.repo.get(old).status is ImageStatus.PENDING_DELETE
    with pytest.raises(NotFound):
        svc.show(ALICE, old)

    now = harness.clock.now()
    assert svc.scrub(now, timedelta(hours=1)) == [old]
    assert harness.repo.get(old).status is ImageStatus.DELETED
    assert harness.repo.get(young).status is ImageStatus.PENDING_DELETE
    assert svc.scrub(now, timedelta(hours=1)) == []  # idempotent: the index no longer holds it
    assert svc.scrub(now + timedelta(hours=3), timedelta(hours=1)) == [young]


def test_queued_image_is_deleted_at_once_even_with_delayed_delete(harness: ImageHarness) -> None:
    svc = harness.reconfigured(delayed_delete=True).svc
    image = svc.create(ALICE, {})
    assert svc.delete(ALICE, image.id).status is ImageStatus.DELETED
