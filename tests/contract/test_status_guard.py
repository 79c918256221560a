"""The STATUS guard, on both repositories: a status move writes only what it changes, conditioned on the
status, the service's properties and the old values of what it writes; a concurrent rename survives it
and never refuses it. The VERSION guard (metadata edits) refuses any concurrent write."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.images import Image, ImageStatus, begin_upload
from chalicelib.domain.imports import take_lock
from chalicelib.ports import STATUS, VERSION, Guard
from tests.service_factories import ImageHarness

ALICE = RequestContext("alice", "proj-g", frozenset({"member", "reader"}))


def queued(harness: ImageHarness) -> Image:
    return harness.svc.create(ALICE, {"name": "first", "disk_format": "raw", "container_format": "bare"})


def rename(harness: ImageHarness, image_id: str, name: str) -> Image:
    current = harness.repo.get(image_id)
    return harness.repo.save(replace(current, name=name), expected=current)  # type: ignore[no-any-return]


def test_a_status_move_keeps_a_concurrent_rename(harness: ImageHarness) -> None:
    seen = queued(harness)
    rename(harness, seen.id, "renamed")
    stored = harness.repo.save(begin_upload(seen), expected=seen, guard=STATUS,
                               usage_delta={"uploading_count": 1})
    assert stored.status is ImageStatus.SAVING and stored.name == "renamed" and stored.version == seen.version + 2
    assert harness.repo.get(seen.id) == stored
    assert harness.repo.usage(ALICE.project_id)["uploading_count"] == 1


def test_a_version_save_refuses_after_a_concurrent_rename(harness: ImageHarness) -> None:
    seen = queued(harness)
    rename(harness, seen.id, "renamed")
    with pytest.raises(ConcurrentUpdate):
        harness.repo.save(replace(seen, min_ram=64), expected=seen, guard=VERSION)
    assert harness.repo.get(seen.id).min_ram == 0


@pytest.mark.parametrize("interloper", ["status", "lock", "same attribute", "named dependency"])
def test_a_status_move_refuses_what_it_depends_on_having_moved(harness: ImageHarness, interloper: str) -> None:
    seen = queued(harness)
    current = harness.repo.get(seen.id)
    moved = {
        "status": lambda im: begin_upload(im),
        "lock": lambda im: take_lock(im, "task-x", holder_stale=False, stores=["s3"]),
        "same attribute": lambda im: replace(im, checksum="c" * 32),
        "named dependency": lambda im: replace(im, protected=True),
    }[interloper](current)
    harness.repo.save(moved, expected=current, guard=STATUS if interloper in ("status", "lock") else VERSION)
    before = harness.repo.get(seen.id)
    ours = replace(begin_upload(seen), checksum="d" * 32)
    guard = Guard(version=False, depends=frozenset({"protected"}))
    with pytest.raises(ConcurrentUpdate):
        harness.repo.save(ours, expected=seen, guard=guard)
    assert harness.repo.get(seen.id) == before


def test_a_rename_between_every_read_and_write_never_fails_a_status_move(harness: ImageHarness) -> None:
    """As an upload meets a client renaming in a loop: VERSION would lose every race; STATUS never does."""
    seen = queued(harness)
    real_save = harness.repo.save
    renames = []

    def save_after_a_rename(image: Image, *, expected: Image, **kw: Any) -> Any:
        if kw.get("guard", VERSION) is STATUS or image.status is not expected.status:
            renames.append(rename(harness, image.id, f"n{len(renames)}"))
        return real_save(image, expected=expected, **kw)

    harness.repo.save = save_after_a_rename
    try:
        with pytest.raises(ConcurrentUpdate):
            harness.writer.change(ALICE, seen.id, begin_upload)  # the version guard loses each race
        written = harness.writer.change(ALICE, seen.id, begin_upload, guard=STATUS)
    finally:
        harness.repo.save = real_save
    assert written.after.status is ImageStatus.SAVING and written.after.name == renames[-1].name
    assert harness.repo.get(seen.id) == written.after


@pytest.mark.parametrize("edit", ["tag", "visibility"])
def test_a_status_move_that_keeps_the_tag_rows_survives_a_concurrent_tag_or_visibility_edit(
    harness: ImageHarness, edit: str,
) -> None:
    seen = queued(harness)
    current = harness.repo.get(seen.id)
    edited = replace(current, tags=frozenset({"t"})) if edit == "tag" else replace(current, visibility="private")
    harness.repo.save(edited, expected=current)
    stored = harness.repo.save(begin_upload(seen), expected=seen, guard=STATUS)
    assert stored.status is ImageStatus.SAVING
    assert (stored.tags, stored.visibility) == (edited.tags, edited.visibility)


@pytest.mark.parametrize("interloper", ["locations", "rename"])
def test_the_location_hashes_are_written_only_over_the_locations_read(harness: ImageHarness, interloper: str) -> None:
    from chalicelib.domain.images import Location
    from chalicelib.services.location_import import HASH_GUARD

    seen = queued(harness)
    located = harness.repo.save(replace(seen, locations=(Location("http://example.com/a", {}),)), expected=seen)
    if interloper == "locations":  # another writer took the location away after the task read the image
        harness.repo.save(replace(located, locations=()), expected=located)
    else:
        rename(harness, seen.id, "renamed")
    hashed = replace(located, checksum="c" * 32, os_hash_algo="sha512", os_hash_value="e" * 128)
    if interloper == "locations":
        with pytest.raises(ConcurrentUpdate):
            harness.repo.save(hashed, expected=located, guard=HASH_GUARD)
        assert harness.repo.get(seen.id).checksum is None
    else:
        stored = harness.repo.save(hashed, expected=located, guard=HASH_GUARD)
        assert (stored.name, stored.checksum, stored.os_hash_value) == ("renamed", "c" * 32, "e" * 128)
