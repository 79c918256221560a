"""The pure location rules (reference 2.3), judged on an image value."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from chalicelib.domain import locations as loc
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import Conflict, Forbidden, InvalidInput, QuotaExceeded
from chalicelib.domain.images import Image, ImageStatus, Location

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
ON = loc.LocationRules(enabled=True, quota=3)
ADMIN = RequestContext("a", "p", frozenset({"admin"}))
MEMBER = RequestContext("m", "p", frozenset({"member"}))


def sized(url: str) -> int:
    return 42


def image(status: ImageStatus = ImageStatus.ACTIVE, urls: tuple[str, ...] = ("http://h/a",), **kw: object) -> Image:
    size = 42 if urls else None
    return Image("i1", "p", NOW, NOW, status=status, disk_format="raw", container_format="bare", size=size,
                 locations=tuple(Location(u, {}) for u in urls), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("token, count, allow_end, expected", [
    ("-", 2, True, 2), ("0", 2, True, 0), ("9", 2, True, 9), ("x", 2, True, None), ("-1", 2, True, None),
    ("-", 2, False, 1), ("1", 2, False, 1), ("2", 2, False, None), ("-", 0, False, None),
])
def test_position(token: str, count: int, allow_end: bool, expected: int | None) -> None:
    assert loc.position(token, count, allow_end) == expected


def test_add_inserts_at_the_position_and_activates_a_queued_image() -> None:
    added = loc.add(image(), "0", loc.NewLocation("http://h/b"), ON, sized)
    assert [x.url for x in added.locations] == ["http://h/b", "http://h/a"]
    queued = loc.add(image(ImageStatus.QUEUED, ()), "-", loc.NewLocation("http://h/b"), ON, sized)
    assert (queued.status, queued.size) == (ImageStatus.ACTIVE, 42)


@pytest.mark.parametrize("status", sorted(set(ImageStatus) - loc.ADD_STATUSES, key=str))
def test_add_and_replace_are_409_outside_active_and_queued(status: ImageStatus) -> None:
    with pytest.raises(Conflict, match=status.value):
        loc.add(image(status), "-", loc.NewLocation("http://h/b"), ON, sized)
    with pytest.raises(Conflict, match=status.value):
        loc.replace_all(image(status), [loc.NewLocation("http://h/a")], ON, sized)


@pytest.mark.parametrize("status", sorted(set(ImageStatus) - loc.REMOVE_STATUSES, key=str))
def test_remove_is_409_outside_active(status: ImageStatus) -> None:
    with pytest.raises(Conflict, match=status.value):
        loc.remove(image(status, ("http://h/a", "http://h/b")), "0", ON, ADMIN)


def test_the_url_check_runs_before_anything_is_accepted() -> None:
    def refuse(url: str) -> int:
        raise InvalidInput(f"bad {url}")

    with pytest.raises(InvalidInput, match="bad http://h/b"):
        loc.add(image(), "-", loc.NewLocation("http://h/b"), ON, refuse)


def test_duplicates_quota_and_disabled() -> None:
    with pytest.raises(InvalidInput, match="already exists"):
        loc.add(image(), "-", loc.NewLocation("http://h/a"), ON, sized)
    full = image(urls=("http://h/a", "http://h/b", "http://h/c"))
    with pytest.raises(QuotaExceeded):
        loc.add(full, "-", loc.NewLocation("http://h/d"), ON, sized)
    with pytest.raises(Forbidden):
        loc.add(image(), "-", loc.NewLocation("http://h/b"), loc.LocationRules(), sized)


def test_replace_may_only_change_metadata_once_locations_exist() -> None:
    updated = loc.replace_all(image(), [loc.NewLocation("http://h/a", {"k": "v"})], ON, sized)
    assert updated.locations == (Location("http://h/a", {"k": "v"}),)
    with pytest.raises(InvalidInput, match="not empty"):
        loc.replace_all(image(), [loc.NewLocation("http://h/z")], ON, sized)
    with pytest.raises(Forbidden, match="empty list"):
        loc.replace_all(image(), [], ON, sized)


def test_remove_rules() -> None:
    two = image(urls=("http://h/a", "http://h/b"))
    with pytest.raises(Forbidden):
        loc.remove(two, "0", ON, MEMBER)
    with pytest.raises(Forbidden, match="last location"):
        loc.remove(image(), "0", ON, ADMIN)
    kept, gone = loc.remove(two, "-", ON, ADMIN)
    assert ([x.url for x in kept.locations], gone.url) == (["http://h/a"], "http://h/b")


SHA = hashlib.sha512(b"x").hexdigest()


def test_validation_data_only_fills_empty_values_of_a_queued_image() -> None:
    queued = image(ImageStatus.QUEUED, ())
    vd = {"os_hash_algo": "sha512", "os_hash_value": SHA}
    assert loc.new_validation_values(queued, [loc.NewLocation("u", {}, vd)], "sha512") == vd
    same = image(os_hash_algo="sha512", os_hash_value=SHA)
    assert loc.new_validation_values(same, [loc.NewLocation("u", {}, vd)], "sha512") == {}
    with pytest.raises(Conflict, match="only be provided when image status is 'queued'"):
        loc.new_validation_values(image(), [loc.NewLocation("u", {}, vd)], "sha512")
    other = {"os_hash_algo": "sha512", "os_hash_value": "0" * 128}
    with pytest.raises(Conflict, match="Conflicting"):
        loc.new_validation_values(queued, [loc.NewLocation("u", {}, vd), loc.NewLocation("v", {}, other)], "sha512")
