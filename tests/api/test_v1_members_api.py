"""v1 members over HTTP (reference 11): replace-all, add, show, remove, shared-images."""
from __future__ import annotations

import json
from typing import Any

from tests.api.helpers import body
from tests.api.v1_helpers import ADMIN, ALICE, BOB, RAW, created, meta

CAROL = {"X-Auth-Token": "carol:proj-c:member,reader", "Accept": "*/*"}
JSON = {"Accept": "application/json", "Content-Type": "application/json"}


def members(api: Any, who: dict[str, str], image_id: str) -> list[dict[str, Any]]:
    resp = api.http.get(f"/v1/images/{image_id}/members", headers=who)
    assert resp.status_code == 200, resp.body
    return list(body(resp)["members"])


def replace_all(api: Any, who: dict[str, str], image_id: str, ids: list[str], can_share: bool = False) -> Any:
    doc = {"memberships": [{"member_id": m, "can_share": can_share} for m in ids]}
    return api.http.put(f"/v1/images/{image_id}/members", headers={**who, **JSON}, body=json.dumps(doc))


def test_add_show_list_and_remove_a_member(api: Any) -> None:
    image_id = created(api, ALICE, RAW)["id"]
    assert api.http.put(f"/v1/images/{image_id}/members/proj-b", headers=ALICE).status_code == 204
    assert api.http.put(f"/v1/images/{image_id}/members/proj-b", headers=ALICE).status_code == 204  # idempotent
    assert members(api, ALICE, image_id) == [{"member_id": "proj-b", "can_share": False}]
    shown = api.http.get(f"/v1/images/{image_id}/members/proj-b", headers=ALICE)
    assert body(shown) == {"member": {"member_id": "proj-b", "can_share": False}}
    # The member can now see the image, as through v2.
    assert api.http.head(f"/v1/images/{image_id}", headers=BOB).status_code == 200
    assert body(api.http.get(f"/v2/images/{image_id}/members", headers=ALICE))["members"][0]["member_id"] == "proj-b"
    assert api.http.delete(f"/v1/images/{image_id}/members/proj-b", headers=ALICE).status_code == 204
    assert members(api, ALICE, image_id) == []
    assert api.http.head(f"/v1/images/{image_id}", headers=BOB).status_code == 404
    assert api.http.delete(f"/v1/images/{image_id}/members/proj-b", headers=ALICE).status_code == 404


def test_replace_all_adds_and_removes(api: Any) -> None:
    image_id = created(api, ALICE, RAW)["id"]
    assert replace_all(api, ALICE, image_id, ["proj-b", "proj-c"]).status_code == 204
    assert sorted(m["member_id"] for m in members(api, ALICE, image_id)) == ["proj-b", "proj-c"]
    assert replace_all(api, ALICE, image_id, ["proj-c", "proj-d", "proj-d"]).status_code == 204
    assert sorted(m["member_id"] for m in members(api, ALICE, image_id)) == ["proj-c", "proj-d"]
    assert replace_all(api, ALICE, image_id, []).status_code == 204
    assert members(api, ALICE, image_id) == []


def test_only_the_owner_or_an_admin_changes_members(api: Any) -> None:
    image_id = created(api, ALICE, RAW)["id"]
    api.http.put(f"/v1/images/{image_id}/members/proj-b", headers=ALICE)
    assert replace_all(api, BOB, image_id, ["proj-b"]).status_code == 403
    assert api.http.put(f"/v1/images/{image_id}/members/proj-c", headers=BOB).status_code == 403
    assert api.http.delete(f"/v1/images/{image_id}/members/proj-b", headers=BOB).status_code == 403
    assert members(api, BOB, image_id) == [{"member_id": "proj-b", "can_share": False}]  # its own row only
    assert api.http.put(f"/v1/images/{image_id}/members/proj-c", headers=CAROL).status_code == 404
    assert replace_all(api, ADMIN, image_id, ["proj-c"]).status_code == 204


def test_bad_membership_bodies_are_400(api: Any) -> None:
    image_id = created(api, ALICE, RAW)["id"]
    for raw in ["{}", '{"memberships": [{"id": "x"}]}', '{"memberships": "proj-b"}', "not json"]:
        resp = api.http.put(f"/v1/images/{image_id}/members", headers={**ALICE, **JSON}, body=raw)
        assert resp.status_code == 400, raw
    resp = replace_all(api, ALICE, image_id, ["proj-b"], can_share=True)
    assert (resp.status_code, "can_share=true is not supported" in body(resp)["message"]) == (400, True)
    one = api.http.put(f"/v1/images/{image_id}/members/proj-b", headers={**ALICE, **JSON},
                       body=json.dumps({"member": {"can_share": "yes"}}))
    assert one.status_code == 400


def test_public_images_have_no_members(api: Any) -> None:
    image_id = created(api, ADMIN, meta(is_public="true"))["id"]
    assert api.http.put(f"/v1/images/{image_id}/members/proj-b", headers=ADMIN).status_code == 403


def test_shared_images_lists_what_is_shared_with_a_project(api: Any) -> None:
    first = created(api, ALICE, RAW)["id"]
    second = created(api, ALICE, RAW)["id"]
    created(api, ALICE, RAW)
    for image_id in (first, second):
        assert api.http.put(f"/v1/images/{image_id}/members/proj-b", headers=ALICE).status_code == 204
    shared = body(api.http.get("/v1/shared-images/proj-b", headers=BOB))["shared_images"]
    assert sorted(s["image_id"] for s in shared) == sorted([first, second])
    assert all(s["can_share"] is False for s in shared)
    assert len(body(api.http.get("/v1/shared-images/proj-b", headers=ADMIN))["shared_images"]) == 2
    assert api.http.get("/v1/shared-images/proj-b", headers=CAROL).status_code == 403
    assert body(api.http.get("/v1/shared-images/proj-c", headers=CAROL))["shared_images"] == []
