"""Delayed delete and the scrubber, against both repositories."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import NotFound
from chalicelib.domain.images import ImageStatus
from chalicelib.services.images import ImageService

ALICE = RequestContext("alice", "proj-a", frozenset({"member", "reader"}))


def active_image(svc: ImageService) -> str:
    image = svc.create(ALICE, {"disk_format": "raw", "container_format": "bare"})
    stored = svc.repo.get(image.id)
    svc.repo.save(replace(stored, status=ImageStatus.ACTIVE, size=10), expected=stored)
    return image.id


def test_delayed_delete_keeps_image_pending_until_the_delay_has_passed(svc: ImageService) -> None:
    svc.delayed_delete = True
    old, young = active_image(svc), active_image(svc)
    svc.delete(ALICE, old)
    svc.clock.current += timedelta(hours=2)  # type: ignore[attr-defined]
    svc.delete(ALICE, young)
    assert svc.repo.get(old).status is ImageStatus.PENDING_DELETE
    with pytest.raises(NotFound):
        svc.show(ALICE, old)

    now = svc.clock.now()
    assert svc.scrub(now, timedelta(hours=1)) == [old]
    assert svc.repo.get(old).status is ImageStatus.DELETED
    assert svc.repo.get(young).status is ImageStatus.PENDING_DELETE
    assert svc.scrub(now, timedelta(hours=1)) == []  # idempotent: the index no longer holds it
    assert svc.scrub(now + timedelta(hours=3), timedelta(hours=1)) == [young]


def test_queued_image_is_deleted_at_once_even_with_delayed_delete(svc: ImageService) -> None:
    svc.delayed_delete = True
    image = svc.create(ALICE, {})
    assert svc.delete(ALICE, image.id).status is ImageStatus.DELETED
