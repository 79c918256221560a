"""Listing semantics (reference 4, 7.1) run against both repositories."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from chalicelib.api import deserializers as des
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.members import Member
from chalicelib.domain.patch import PatchOp
from tests.service_factories import ImageHarness
from chalicelib.services.images import ImageService

ADMIN = RequestContext("admin", "admin-proj", frozenset({"admin"}))
ALICE = RequestContext("alice", "proj-a", frozenset({"member", "reader"}))
BOB = RequestContext("bob", "proj-b", frozenset({"member", "reader"}))
CAROL = RequestContext("carol", "proj-c", frozenset({"reader"}))


def ids(svc: ImageService, ctx: RequestContext, qs: str = "", limit: int = 25) -> list[str]:
    params: dict[str, list[str]] = {}
    for part in filter(None, qs.split("&")):
        key, _, value = part.partition("=")
        params.setdefault(key, []).append(value)
    return [im.id for im in svc.index(ctx, des.list_images(params, default_limit=limit, max_limit=1000)).images]


def share(harness: ImageHarness, image_id: str, project: str, status: str) -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    harness.members.add(Member(image_id, project, status, now, now), harness.repo.get(image_id))


@pytest.fixture
def world(svc: ImageService, harness: ImageHarness) -> dict[str, str]:
    """Alice's images of every visibility, one public from admin, shares to Bob."""
    made = {
        "a-private": svc.create(ALICE, {"name": "a-private", "visibility": "private"}),
        "a-shared-acc": svc.create(ALICE, {"name": "a-shared-acc"}),
        "a-shared-pend": svc.create(ALICE, {"name": "a-shared-pend"}),
        "a-shared-rej": svc.create(ALICE, {"name": "a-shared-rej"}),
        "a-community": svc.create(ALICE, {"name": "a-community", "visibility": "community"}),
        "adm-public": svc.create(ADMIN, {"name": "adm-public", "visibility": "public"}),
        "b-private": svc.create(BOB, {"name": "b-private", "visibility": "private"}),
    }
    share(harness, made["a-shared-acc"].id, "proj-b", "accepted")
    share(harness, made["a-shared-pend"].id, "proj-b", "pending")
    share(harness, made["a-shared-rej"].id, "proj-b", "rejected")
    return {k: v.id for k, v in made.items()}


def as_names(world: dict[str, str], found: list[str]) -> set[str]:
    rev = {v: k for k, v in world.items()}
    return {rev[i] for i in found}


def test_owner_default_listing_has_own_images_and_public(svc: ImageService, world: dict[str, str]) -> None:
    assert as_names(world, ids(svc, ALICE)) == {
        "a-private", "a-shared-acc", "a-shared-pend", "a-shared-rej", "a-community", "adm-public"
    }


def test_member_default_listing_has_only_accepted_shares_and_no_foreign_community(
    svc: ImageService, world: dict[str, str]
) -> None:
    assert as_names(world, ids(svc, BOB)) == {"a-shared-acc", "adm-public", "b-private"}


@pytest.mark.parametrize(
    "status,expected",
    [("pending", {"a-shared-pend"}), ("rejected", {"a-shared-rej"}), ("all", {"a-shared-acc", "a-shared-pend", "a-shared-rej"})],
)
def test_member_status_filter(svc: ImageService, world: dict[str, str], status: str, expected: set[str]) -> None:
    assert as_names(world, ids(svc, BOB, f"visibility=shared&member_status={status}")) == expected


@pytest.mark.parametrize(
    "visibility,expected",
    [
        ("public", {"adm-public"}),
        ("community", {"a-community"}),
        ("private", {"b-private"}),
        ("shared", {"a-shared-acc"}),
        ("all", {"a-shared-acc", "adm-public", "b-private", "a-community"}),
    ],
)
def test_visibility_filter_for_another_project(svc: ImageService, world: dict[str, str], visibility: str, expected: set[str]) -> None:
    assert as_names(world, ids(svc, BOB, f"visibility={visibility}")) == expected


def test_admin_sees_everything_but_foreign_community_by_default(svc: ImageService, world: dict[str, str]) -> None:
    assert as_names(world, ids(svc, ADMIN)) == set(world) - {"a-community"}
    assert as_names(world, ids(svc, ADMIN, "visibility=all")) == set(world)
    assert as_names(world, ids(svc, ADMIN, "visibility=private")) == {"a-private", "b-private"}


