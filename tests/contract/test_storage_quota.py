"""user_storage_quota: the owner's stored bytes move atomically with each status change."""
from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import QuotaExceeded
from chalicelib.domain.images import ImageStatus, activate
from tests.service_factories import ImageHarness

ALICE = RequestContext("alice", "proj-a", frozenset({"member", "reader"}))


def fill(harness: ImageHarness, size: int) -> str:
    """Create an image and move it saving -> active with ``size`` bytes, through the service's write path."""
    image = harness.svc.create(ALICE, {"disk_format": "raw", "container_format": "bare"})
    stored = harness.repo.get(image.id)
    saving = harness.repo.save(replace(stored, status=ImageStatus.SAVING), expected=stored)
    harness.writer.change(ALICE, image.id, lambda im: replace(activate(im), size=size))
    assert saving.status is ImageStatus.SAVING
    return image.id


def test_quota_refuses_the_activation_that_would_pass_it(harness: ImageHarness) -> None:
    harness = harness.reconfigured(user_storage_quota=100)
    svc = harness.svc
    fill(harness, 60)
    with pytest.raises(QuotaExceeded):
        fill(harness, 50)
    assert fill(harness, 40)  # exactly at the quota is fine


def test_deleting_frees_quota_and_deactivation_does_not(harness: ImageHarness) -> None:
    harness = harness.reconfigured(user_storage_quota=100)
    svc = harness.svc
    first = fill(harness, 80)
    svc.deactivate(ALICE, first)
    with pytest.raises(QuotaExceeded):
        fill(harness, 30)
    svc.delete(ALICE, first)
    assert fill(harness, 90)


def test_zero_quota_is_unlimited(harness: ImageHarness) -> None:
    assert fill(harness, 10**12)
