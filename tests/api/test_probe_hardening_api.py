"""What a black-box probe found (issue 18, items 4, 8, 11): each refusal's code, its Glance JSON body, and that
nothing was stored or changed."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest

from chalicelib.api.identity import from_authorizer
from chalicelib.domain.errors import Forbidden
from chalicelib.domain.images import Image
from tests.api.helpers import ADMIN, ALICE, BOB, body, create, stored_keys, token
from tests.api.v1_helpers import RAW, meta, post

JSON = {"Accept": "application/json"}
EVE = token("eve", "", "member,reader")  # a token with roles and no project


def glance_error(resp: Any, status: int) -> str:
    """The message of a Glance JSON error of ``status``; fails on any other answer."""
    assert resp.status_code == status, resp.body
    assert resp.headers["Content-Type"].startswith("application/json")
    doc = body(resp)
    assert set(doc) == {"message", "code", "title"} and doc["code"].startswith(str(status))
    return str(doc["message"])


def nothing_stored(container: Any) -> None:
    repo = container.ports.images
    assert stored_ids(repo) == [] and stored_keys(container) == []


def stored_ids(repo: Any) -> list[str]:
    return sorted(getattr(repo, "items", {}))


# -- 4. a caller without a project ---------------------------------------------------------------
def test_a_request_without_a_project_may_not_create(api: Any, container: Any) -> None:
    v2 = api.http.post("/v2/images", headers=EVE, body=json.dumps({"name": "everyone's"}))
    assert "without a project" in glance_error(v2, 403)
    v1 = post(api, {**EVE, **JSON}, {**RAW, **meta(name="everyone's")})
    assert "without a project" in glance_error(v1, 403)
    # Not even an admin makes an owner-less image: it needs a project, or an owner named in the body.
    admin_no_project = token("root", "", "admin")
    assert "without a project" in glance_error(api.http.post("/v2/images", headers=admin_no_project, body="{}"), 403)
    assert glance_error(api.http.post("/v2/images", headers=ADMIN, body=json.dumps({"owner": None})), 403)
    nothing_stored(container)
    made = api.http.post("/v2/images", headers=admin_no_project, body=json.dumps({"owner": "proj-a"}))
    assert made.status_code == 201 and body(made)["owner"] == "proj-a"


def test_a_cloud_token_without_a_project_claim_may_not_create(api: Any, container: Any) -> None:
    # The authorizer passes an absent project claim on as "": the context has no project.
    ctx = from_authorizer({"user_id": "eve", "project_id": "", "roles": "member,reader"}, "req-1")
    assert ctx.project_id is None
    with pytest.raises(Forbidden, match="without a project"):
        container.images.create(ctx, {"name": "x"})
    nothing_stored(container)


@pytest.mark.parametrize("visibility", ["shared", "private"])
def test_an_owner_less_image_is_visible_to_admins_only(api: Any, container: Any, visibility: str) -> None:
    # Given an owner-less image (as the old rule let a project-less token make)
    now = datetime.now(timezone.utc)
    image = container.ports.images.add(Image(id=str(uuid.uuid4()), owner=None, created_at=now, updated_at=now,
                                             visibility=visibility))
    for who in (ALICE, BOB, EVE):
        assert glance_error(api.http.get(f"/v2/images/{image.id}", headers=who), 404)
        assert image.id not in [im["id"] for im in body(api.http.get("/v2/images", headers=who))["images"]]
    assert api.http.get(f"/v2/images/{image.id}", headers=ADMIN).status_code == 200
    assert container.ports.images.get(image.id) == image


# -- 8. ids are UUIDs -----------------------------------------------------------------------------
GOOD = "0b6f1c3e-9a4d-4c1b-8f2e-3d5a6b7c8d9e"
BAD_IDS = ["x/y", "..", "a b", "x" * 300, GOOD[:-1], GOOD + "0", GOOD.replace("-", ""), "{" + GOOD + "}",
           GOOD.replace("b", "g", 1), GOOD + "\n", ""]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_v2_create_takes_only_uuid_ids(api: Any, container: Any, bad: str) -> None:
    resp = api.http.post("/v2/images", headers=ALICE, body=json.dumps({"id": bad}))
    glance_error(resp, 400)
    nothing_stored(container)


@pytest.mark.parametrize("bad", [b for b in BAD_IDS if b and "\n" not in b])
def test_v1_create_takes_only_uuid_ids(api: Any, container: Any, bad: str) -> None:
    resp = post(api, {**ALICE, **JSON}, {**RAW, "x-image-meta-id": bad})
    assert "must be a UUID" in glance_error(resp, 400)
    nothing_stored(container)
    assert body(api.http.get("/v2/images", headers=ALICE))["images"] == []


def test_v1_create_with_a_uuid_id_keeps_it(api: Any) -> None:
    resp = post(api, {**ALICE, **JSON}, {**RAW, "x-image-meta-id": GOOD})
    assert resp.status_code == 201 and body(resp)["image"]["id"] == GOOD


def test_an_s3_location_names_its_own_object_exactly(container: Any) -> None:
    support = container.data._locations  # noqa: SLF001 - the one LocationSupport the services share
    store = container.data.store
    assert support.own_key(GOOD, store.url_of(f"images/{GOOD}")) == f"images/{GOOD}"
    for other in (f"images/{GOOD}/y", f"images/{GOOD}/", f"images/{GOOD}x", f"staging/{GOOD}", "images/x/y"):
        assert support.own_key(GOOD, store.url_of(other)) is None, other


# -- 11. control characters in v1 headers ---------------------------------------------------------
@pytest.mark.parametrize("header, value", [
    ("x-image-meta-name", "a%00b"), ("x-image-meta-name", "a%0Ab"), ("x-image-meta-name", "a%0D%0Ab"),
    ("x-image-meta-name", "a%7Fb"), ("x-image-meta-name", "a%C2%85b"), ("x-image-meta-property-note", "x%00"),
    ("x-image-meta-property-n%00te", "x"), ("x-image-meta-min_ram", "1%00"),
])
def test_v1_control_characters_are_400_never_cut(api: Any, container: Any, header: str, value: str) -> None:
    # On create: 400, and no image
    resp = post(api, {**ALICE, **JSON}, {**RAW, header: value})
    assert "control character" in glance_error(resp, 400)
    nothing_stored(container)
    # On update: 400, and the image unchanged
    image = create(api, ALICE, name="kept")
    before = container.ports.images.get(image["id"])
    put = api.http.put(f"/v1/images/{image['id']}", headers={**ALICE, **JSON, header: value}, body=b"")
    assert "control character" in glance_error(put, 400)
    assert container.ports.images.get(image["id"]) == before
