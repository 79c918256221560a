"""v1 listing over HTTP (reference 11): summary and detail, every filter, is_public, paging."""
from __future__ import annotations

import time
from typing import Any

import pytest

from tests.api.helpers import body
from tests.api.v1_helpers import ADMIN, ALICE, BOB, RAW, created, meta

JSON = {"Accept": "application/json"}


def names(api: Any, who: dict[str, str], query: str = "", path: str = "/v1/images/detail") -> list[str]:
    resp = api.http.get(f"{path}?{query}" if query else path, headers=who)
    assert resp.status_code == 200, resp.body
    return [im["name"] for im in body(resp)["images"]]


@pytest.fixture
def catalogue(api: Any) -> dict[str, str]:
    """Alice: a (raw, 1 byte), b (qcow2 queued, min_ram 512, protected, prop os=linux); admin: pub (public); bob: bob's."""
    ids = {
        "a": created(api, ALICE, {**RAW, **meta(name="a")}, b"x")["id"],
        "b": created(api, ALICE, meta(name="b", disk_format="qcow2", container_format="ovf", min_ram=512,
                                      protected="true", property_os="linux"))["id"],
        "pub": created(api, ADMIN, {**RAW, **meta(name="pub", is_public="true", size=0)})["id"],
        "bob": created(api, BOB, meta(name="bob's"))["id"],
    }
    return ids


def test_summary_has_the_six_fields_and_detail_everything(api: Any, catalogue: dict[str, str]) -> None:
    summary = body(api.http.get("/v1/images?name=a", headers=ALICE))["images"]
    assert summary == [{"id": catalogue["a"], "name": "a", "disk_format": "raw", "container_format": "bare",
                        "checksum": "9dd4e461268c8034f5c8564e155c67a6", "size": 1}]
    detail = body(api.http.get("/v1/images/detail?name=a", headers=ALICE))["images"][0]
    assert {"status", "is_public", "owner", "protected", "properties", "created_at", "min_ram"} <= set(detail)
    assert "location" not in detail


def test_default_listing_is_public_plus_own(api: Any, catalogue: dict[str, str]) -> None:
    assert sorted(names(api, ALICE)) == ["a", "b", "pub"]
    assert sorted(names(api, BOB)) == ["bob's", "pub"]
    assert sorted(names(api, ALICE, "is_public=none")) == ["a", "b", "pub"]


def test_is_public_true_and_false(api: Any, catalogue: dict[str, str]) -> None:
    assert names(api, ALICE, "is_public=true") == ["pub"]
    assert sorted(names(api, ALICE, "is_public=false")) == ["a", "b"]
    assert sorted(names(api, ADMIN, "is_public=false")) == ["a", "b", "bob's"]


@pytest.mark.parametrize("query,expected", [
    ("name=b", ["b"]), ("status=queued", ["b"]), ("status=active", ["a", "pub"]),
    ("disk_format=qcow2", ["b"]), ("container_format=bare", ["a", "pub"]),
    ("min_ram=512", ["b"]), ("min_disk=0", ["a", "b", "pub"]),
    ("size_min=1", ["a"]), ("size_max=0", ["pub"]), ("size_min=0&size_max=1", ["a", "pub"]),
    ("protected=true", ["b"]), ("protected=false", ["a", "pub"]),
    ("property-os=linux", ["b"]), ("property-os=windows", []),
])
def test_filters(api: Any, catalogue: dict[str, str], query: str, expected: list[str]) -> None:
    assert sorted(names(api, ALICE, query)) == expected


def test_changes_since(api: Any, catalogue: dict[str, str]) -> None:
    assert sorted(names(api, ALICE, "changes-since=2000-01-01T00:00:00Z")) == ["a", "b", "pub"]
    assert names(api, ALICE, "changes-since=2999-01-01T00:00:00") == []


@pytest.mark.parametrize("query,message", [
    ("size_min=-1", "size_min must be a non-negative integer"), ("min_ram=x", "Cannot convert image min_ram 'x'"),
    ("protected=sure", "Invalid value for protected"), ("is_public=maybe", "Invalid value for is_public"),
    ("changes-since=yesterday", "Invalid time format"), ("sort_key=owner", "Unsupported sort_key"),
    ("sort_dir=up", "Unsupported sort_dir"), ("limit=-2", "limit must be a non-negative integer"),
    ("marker=nope", "Invalid marker"),
])
def test_bad_parameters_are_400(api: Any, catalogue: dict[str, str], query: str, message: str) -> None:
    resp = api.http.get(f"/v1/images?{query}", headers={**ALICE, **JSON})
    assert resp.status_code == 400
    assert message in body(resp)["message"]


def test_paging_with_limit_marker_and_sort(api: Any) -> None:
    for name in ("c", "a", "d", "b"):
        created(api, ALICE, meta(name=name))
        time.sleep(0.01)
    assert names(api, ALICE, "sort_key=name&sort_dir=asc") == ["a", "b", "c", "d"]
    assert names(api, ALICE) == ["b", "d", "a", "c"]  # created_at desc by default
    first = body(api.http.get("/v1/images?sort_key=name&sort_dir=asc&limit=2", headers=ALICE))["images"]
    assert [im["name"] for im in first] == ["a", "b"]
    rest = names(api, ALICE, f"sort_key=name&sort_dir=asc&limit=2&marker={first[-1]['id']}", path="/v1/images")
    assert rest == ["c", "d"]
    assert names(api, ALICE, "limit=0") == []


def test_shared_images_are_listed_for_members_in_any_member_status(api: Any) -> None:
    image_id = created(api, ALICE, meta(name="shared one"))["id"]
    assert api.http.put(f"/v1/images/{image_id}/members/proj-b", headers=ALICE).status_code == 204
    assert "shared one" in names(api, BOB)  # still pending: v1 has no acceptance
    assert "shared one" in names(api, BOB, "is_public=false")
