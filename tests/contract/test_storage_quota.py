"""user_storage_quota: the owner's stored bytes move atomically with each status change."""
from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import QuotaExceeded
from chalicelib.domain.images import ImageStatus, activate
from chalicelib.services.images import ImageService

ALICE = RequestContext("alice", "proj-a", frozenset({"member", "reader"}))


def fill(svc: ImageService, size: int) -> str:
    """Create an image and move it saving -> active with ``size`` bytes, through the service's write path."""
    image = svc.create(ALICE, {"disk_format": "raw", "container_format": "bare"})
    stored = svc.repo.get(image.id)
    saving = svc.repo.save(replace(stored, status=ImageStatus.SAVING), expected=stored)
    svc.mutate(ALICE, image.id, lambda im: replace(activate(im), size=size))
    assert saving.status is ImageStatus.SAVING
    return image.id


def test_quota_refuses_the_activation_that_would_pass_it(svc: ImageService) -> None:
    svc.limits = replace(svc.limits, storage_quota=100)
    fill(svc, 60)
    with pytest.raises(QuotaExceeded):
        fill(svc, 50)
    assert fill(svc, 40)  # exactly at the quota is fine


def test_deleting_frees_quota_and_deactivation_does_not(svc: ImageService) -> None:
    svc.limits = replace(svc.limits, storage_quota=100)
    first = fill(svc, 80)
    svc.deactivate(ALICE, first)
    with pytest.raises(QuotaExceeded):
        fill(svc, 30)
    svc.delete(ALICE, first)
    assert fill(svc, 90)


def test_zero_quota_is_unlimited(svc: ImageService) -> None:
    assert fill(svc, 10**12)
