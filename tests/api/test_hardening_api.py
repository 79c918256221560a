"""Inputs that must give Glance's 4xx, never a 500 or mangled data (found in review)."""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.helpers import ADMIN, ALICE, body, create, patch


def post(api: Any, headers: dict[str, str], raw: str) -> Any:
    return api.http.post("/v2/images", headers=headers, body=raw)


def test_empty_marker_is_400(api: Any) -> None:
    create(api, ALICE)
    assert api.http.get("/v2/images?limit=1&marker=", headers=ALICE).status_code == 400


def test_overlong_id_is_404(api: Any) -> None:
    assert api.http.get("/v2/images/" + "x" * 3000, headers=ALICE).status_code == 404


def test_empty_owner_is_400(api: Any) -> None:
    assert post(api, ADMIN, json.dumps({"owner": ""})).status_code == 400
    image = create(api, ADMIN)
    assert patch(api, ADMIN, image["id"], [{"op": "replace", "path": "/owner", "value": ""}]).status_code == 400


def test_long_multibyte_name_is_stored_and_listed(api: Any) -> None:
    name = "\U0001F600" * 255
    image = create(api, ALICE, name=name)
    assert body(api.http.get(f"/v2/images/{image['id']}", headers=ALICE))["name"] == name
    listed = body(api.http.get("/v2/images?sort=name:asc", headers=ALICE))["images"]
    assert [im["id"] for im in listed] == [image["id"]]


def test_metadata_too_large_for_one_item_is_413(api: Any) -> None:
    fields = {f"p{i}": "x" * 50000 for i in range(10)}
    assert post(api, ALICE, json.dumps(fields)).status_code == 413
    image = create(api, ALICE)
    ops = [{"op": "add", "path": f"/p{i}", "value": "x" * 50000} for i in range(10)]
    assert patch(api, ALICE, image["id"], ops).status_code == 413


@pytest.mark.parametrize("value", [2**31, 10**40])
def test_out_of_range_integers_are_400(api: Any, value: int) -> None:
    assert post(api, ALICE, json.dumps({"min_ram": value})).status_code == 400


@pytest.mark.parametrize("raw", ["[" * 100000, '{"name": "\\ud800"}', '{"tags": ["\\udfff"]}'])
def test_unstorable_json_is_400(api: Any, raw: str) -> None:
    assert post(api, ALICE, raw).status_code == 400


def test_null_schema_property_stays_null(api: Any) -> None:
    image = create(api, ALICE, kernel_id=None)
    assert body(api.http.get(f"/v2/images/{image['id']}", headers=ALICE))["kernel_id"] is None
    patch(api, ALICE, image["id"], [{"op": "add", "path": "/ramdisk_id", "value": None}])
    doc = body(api.http.get(f"/v2/images/{image['id']}", headers=ALICE))
    assert doc["ramdisk_id"] is None and doc["kernel_id"] is None
    assert body(api.http.get("/v2/images?kernel_id=None", headers=ALICE))["images"] == []


def test_caller_without_role_cannot_read(api: Any) -> None:
    image = create(api, ADMIN, visibility="public")
    no_role = {"X-Auth-Token": "u9:p9:", "Accept": "application/json"}
    assert api.http.get(f"/v2/images/{image['id']}", headers=no_role).status_code == 404


def test_head_and_options_are_405_and_501(api: Any) -> None:
    head = api.http.head("/v2/images", headers=ALICE)
    assert head.status_code == 405 and head.headers["Allow"] == "GET, POST"
    one = api.http.head("/v2/images/x", headers=ALICE)
    assert one.status_code == 405 and one.headers["Allow"] == "GET, DELETE, PATCH"
    assert api.http.request("OPTIONS", "/v2/images", headers=ALICE).status_code == 501


def test_negative_size_filters_are_accepted(api: Any) -> None:
    assert api.http.get("/v2/images?size_min=-1", headers=ALICE).status_code == 200
