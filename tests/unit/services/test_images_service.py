"""Image use cases against the in-memory fakes: policy, visibility, quotas, races."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from chalicelib.domain import listing
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import (
    BadTransition, ConcurrentUpdate, Conflict, Duplicate, Forbidden, InvalidInput, NotFound, ProtectedImage,
    QuotaExceeded, ReadonlyProperty, ReservedProperty,
)
from chalicelib.domain.images import ImageStatus
from chalicelib.domain.members import Member
from chalicelib.domain.patch import PatchOp
from chalicelib.config import LimitSettings
from chalicelib.services.images import ImageService, ListQuery
from tests.fakes import InMemoryImageRepository, InMemoryMemberRepository
from tests.service_factories import ImageHarness

ADMIN = RequestContext("admin", "admin-proj", frozenset({"admin", "member", "reader"}))
ALICE = RequestContext("alice", "proj-a", frozenset({"member", "reader"}))
BOB = RequestContext("bob", "proj-b", frozenset({"member", "reader"}))
READER_A = RequestContext("ra", "proj-a", frozenset({"reader"}))


@pytest.fixture
def harness() -> ImageHarness:
    repo = InMemoryImageRepository()
    members = InMemoryMemberRepository(repo)
    repo.members = members
    return ImageHarness(repo, members, LimitSettings(image_property_quota=3, image_tag_quota=2))


@pytest.fixture
def svc(harness: ImageHarness) -> ImageService:
    return harness.svc


def share(harness: ImageHarness, image_id: str, project: str, status: str = "accepted") -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    harness.members.add(Member(image_id, project, status, now, now), harness.repo.get(image_id))


def query(**kw: object) -> ListQuery:
    filters = kw.pop("filters", listing.Filters())
    return ListQuery(filters=filters, order=kw.pop("order", listing.DEFAULT_ORDER), limit=int(kw.pop("limit", 25)), **kw)  # type: ignore[arg-type]


def test_create_defaults_to_shared_queued_owned_by_caller(svc: ImageService) -> None:
    image = svc.create(ALICE, {"name": "x", "disk_format": "qcow2", "container_format": "bare", "k": "v"})
    assert (image.status, image.visibility, image.owner) == (ImageStatus.QUEUED, "shared", "proj-a")
    assert image.extra_properties == {"k": "v"}


@pytest.mark.parametrize("key", ["status", "checksum", "size", "virtual_size", "created_at", "os_hash_value"])
def test_create_with_read_only_key_is_forbidden(svc: ImageService, key: str) -> None:
    with pytest.raises(ReadonlyProperty):
        svc.create(ALICE, {key: "x"})


@pytest.mark.parametrize("key", ["location", "deleted", "deleted_at", "os_glance_import_task", "locations"])
def test_create_with_reserved_key_is_forbidden(svc: ImageService, key: str) -> None:
    with pytest.raises(ReservedProperty):
        svc.create(ALICE, {key: "x"})


def test_create_for_other_owner_needs_admin(svc: ImageService) -> None:
    with pytest.raises(Forbidden):
        svc.create(ALICE, {"owner": "proj-b"})
    assert svc.create(ADMIN, {"owner": "proj-b"}).owner == "proj-b"


def test_create_public_needs_admin_but_community_does_not(svc: ImageService) -> None:
    with pytest.raises(Forbidden):
        svc.create(ALICE, {"visibility": "public"})
    assert svc.create(ALICE, {"visibility": "community"}).visibility == "community"
    assert svc.create(ADMIN, {"visibility": "public"}).visibility == "public"


def test_reader_cannot_create(svc: ImageService) -> None:
    with pytest.raises(Forbidden):
        svc.create(READER_A, {"name": "x"})


def test_duplicate_id_conflicts_even_after_delete(svc: ImageService) -> None:
    image = svc.create(ALICE, {"id": "11111111-1111-4111-8111-111111111111"})
    svc.delete(ALICE, image.id)
    with pytest.raises(Duplicate):
        svc.create(ALICE, {"id": image.id})


def test_property_and_tag_quotas(svc: ImageService) -> None:
    with pytest.raises(QuotaExceeded):
        svc.create(ALICE, {"a": "1", "b": "2", "c": "3", "d": "4"})
    with pytest.raises(QuotaExceeded):
        svc.create(ALICE, {"tags": ["1", "2", "3"]})
    image = svc.create(ALICE, {"tags": ["1", "2"]})
    with pytest.raises(QuotaExceeded):
        svc.add_tag(ALICE, image.id, "3")
    with pytest.raises(QuotaExceeded):
        svc.update(ALICE, image.id, [PatchOp("add", (k,), "v") for k in "abcd"])


def test_private_image_is_hidden_from_other_projects(svc: ImageService) -> None:
    image = svc.create(ALICE, {"visibility": "private"})
    with pytest.raises(NotFound):
        svc.show(BOB, image.id)
    assert svc.show(ADMIN, image.id).id == image.id


def test_shared_image_visible_to_member_in_any_member_status(svc: ImageService, harness: ImageHarness) -> None:
    image = svc.create(ALICE, {})
    with pytest.raises(NotFound):
        svc.show(BOB, image.id)
    share(harness, image.id, "proj-b", "pending")
    assert svc.show(BOB, image.id).id == image.id


def test_member_loses_access_when_image_goes_private(svc: ImageService, harness: ImageHarness) -> None:
    image = svc.create(ALICE, {})
    share(harness, image.id, "proj-b")
    svc.update(ALICE, image.id, [PatchOp("replace", ("visibility",), "private")])
    with pytest.raises(NotFound):
        svc.show(BOB, image.id)
    assert svc.index(BOB, query()).images == []


def test_visible_but_not_owned_is_forbidden_not_hidden(svc: ImageService) -> None:
    image = svc.create(ADMIN, {"visibility": "public"})
    with pytest.raises(Forbidden):
        svc.update(BOB, image.id, [PatchOp("replace", ("name",), "n")])
    with pytest.raises(Forbidden):
        svc.delete(BOB, image.id)
    with pytest.raises(Forbidden):
        svc.add_tag(BOB, image.id, "t")


def test_reader_of_owner_project_cannot_modify(svc: ImageService) -> None:
    image = svc.create(ALICE, {})
    assert svc.show(READER_A, image.id).id == image.id
    with pytest.raises(Forbidden):
        svc.update(READER_A, image.id, [PatchOp("replace", ("name",), "n")])


def test_deleted_image_is_not_found(svc: ImageService) -> None:
    image = svc.create(ALICE, {})
    svc.delete(ALICE, image.id)
    with pytest.raises(NotFound):
        svc.show(ALICE, image.id)
    with pytest.raises(NotFound):
        svc.delete(ALICE, image.id)


def test_protected_image_cannot_be_deleted(svc: ImageService) -> None:
    image = svc.create(ALICE, {"protected": True})
    with pytest.raises(ProtectedImage):
        svc.delete(ALICE, image.id)


def test_delete_of_invalid_transition_is_bad_request(harness: ImageHarness) -> None:
    svc = harness.svc
    image = svc.create(ALICE, {"disk_format": "raw", "container_format": "bare"})
    repo = harness.repo
    stored = repo.get(image.id)
    repo.items[image.id] = replace(stored, status=ImageStatus.KILLED)
    svc.delete(ALICE, image.id)  # killed -> deleted is allowed
    svc = harness.reconfigured(delayed_delete=True).svc
    other = svc.create(ALICE, {})
    repo.items[other.id] = replace(repo.get(other.id), status=ImageStatus.DEACTIVATED, size=5)
    with pytest.raises(BadTransition):
        svc.delete(ALICE, other.id)


def test_tag_add_is_idempotent_and_delete_of_missing_tag_is_not_found(svc: ImageService) -> None:
    image = svc.create(ALICE, {})
    first = svc.add_tag(ALICE, image.id, "t")
    again = svc.add_tag(ALICE, image.id, "t")
    assert first.tags == again.tags == {"t"} and again.version == first.version
    with pytest.raises(NotFound):
        svc.delete_tag(ALICE, image.id, "nope")
    assert svc.delete_tag(ALICE, image.id, "t").tags == frozenset()


def test_long_tag_is_invalid(svc: ImageService) -> None:
    image = svc.create(ALICE, {})
    with pytest.raises(InvalidInput):
        svc.add_tag(ALICE, image.id, "x" * 256)


class RacingRepo(InMemoryImageRepository):
    """Moves the stored image between the service's read and its write, ``races`` times."""

    def __init__(self, races: int, change: dict[str, object]) -> None:
        super().__init__()
        self.races, self.change = races, change

    def save(self, image, *, expected, **usage):  # type: ignore[no-untyped-def]
        if self.races:
            self.races -= 1
            cur = self.items[image.id]
            self.items[image.id] = replace(cur, version=cur.version + 1, **self.change)  # type: ignore[arg-type]
        return super().save(image, expected=expected, **usage)