def test_reader_of_other_project_sees_only_public(svc: ImageService, world: dict[str, str]) -> None:
    assert as_names(world, ids(svc, CAROL)) == {"adm-public"}


def test_going_private_cuts_member_access_in_listing(svc: ImageService, world: dict[str, str]) -> None:
    svc.update(ALICE, world["a-shared-acc"], [PatchOp("replace", ("visibility",), "private")])
    assert as_names(world, ids(svc, BOB)) == {"adm-public", "b-private"}


def test_deleted_images_never_listed(svc: ImageService, world: dict[str, str]) -> None:
    svc.delete(ALICE, world["a-private"])
    assert "a-private" not in as_names(world, ids(svc, ALICE))
    assert "a-private" not in as_names(world, ids(svc, ADMIN, "visibility=all"))


def test_os_hidden_default_false_and_true_returns_only_hidden(svc: ImageService) -> None:
    shown = svc.create(ALICE, {"name": "shown"})
    hidden = svc.create(ALICE, {"name": "hidden", "os_hidden": True})
    assert ids(svc, ALICE) == [shown.id]
    assert ids(svc, ALICE, "os_hidden=true") == [hidden.id]


@pytest.fixture
def catalog(svc: ImageService) -> dict[str, str]:
    specs = [
        ("cirros", "qcow2", "bare", 0, {"os_distro": "cirros"}, ["small", "test"], True),
        ("ubuntu", "raw", "bare", 2048, {"os_distro": "ubuntu"}, ["big"], False),
        ("fedora", "qcow2", "ovf", 1024, {}, ["test"], False),
        ("win, server", "vhd", "bare", 4096, {}, [], False),
    ]
    made = {}
    for name, disk, container, ram, props, tags, protected in specs:
        body = {"name": name, "disk_format": disk, "container_format": container, "min_ram": ram, "tags": tags,
                "protected": protected, **props}
        made[name] = svc.create(ALICE, body).id
    return made


@pytest.mark.parametrize(
    "qs,expected",
    [
        ("name=cirros", {"cirros"}),
        ('name=in:cirros,"win, server"', {"cirros", "win, server"}),
        ("disk_format=qcow2", {"cirros", "fedora"}),
        ("disk_format=in:raw,vhd", {"ubuntu", "win, server"}),
        ("container_format=ovf", {"fedora"}),
        ("status=queued", {"cirros", "ubuntu", "fedora", "win, server"}),
        ("status=in:active,saving", set()),
        ("tag=test", {"cirros", "fedora"}),
        ("tag=test&tag=small", {"cirros"}),
        ("protected=true", {"cirros"}),
        ("protected=false", {"ubuntu", "fedora", "win, server"}),
        ("min_ram=2048", {"ubuntu"}),
        ("os_distro=ubuntu", {"ubuntu"}),
        ("owner=proj-a", {"cirros", "ubuntu", "fedora", "win, server"}),
        ("owner=proj-b", set()),
        ("size_min=1", set()),
        ("size_max=10", set()),
    ],
)
def test_filters(svc: ImageService, catalog: dict[str, str], qs: str, expected: set[str]) -> None:
    assert as_names(catalog, ids(svc, ALICE, qs)) == expected


def test_id_filter_and_date_filters(svc: ImageService, harness: ImageHarness, catalog: dict[str, str]) -> None:
    first = harness.repo.get(catalog["cirros"])
    assert as_names(catalog, ids(svc, ALICE, f"id={first.id}")) == {"cirros"}
    stamp = first.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert as_names(catalog, ids(svc, ALICE, f"created_at=lte:{stamp}")) == {"cirros"}
    assert as_names(catalog, ids(svc, ALICE, f"created_at=gt:{stamp}")) == {"ubuntu", "fedora", "win, server"}
    assert as_names(catalog, ids(svc, ALICE, f"created_at={stamp}")) == {"cirros"}
    assert as_names(catalog, ids(svc, ALICE, f"updated_at=neq:{stamp}")) == {"ubuntu", "fedora", "win, server"}


def test_order_default_is_newest_first(svc: ImageService, catalog: dict[str, str]) -> None:
    assert ids(svc, ALICE) == [catalog[n] for n in ("win, server", "fedora", "ubuntu", "cirros")]


