"""Image members over HTTP (reference 1.5, 7.3): every rule, on the moto-backed app."""
from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.api.helpers import ADMIN, ALICE, BOB, body, create, patch, token, reconfigure

CAROL = token("carol", "proj-c", "member,reader")
BOB_READER = token("bob2", "proj-b", "reader")


def add(api: Any, headers: dict[str, str], image_id: str, member: Any) -> Any:
    return api.http.post(f"/v2/images/{image_id}/members", headers=headers, body=json.dumps({"member": member}))


def set_status(api: Any, headers: dict[str, str], image_id: str, member: str, status: Any) -> Any:
    return api.http.put(f"/v2/images/{image_id}/members/{member}", headers=headers, body=json.dumps({"status": status}))


def listed_ids(api: Any, headers: dict[str, str], qs: str = "") -> list[str]:
    return [im["id"] for im in body(api.http.get(f"/v2/images{qs}", headers=headers))["images"]]


def test_owner_adds_member_200_pending_and_member_accepts_then_lists(api: Any) -> None:
    image = create(api, ALICE, name="s", visibility="shared")
    created = add(api, ALICE, image["id"], "proj-b")
    assert created.status_code == 200
    doc = body(created)
    assert doc["member_id"] == "proj-b" and doc["image_id"] == image["id"] and doc["status"] == "pending"
    assert doc["schema"] == "/v2/schemas/member" and doc["created_at"].endswith("Z")
    assert image["id"] not in listed_ids(api, BOB)  # pending: not in the default listing
    assert image["id"] in listed_ids(api, BOB, "?member_status=pending")
    assert api.http.get(f"/v2/images/{image['id']}", headers=BOB).status_code == 200  # any status can GET
    accepted = set_status(api, BOB, image["id"], "proj-b", "accepted")
    assert accepted.status_code == 200 and body(accepted)["status"] == "accepted"
    assert image["id"] in listed_ids(api, BOB)
    assert image["id"] not in listed_ids(api, BOB, "?member_status=pending")
    assert image["id"] in listed_ids(api, BOB, "?member_status=all")
    assert image["id"] not in listed_ids(api, CAROL)


def test_only_shared_images_have_members(api: Any) -> None:
    private = create(api, ALICE, name="p", visibility="private")
    resp = add(api, ALICE, private["id"], "proj-b")
    assert resp.status_code == 403 and "Only shared images have members" in body(resp)["message"]
    assert api.http.get(f"/v2/images/{private['id']}/members", headers=ALICE).status_code == 403
    public = create(api, ADMIN, name="pub", visibility="public")
    assert add(api, ADMIN, public["id"], "proj-b").status_code == 403


def test_member_body_errors_are_400(api: Any) -> None:
    image = create(api, ALICE, name="s", visibility="shared")
    url = f"/v2/images/{image['id']}/members"
    assert api.http.post(url, headers=ALICE, body=json.dumps({})).status_code == 400
    assert api.http.post(url, headers=ALICE, body=b"").status_code == 400
    assert add(api, ALICE, image["id"], "").status_code == 400
    assert add(api, ALICE, image["id"], 7).status_code == 400
    add(api, ALICE, image["id"], "proj-b")
    assert set_status(api, BOB, image["id"], "proj-b", "bogus").status_code == 400
    assert api.http.put(f"{url}/proj-b", headers=BOB, body=json.dumps({})).status_code == 400


@pytest.mark.moto  # a member's delete, as DynamoDB takes it
def test_duplicate_member_409_and_only_owner_adds_or_deletes(api: Any) -> None:
    image = create(api, ALICE, name="s", visibility="shared")
    assert add(api, ALICE, image["id"], "proj-b").status_code == 200
    assert add(api, ALICE, image["id"], "proj-b").status_code == 409
    # The consumer can see the image but may not add or delete members.
    assert add(api, BOB, image["id"], "proj-c").status_code == 403
    assert api.http.delete(f"/v2/images/{image['id']}/members/proj-b", headers=BOB).status_code == 403
    # A stranger cannot see the image at all.
    assert add(api, CAROL, image["id"], "proj-c").status_code == 404
    # A reader of the owner project is not a member of it.
    assert add(api, token("r", "proj-a", "reader"), image["id"], "proj-c").status_code == 403
    deleted = api.http.delete(f"/v2/images/{image['id']}/members/proj-b", headers=ALICE)
    assert deleted.status_code == 204 and deleted.body in (b"", "")
    assert api.http.delete(f"/v2/images/{image['id']}/members/proj-b", headers=ALICE).status_code == 404
    assert api.http.get(f"/v2/images/{image['id']}", headers=BOB).status_code == 404
    assert add(api, ADMIN, image["id"], "proj-c").status_code == 200  # admin may add


def test_owner_cannot_change_status_member_and_admin_can(api: Any) -> None:
    image = create(api, ALICE, name="s", visibility="shared")
    add(api, ALICE, image["id"], "proj-b")
    assert set_status(api, ALICE, image["id"], "proj-b", "accepted").status_code == 403
    assert set_status(api, BOB_READER, image["id"], "proj-b", "accepted").status_code == 403
    assert set_status(api, CAROL, image["id"], "proj-b", "accepted").status_code == 404
    assert set_status(api, BOB, image["id"], "proj-b", "rejected").status_code == 200
    assert set_status(api, BOB, image["id"], "proj-b", "pending").status_code == 200
    assert set_status(api, ADMIN, image["id"], "proj-b", "accepted").status_code == 200
    assert set_status(api, ALICE, image["id"], "proj-z", "accepted").status_code == 404


