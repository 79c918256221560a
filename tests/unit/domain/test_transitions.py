"""Every (from, to) pair of the status machine, generated from the table itself."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from chalicelib.domain import images as d
from chalicelib.domain.errors import InvalidInput, InvalidTransition, ProtectedImage
from chalicelib.domain.images import TRANSITIONS, Image, ImageStatus

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
PAIRS = [(src, dst) for src in ImageStatus for dst in ImageStatus]


def make(status: ImageStatus, **kw: object) -> Image:
    base = dict(id="img", owner="p", created_at=NOW, updated_at=NOW, status=status, disk_format="raw", container_format="bare")
    base.update(kw)
    return Image(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("src,dst", PAIRS, ids=[f"{s.value}->{t.value}" for s, t in PAIRS])
def test_transition_allowed_exactly_when_table_says(src: ImageStatus, dst: ImageStatus) -> None:
    image = make(src)
    if dst in TRANSITIONS[src]:
        assert d.transition(image, dst).status is dst
    else:
        with pytest.raises(InvalidTransition) as err:
            d.transition(image, dst)
        assert err.value.kwargs == {"image_id": "img", "current": src.value, "target": dst.value}


def test_table_matches_glance_valid_state_targets() -> None:
    # Spot-check the rows the rest of the service leans on (reference 2.1).
    assert TRANSITIONS[ImageStatus.DELETED] == frozenset()
    assert TRANSITIONS[ImageStatus.QUEUED] == {
        ImageStatus.SAVING, ImageStatus.UPLOADING, ImageStatus.IMPORTING, ImageStatus.ACTIVE, ImageStatus.DELETED
    }
    assert set(TRANSITIONS) == set(ImageStatus)


DATA_MOVES = [
    (src, dst)
    for src in (ImageStatus.QUEUED, ImageStatus.UPLOADING)
    for dst in (ImageStatus.SAVING, ImageStatus.ACTIVE, ImageStatus.IMPORTING)
    if dst in TRANSITIONS[src]
]


@pytest.mark.parametrize("src,dst", DATA_MOVES)
@pytest.mark.parametrize("missing", ["disk_format", "container_format"])
def test_leaving_pre_data_status_needs_both_formats(src: ImageStatus, dst: ImageStatus, missing: str) -> None:
    with pytest.raises(InvalidInput, match=f"Property {missing} must be set prior to saving data"):
        d.transition(make(src, **{missing: None}), dst)


def test_requeue_clears_sizes() -> None:
    image = make(ImageStatus.SAVING, size=10, virtual_size=20)
    moved = d.requeue(image)
    assert (moved.status, moved.size, moved.virtual_size) == (ImageStatus.QUEUED, None, None)


def test_named_transitions_go_where_their_names_say() -> None:
    assert d.begin_upload(make(ImageStatus.QUEUED)).status is ImageStatus.SAVING
    assert d.begin_stage(make(ImageStatus.QUEUED)).status is ImageStatus.UPLOADING
    assert d.begin_import(make(ImageStatus.UPLOADING)).status is ImageStatus.IMPORTING
    assert d.activate(make(ImageStatus.SAVING)).status is ImageStatus.ACTIVE
    assert d.deactivate(make(ImageStatus.ACTIVE)).status is ImageStatus.DEACTIVATED
    assert d.kill(make(ImageStatus.SAVING)).status is ImageStatus.KILLED


def test_delete_protected_is_refused() -> None:
    with pytest.raises(ProtectedImage):
        d.mark_deleted(make(ImageStatus.ACTIVE, protected=True), delayed_delete=False, has_data=True)


def test_delayed_delete_of_active_with_data_is_pending_delete() -> None:
    image = make(ImageStatus.ACTIVE)
    assert d.mark_deleted(image, delayed_delete=True, has_data=True).status is ImageStatus.PENDING_DELETE
    assert d.mark_deleted(image, delayed_delete=False, has_data=True).status is ImageStatus.DELETED
    assert d.mark_deleted(make(ImageStatus.QUEUED), delayed_delete=True, has_data=False).status is ImageStatus.DELETED


def test_delayed_delete_of_deactivated_with_data_is_invalid() -> None:
    # Glance: deactivated -> pending_delete is not in the table (reference 2.1 consequence).
    with pytest.raises(InvalidTransition):
        d.mark_deleted(make(ImageStatus.DEACTIVATED), delayed_delete=True, has_data=True)


def test_listed_excludes_deleted_killed_pending_delete() -> None:
    assert {s for s in ImageStatus if not make(s).listed} == {
        ImageStatus.DELETED, ImageStatus.KILLED, ImageStatus.PENDING_DELETE
    }
    assert replace(make(ImageStatus.ACTIVE)).listed