@pytest.mark.parametrize(
    "qs,expected",
    [
        ("sort_key=name&sort_dir=asc", ["cirros", "fedora", "ubuntu", "win, server"]),
        ("sort_key=name", ["win, server", "ubuntu", "fedora", "cirros"]),
        ("sort=name:asc", ["cirros", "fedora", "ubuntu", "win, server"]),
        ("sort=name", ["win, server", "ubuntu", "fedora", "cirros"]),
        ("sort=disk_format:asc,name:desc", ["fedora", "cirros", "ubuntu", "win, server"]),
        ("sort_key=disk_format&sort_key=name&sort_dir=asc&sort_dir=desc", ["fedora", "cirros", "ubuntu", "win, server"]),
        ("sort_key=container_format&sort_dir=asc", ["cirros", "ubuntu", "win, server", "fedora"]),
        ("sort=created_at:asc", ["cirros", "ubuntu", "fedora", "win, server"]),
        ("sort=status:asc,name:asc", ["cirros", "fedora", "ubuntu", "win, server"]),
    ],
)
def test_sorting(svc: ImageService, catalog: dict[str, str], qs: str, expected: list[str]) -> None:
    assert ids(svc, ALICE, qs) == [catalog[n] for n in expected]


@pytest.mark.parametrize(
    "qs",
    ["sort_key=bogus", "sort_dir=sideways", "sort=name&sort_key=name", "sort_key=name&sort_key=id&sort_dir=asc&sort_dir=desc&sort_dir=asc",
     "limit=-1", "limit=x", "size_min=x", "protected=maybe", "os_hidden=yes", "visibility=everyone", "member_status=maybe",
     "created_at=soon:2020-01-01T00:00:00Z", "created_at=gt:notadate", "name=like:foo", "changes-since=2020-01-01"],
)
def test_bad_parameters_are_400(qs: str) -> None:
    params: dict[str, list[str]] = {}
    for part in qs.split("&"):
        key, _, value = part.partition("=")
        params.setdefault(key, []).append(value)
    with pytest.raises(InvalidInput):
        des.list_images(params, default_limit=25, max_limit=1000)


@pytest.mark.parametrize("qs", ["", "sort=name:asc", "sort=disk_format:asc,name:desc", "sort_key=size&sort_dir=asc"])
@pytest.mark.parametrize("page", [1, 2, 3])
def test_pagination_walks_every_image_once(svc: ImageService, qs: str, page: int) -> None:
    made = set()
    for n in range(7):
        made.add(svc.create(ALICE, {"name": f"img-{n % 3}", "disk_format": ["raw", "qcow2"][n % 2]}).id)
    svc.create(ADMIN, {"name": "pub", "visibility": "public"})
    expected = ids(svc, ALICE, qs, limit=100)
    seen: list[str] = []
    marker = None
    for _ in range(20):
        params = qs + (f"&marker={marker}" if marker else "")
        page_ids = ids(svc, ALICE, params.lstrip("&"), limit=page)
        seen.extend(page_ids)
        if len(page_ids) < page:
            break
        marker = page_ids[-1]
    assert seen == expected
    assert len(seen) == len(set(seen)) == 8


def test_limit_zero_and_cap(svc: ImageService) -> None:
    svc.create(ALICE, {})
    assert ids(svc, ALICE, "limit=0") == []
    query = des.list_images({"limit": ["5000"]}, default_limit=25, max_limit=1000)
    assert query.limit == 1000


def test_names_with_control_characters_page_in_order(svc: ImageService, harness: ImageHarness) -> None:
    made = [svc.create(ALICE, {"name": n}).id for n in ["a", "a\u0000\u0001", "a", "a\u0000\u0001", "b", "a\u0001"]]
    expected = ids(svc, ALICE, "sort=name:asc", limit=100)
    names = [harness.repo.get(i).name for i in expected]
    assert names == sorted(names)
    seen: list[str] = []
    marker = None
    while True:
        page = ids(svc, ALICE, "sort=name:asc" + (f"&marker={marker}" if marker else ""), limit=1)
        if not page:
            break
        seen += page
        marker = page[-1]
    assert seen == expected and sorted(seen) == sorted(made)