def test_lost_race_is_retried_on_fresh_state() -> None:
    repo = RacingRepo(races=1, change={"extra_properties": {"other": "writer"}})
    svc = ImageHarness(repo, InMemoryMemberRepository(repo)).svc
    image = svc.create(ALICE, {})
    updated = svc.update(ALICE, image.id, [PatchOp("add", ("mine",), "v")])
    # The concurrent writer's property survives: the patch was re-applied on the fresh image.
    assert updated.extra_properties == {"other": "writer", "mine": "v"}


def test_race_into_a_forbidding_state_is_judged_on_fresh_state() -> None:
    repo = RacingRepo(races=1, change={"protected": True})
    svc = ImageHarness(repo, InMemoryMemberRepository(repo)).svc
    image = svc.create(ALICE, {})
    with pytest.raises(ProtectedImage):
        svc.delete(ALICE, image.id)
    assert repo.get(image.id).status is ImageStatus.QUEUED


def test_endless_races_give_up_with_conflict() -> None:
    repo = RacingRepo(races=100, change={})
    svc = ImageHarness(repo, InMemoryMemberRepository(repo)).svc
    image = svc.create(ALICE, {})
    with pytest.raises(ConcurrentUpdate) as err:
        svc.update(ALICE, image.id, [PatchOp("add", ("k",), "v")])
    assert isinstance(err.value, Conflict)


def test_unknown_marker_is_bad_request(svc: ImageService) -> None:
    with pytest.raises(InvalidInput):
        svc.index(ALICE, query(marker="nope"))


def test_listing_needs_a_reader_role(svc: ImageService) -> None:
    with pytest.raises(Forbidden):
        svc.index(RequestContext("u", "p", frozenset()), query())