def test_member_sees_only_its_own_row_and_show_hides_as_404(api: Any) -> None:
    image = create(api, ALICE, name="s", visibility="shared")
    add(api, ALICE, image["id"], "proj-b")
    add(api, ALICE, image["id"], "proj-c")
    owner_view = body(api.http.get(f"/v2/images/{image['id']}/members", headers=ALICE))
    assert {m["member_id"] for m in owner_view["members"]} == {"proj-b", "proj-c"}
    assert owner_view["schema"] == "/v2/schemas/members"
    bob_view = body(api.http.get(f"/v2/images/{image['id']}/members", headers=BOB))["members"]
    assert [m["member_id"] for m in bob_view] == ["proj-b"]
    assert api.http.get(f"/v2/images/{image['id']}/members/proj-b", headers=BOB).status_code == 200
    assert api.http.get(f"/v2/images/{image['id']}/members/proj-c", headers=BOB).status_code == 404
    assert api.http.get(f"/v2/images/{image['id']}/members/proj-c", headers=ALICE).status_code == 200
    assert api.http.get(f"/v2/images/{image['id']}/members/proj-x", headers=ALICE).status_code == 404
    stranger = token("d", "proj-d", "member,reader")
    assert api.http.get(f"/v2/images/{image['id']}/members", headers=stranger).status_code == 404
    # Any Forbidden on show becomes 404: here, the image is no longer shared.
    patch(api, ALICE, image["id"], [{"op": "replace", "path": "/visibility", "value": "private"}])
    assert api.http.get(f"/v2/images/{image['id']}/members/proj-b", headers=ALICE).status_code == 404


@pytest.mark.moto  # the members' listing copies updated with the image
def test_visibility_away_from_shared_cuts_access_but_keeps_rows(api: Any) -> None:
    image = create(api, ALICE, name="s", visibility="shared")
    add(api, ALICE, image["id"], "proj-b")
    set_status(api, BOB, image["id"], "proj-b", "accepted")
    patch(api, ALICE, image["id"], [{"op": "replace", "path": "/visibility", "value": "private"}])
    assert api.http.get(f"/v2/images/{image['id']}", headers=BOB).status_code == 404
    assert image["id"] not in listed_ids(api, BOB) and image["id"] not in listed_ids(api, BOB, "?member_status=all")
    patch(api, ALICE, image["id"], [{"op": "replace", "path": "/visibility", "value": "shared"}])
    assert api.http.get(f"/v2/images/{image['id']}", headers=BOB).status_code == 200
    assert image["id"] in listed_ids(api, BOB)
    assert body(api.http.get(f"/v2/images/{image['id']}/members/proj-b", headers=BOB))["status"] == "accepted"


def test_member_quota_413(api: Any, container: Any) -> None:
    reconfigure(container, image_member_quota=2)
    image = create(api, ALICE, name="s", visibility="shared")
    assert add(api, ALICE, image["id"], "p1").status_code == 200
    assert add(api, ALICE, image["id"], "p2").status_code == 200
    over = add(api, ALICE, image["id"], "p3")
    assert over.status_code == 413 and "image members" in body(over)["message"]


def test_member_routes_405_with_allow(api: Any) -> None:
    image = create(api, ALICE, name="s", visibility="shared")
    resp = api.http.patch(f"/v2/images/{image['id']}/members", headers=ALICE, body=b"{}")
    assert resp.status_code == 405 and resp.headers["Allow"] == "GET, POST"


@pytest.mark.moto  # more tag rows than one transaction holds: the rest go by BatchWriteItem, in both tables
def test_an_image_with_105_tags_shares_lists_by_tag_and_deletes_every_row(api: Any, aws: Any) -> None:
    from infra.local import moto_fixes

    moto_fixes.install()  # item-level transaction rollback (as e2e runs it): moto's table copies cost ~10 s here
    tags = [f"t{i:03d}" for i in range(105)]
    image = create(api, ALICE, name="many", visibility="shared", tags=tags[:90])  # one change indexes at most 96
    assert patch(api, ALICE, image["id"], [{"op": "replace", "path": "/tags", "value": tags}]).status_code == 200
    assert add(api, ALICE, image["id"], "proj-b").status_code == 200
    assert set_status(api, BOB, image["id"], "proj-b", "accepted").status_code == 200
    assert listed_ids(api, BOB, "?tag=t104") == [image["id"]]
    assert api.http.delete(f"/v2/images/{image['id']}/members/proj-b", headers=ALICE).status_code == 204
    assert listed_ids(api, BOB, "?tag=t104") == []
    assert api.http.delete(f"/v2/images/{image['id']}", headers=ALICE).status_code == 204
    assert listed_ids(api, ALICE, "?tag=t000") == []
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    for table in (aws.settings.resources.images_table, aws.settings.resources.members_table):
        rows = dynamodb.scan(TableName=table)["Items"]  # the test's own look at every row left
        assert [r for r in rows if image["id"] in json.dumps(r) and "deleted" not in json.dumps(r)] == []
