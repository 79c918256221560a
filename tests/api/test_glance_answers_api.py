"""Answers compared side by side with Glance 33 (issue 14, part 2): exact codes, headers and body keys."""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests import images as fx
from tests.api.helpers import ADMIN, ALICE, body, create, gateway_event

OCTET = {"Content-Type": "application/octet-stream"}


def test_create_advertises_the_enabled_import_methods(api: Any) -> None:
    # Glance's ResponseSerializer.create: openstacksdk's `image create --import` reads this header.
    resp = api.http.post("/v2/images", headers=ALICE, body=json.dumps({"name": "x"}))
    assert resp.status_code == 201
    assert resp.headers["OpenStack-image-import-methods"] == "glance-direct,web-download,copy-image"
    assert resp.headers["Location"] == f"/v2/images/{body(resp)['id']}"


@pytest.mark.settings(import_methods=())
def test_no_import_methods_means_no_header(api: Any) -> None:
    resp = api.http.post("/v2/images", headers=ALICE, body=json.dumps({"name": "x"}))
    assert resp.status_code == 201 and "OpenStack-image-import-methods" not in resp.headers


def test_bare_v2_redirects_to_its_root(api: Any) -> None:
    resp = api.http.get("/v2", headers={"Host": "images.example:9292"})
    assert resp.status_code == 302
    assert resp.headers["Location"] == "http://images.example:9292/v2/"
    assert resp.body == b""


@pytest.mark.parametrize("path", ["/v9", "/v3", "/v1.5", "/v10.2"])
def test_an_unknown_version_answers_300_with_the_versions_document(api: Any, path: str) -> None:
    host = {"Host": "images.example:9292"}
    resp = api.http.get(path, headers=host)
    assert resp.status_code == 300
    assert resp.headers["Content-Type"].startswith("application/json")
    assert body(resp) == body(api.http.get("/versions", headers=host))


@pytest.mark.parametrize("path,code", [("/v9/images", 300), ("/v3.1/images/x/file", 300), ("/v2/nope/x", 404),
                                       ("/nope/x", 404)])
def test_a_deep_unknown_path_behind_the_gateway(api: Any, path: str, code: int) -> None:
    from app import app

    answer = app(gateway_event(path), None)
    assert answer["statusCode"] == code
    if code == 300:
        doc = json.loads(answer["body"])
        assert doc["versions"][0]["links"][0]["href"] == "https://abc.execute-api.us-east-1.amazonaws.com/prod/v2/"


def test_unknown_paths_that_name_no_version_stay_404(api: Any) -> None:
    assert api.http.get("/nothing-here", headers=ALICE).status_code == 404
    assert api.http.get("/v2x", headers=ALICE).status_code == 404


def test_416_carries_webobs_title_and_code_text(api: Any) -> None:
    image = create(api, ALICE, name="q", disk_format="qcow2", container_format="bare")
    put = api.http.put(f"/v2/images/{image['id']}/file", headers={**ALICE, **OCTET}, body=fx.qcow2(padding=100))
    assert put.status_code == 204
    resp = api.http.get(f"/v2/images/{image['id']}/file", headers={**ALICE, "Range": "bytes=999999-"})
    assert resp.status_code == 416
    doc = body(resp)
    assert set(doc) == {"message", "code", "title"}
    assert (doc["code"], doc["title"]) == ("416 Request Range Not Satisfiable", "Request Range Not Satisfiable")
    html = api.http.get(f"/v2/images/{image['id']}/file", headers={**ALICE, "Accept": "*/*", "Range": "bytes=999999-"})
    assert html.status_code == 416 and b"<title>416 Request Range Not Satisfiable</title>" in html.body


@pytest.mark.settings(show_multiple_locations=True, show_image_direct_url=True)
def test_a_deactivated_image_hides_its_locations_from_non_admins(api: Any) -> None:
    # Given Alice's active image with data
    image = create(api, ALICE, name="d", disk_format="qcow2", container_format="bare")
    image_id = image["id"]
    assert api.http.put(f"/v2/images/{image_id}/file", headers={**ALICE, **OCTET},
                        body=fx.qcow2(padding=10)).status_code == 204
    shown = body(api.http.get(f"/v2/images/{image_id}", headers=ALICE))
    assert len(shown["locations"]) == 1 and shown["direct_url"] == shown["locations"][0]["url"]
    # When it is deactivated
    assert api.http.post(f"/v2/images/{image_id}/actions/deactivate", headers=ADMIN).status_code == 204
    # Then the owner (who may not download it) sees `locations: []` and no direct_url, in show and list
    mine = body(api.http.get(f"/v2/images/{image_id}", headers=ALICE))
    assert mine["status"] == "deactivated" and mine["locations"] == [] and "direct_url" not in mine
    listed = [i for i in body(api.http.get("/v2/images", headers=ALICE))["images"] if i["id"] == image_id]
    assert listed[0]["locations"] == [] and "direct_url" not in listed[0]
    # And an admin (who may) still sees them
    admin = body(api.http.get(f"/v2/images/{image_id}", headers=ADMIN))
    assert admin["locations"] == shown["locations"] and admin["direct_url"] == shown["direct_url"]


@pytest.mark.settings(allowed_hosts=frozenset({"127.0.0.1"}))
def test_web_download_of_an_allowed_host_on_another_port_is_400(api: Any) -> None:
    # Glance's validate_import_uri checks host and port independently: the host is allowed, the port is not.
    image = create(api, ALICE, name="w", disk_format="raw", container_format="bare")
    doc = {"method": {"name": "web-download", "uri": "http://127.0.0.1:4566/x.img"}}
    resp = api.http.post(f"/v2/images/{image['id']}/import", headers=ALICE, body=json.dumps(doc))
    assert resp.status_code == 400
    assert "Port 4566" in body(resp)["message"] and "IMPORT_ALLOWED_PORTS" in body(resp)["message"]
    assert body(api.http.get(f"/v2/images/{image['id']}", headers=ALICE))["status"] == "queued"


def test_versions_list_multi_store_and_image_tasks_in_glances_order(api: Any) -> None:
    # glance/api/versions.py with enabled_backends and no cache: glanceclient's `image-tasks` needs v2.12,
    # `stores-delete` v2.10; the cache versions (2.14, 2.16, 2.18) stay out, as no cache API exists.
    versions = body(api.http.get("/versions"))["versions"]
    assert [(v["id"], v["status"]) for v in versions] == [
        ("v2.15", "SUPPORTED"), ("v2.13", "SUPPORTED"), ("v2.12", "SUPPORTED"), ("v2.11", "SUPPORTED"),
        ("v2.10", "SUPPORTED"), ("v2.9", "SUPPORTED"), ("v2.8", "SUPPORTED"), ("v2.17", "CURRENT"),
        ("v2.7", "SUPPORTED"), ("v2.6", "SUPPORTED"), ("v2.5", "SUPPORTED"), ("v2.4", "SUPPORTED"),
        ("v2.3", "SUPPORTED"), ("v2.2", "SUPPORTED"), ("v2.1", "SUPPORTED"), ("v2.0", "SUPPORTED")]
