"""Metadata definitions over HTTP (reference 1.10): every route's code, visibility, protection, admin writes."""
from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.metadefs_loader import standard_documents
from tests.api.helpers import ADMIN, ALICE, BOB, body, token

NS = "/v2/metadefs/namespaces"
ALICE_ADMIN = token("aa", "proj-a", "admin")


def post(api: Any, path: str, headers: dict[str, str], doc: Any, **extra: str) -> Any:
    return api.http.post(path, headers={**headers, **extra}, body=json.dumps(doc))


@pytest.fixture
def ns(api: Any) -> str:
    doc = {"namespace": "Test::Ns", "display_name": "Test", "visibility": "private", "protected": False,
           "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "hw_"}],
           "properties": {"cpu": {"title": "CPU", "type": "string", "enum": ["a", "b"]}},
           "objects": [{"name": "Obj", "properties": {"x": {"title": "X", "type": "integer"}}}],
           "tags": [{"name": "t1"}]}
    resp = post(api, NS, ALICE_ADMIN, doc)
    assert resp.status_code == 201 and resp.headers["Location"] == f"{NS}/Test::Ns"
    return "Test::Ns"


@pytest.mark.moto  # the metadefs table's writes, as the API's role makes them
def test_namespace_crud_codes(api: Any, ns: str) -> None:
    shown = body(api.http.get(f"{NS}/{ns}", headers=ALICE))
    assert shown["owner"] == "proj-a" and shown["properties"]["cpu"]["enum"] == ["a", "b"]
    assert shown["objects"][0]["name"] == "Obj" and shown["tags"] == [{"name": "t1"}]
    assert post(api, NS, ADMIN, {"namespace": ns}).status_code == 409
    assert post(api, NS, ADMIN, {"display_name": "no name"}).status_code == 400
    renamed = api.http.put(f"{NS}/{ns}", headers=ALICE_ADMIN, body=json.dumps({"namespace": "Test::Renamed", "description": "d"}))
    assert renamed.status_code == 200 and body(renamed)["description"] == "d"
    assert body(api.http.get(f"{NS}/Test::Renamed/properties", headers=ALICE))["properties"]["cpu"]["title"] == "CPU"
    assert api.http.get(f"{NS}/{ns}", headers=ALICE).status_code == 404
    post(api, NS, ADMIN, {"namespace": "Other"})
    clash = api.http.put(f"{NS}/Test::Renamed", headers=ADMIN, body=json.dumps({"namespace": "Other"}))
    assert clash.status_code == 409
    deleted = api.http.delete(f"{NS}/Test::Renamed", headers=ADMIN)
    assert deleted.status_code == 204
    assert api.http.get(f"{NS}/Test::Renamed", headers=ADMIN).status_code == 404
    assert api.http.get(f"{NS}/Test::Renamed/properties", headers=ADMIN).status_code == 404


def test_visibility_404_and_admin_only_writes_403(api: Any, ns: str) -> None:
    assert api.http.get(f"{NS}/{ns}", headers=BOB).status_code == 404  # private to proj-a
    assert api.http.get(f"{NS}/{ns}/properties/cpu", headers=BOB).status_code == 404
    assert ns not in [n["namespace"] for n in body(api.http.get(NS, headers=BOB))["namespaces"]]
    assert ns in [n["namespace"] for n in body(api.http.get(NS, headers=ALICE))["namespaces"]]
    assert post(api, NS, ALICE, {"namespace": "Mine"}).status_code == 403
    assert post(api, f"{NS}/{ns}/properties", ALICE, {"name": "p", "title": "P", "type": "string"}).status_code == 403
    assert api.http.delete(f"{NS}/{ns}", headers=ALICE).status_code == 403
    assert api.http.put(f"{NS}/{ns}", headers=ALICE, body=json.dumps({"namespace": ns})).status_code == 403
    assert api.http.delete(f"{NS}/{ns}", headers=BOB).status_code == 404


def test_protected_namespace_refuses_deletes_403(api: Any) -> None:
    post(api, NS, ADMIN, {"namespace": "Prot", "protected": True, "visibility": "public",
                          "resource_type_associations": [{"name": "OS::Glance::Image"}],
                          "properties": {"p": {"title": "P", "type": "string"}}})
    assert api.http.delete(f"{NS}/Prot", headers=ADMIN).status_code == 403
    assert api.http.delete(f"{NS}/Prot/properties/p", headers=ADMIN).status_code == 403
    assert api.http.delete(f"{NS}/Prot/properties", headers=ADMIN).status_code == 403
    assert api.http.delete(f"{NS}/Prot/resource_types/OS::Glance::Image", headers=ADMIN).status_code == 403
    api.http.put(f"{NS}/Prot", headers=ADMIN, body=json.dumps({"namespace": "Prot", "protected": False}))
    assert api.http.delete(f"{NS}/Prot", headers=ADMIN).status_code == 204


@pytest.mark.moto  # the metadefs table's writes, as the API's role makes them
def test_properties_routes(api: Any, ns: str) -> None:
    new = post(api, f"{NS}/{ns}/properties", ADMIN, {"name": "ram", "title": "RAM", "type": "integer", "minimum": 0})
    assert new.status_code == 201 and body(new)["name"] == "ram"
    assert post(api, f"{NS}/{ns}/properties", ADMIN, {"name": "ram", "title": "RAM", "type": "integer"}).status_code == 409
    assert post(api, f"{NS}/{ns}/properties", ADMIN, {"name": "bad", "title": "B", "type": "nope"}).status_code == 400
    assert set(body(api.http.get(f"{NS}/{ns}/properties", headers=ALICE))["properties"]) == {"cpu", "ram"}
    assert body(api.http.get(f"{NS}/{ns}/properties/ram", headers=ALICE))["title"] == "RAM"
    assert api.http.get(f"{NS}/{ns}/properties/nope", headers=ALICE).status_code == 404
    updated = api.http.put(f"{NS}/{ns}/properties/ram", headers=ADMIN, body=json.dumps({"name": "ram", "title": "Memory", "type": "integer"}))
    assert updated.status_code == 200 and body(updated)["title"] == "Memory"
    assert api.http.delete(f"{NS}/{ns}/properties/ram", headers=ADMIN).status_code == 204
    assert api.http.delete(f"{NS}/{ns}/properties/ram", headers=ADMIN).status_code == 404
    assert api.http.delete(f"{NS}/{ns}/properties", headers=ADMIN).status_code == 204
    assert body(api.http.get(f"{NS}/{ns}/properties", headers=ALICE))["properties"] == {}


@pytest.mark.moto  # the metadefs table's writes, as the API's role makes them
def test_objects_routes(api: Any, ns: str) -> None:
    made = post(api, f"{NS}/{ns}/objects", ADMIN, {"name": "O2", "description": "d"})
    assert made.status_code == 201 and body(made)["created_at"].endswith("Z")
    assert post(api, f"{NS}/{ns}/objects", ADMIN, {"name": "O2"}).status_code == 409
    assert {o["name"] for o in body(api.http.get(f"{NS}/{ns}/objects", headers=ALICE))["objects"]} == {"Obj", "O2"}
    assert api.http.put(f"{NS}/{ns}/objects/O2", headers=ADMIN, body=json.dumps({"name": "O2", "description": "e"})).status_code == 200
    assert body(api.http.get(f"{NS}/{ns}/objects/O2", headers=ALICE))["description"] == "e"
    assert api.http.delete(f"{NS}/{ns}/objects/O2", headers=ADMIN).status_code == 204
    assert api.http.get(f"{NS}/{ns}/objects/O2", headers=ALICE).status_code == 404
    assert api.http.delete(f"{NS}/{ns}/objects", headers=ADMIN).status_code == 204


@pytest.mark.moto  # the metadefs table's writes, as the API's role makes them
def test_tags_routes(api: Any, ns: str) -> None:
    replaced = post(api, f"{NS}/{ns}/tags", ADMIN, {"tags": [{"name": "a"}, {"name": "b"}]})
    assert replaced.status_code == 201
    assert {t["name"] for t in body(api.http.get(f"{NS}/{ns}/tags", headers=ALICE))["tags"]} == {"a", "b"}
    appended = post(api, f"{NS}/{ns}/tags", ADMIN, {"tags": [{"name": "c"}]}, **{"X-Openstack-Append": "true"})
    assert appended.status_code == 201
    assert {t["name"] for t in body(api.http.get(f"{NS}/{ns}/tags", headers=ALICE))["tags"]} == {"a", "b", "c"}
    assert post(api, f"{NS}/{ns}/tags", ADMIN, {"tags": [{"name": "c"}]}, **{"X-Openstack-Append": "true"}).status_code == 409
    assert post(api, f"{NS}/{ns}/tags", ADMIN, {"tags": [{"name": "x"}, {"name": "x"}]}).status_code == 409
    assert api.http.post(f"{NS}/{ns}/tags/d", headers=ADMIN).status_code == 201
    assert api.http.post(f"{NS}/{ns}/tags/d", headers=ADMIN).status_code == 409
    assert body(api.http.get(f"{NS}/{ns}/tags/d", headers=ALICE))["name"] == "d"
    renamed = api.http.put(f"{NS}/{ns}/tags/d", headers=ADMIN, body=json.dumps({"name": "e"}))
    assert renamed.status_code == 200 and api.http.get(f"{NS}/{ns}/tags/e", headers=ALICE).status_code == 200
    assert api.http.delete(f"{NS}/{ns}/tags/e", headers=ADMIN).status_code == 204
    assert api.http.delete(f"{NS}/{ns}/tags", headers=ADMIN).status_code == 204
    assert body(api.http.get(f"{NS}/{ns}/tags", headers=ALICE))["tags"] == []


@pytest.mark.moto  # the metadefs table's writes, as the API's role makes them
def test_resource_types_and_associations(api: Any, ns: str) -> None:
    assert "OS::Glance::Image" in [r["name"] for r in body(api.http.get("/v2/metadefs/resource_types", headers=ALICE))["resource_types"]]
    made = post(api, f"{NS}/{ns}/resource_types", ADMIN, {"name": "OS::Nova::Flavor", "prefix": "hw:"})
    assert made.status_code == 201 and body(made)["prefix"] == "hw:"
    assert post(api, f"{NS}/{ns}/resource_types", ADMIN, {"name": "OS::Nova::Flavor"}).status_code == 409
    assocs = body(api.http.get(f"{NS}/{ns}/resource_types", headers=ALICE))["resource_type_associations"]
    assert {a["name"] for a in assocs} == {"OS::Glance::Image", "OS::Nova::Flavor"}
    assert "OS::Nova::Flavor" in [r["name"] for r in body(api.http.get("/v2/metadefs/resource_types", headers=ALICE))["resource_types"]]
    assert api.http.delete(f"{NS}/{ns}/resource_types/OS::Nova::Flavor", headers=ADMIN).status_code == 204
    assert api.http.delete(f"{NS}/{ns}/resource_types/OS::Nova::Flavor", headers=ADMIN).status_code == 404


def test_resource_type_prefixes_property_names(api: Any, ns: str) -> None:
    shown = body(api.http.get(f"{NS}/{ns}?resource_type=OS::Glance::Image", headers=ALICE))
    assert set(shown["properties"]) == {"hw_cpu"} and set(shown["objects"][0]["properties"]) == {"hw_x"}
    assert set(body(api.http.get(f"{NS}/{ns}", headers=ALICE))["properties"]) == {"cpu"}
    props = body(api.http.get(f"{NS}/{ns}/properties?resource_type=OS::Glance::Image", headers=ALICE))["properties"]
    assert set(props) == {"hw_cpu"}
    assert body(api.http.get(f"{NS}/{ns}/properties/hw_cpu", headers=ALICE))["name"] == "hw_cpu"


def test_list_filters_paging_and_bad_visibility(api: Any, ns: str) -> None:
    for n in range(3):
        post(api, NS, ADMIN, {"namespace": f"Pub{n}", "visibility": "public"})
    assert api.http.get(f"{NS}?visibility=shared", headers=ALICE).status_code == 400
    public = body(api.http.get(f"{NS}?visibility=public&sort_key=namespace&sort_dir=asc", headers=ALICE))
    assert [n["namespace"] for n in public["namespaces"]] == ["Pub0", "Pub1", "Pub2"]
    assert public["schema"] == "/v2/schemas/metadefs/namespaces" and public["first"] == NS
    page = body(api.http.get(f"{NS}?visibility=public&sort_key=namespace&sort_dir=asc&limit=2", headers=ALICE))
    assert [n["namespace"] for n in page["namespaces"]] == ["Pub0", "Pub1"] and "marker=Pub1" in page["next"]
    rest = body(api.http.get(f"{NS}?visibility=public&sort_key=namespace&sort_dir=asc&marker=Pub1", headers=ALICE))
    assert [n["namespace"] for n in rest["namespaces"]] == ["Pub2"]
    by_rt = body(api.http.get(f"{NS}?resource_types=OS::Glance::Image", headers=ALICE))["namespaces"]
    assert [n["namespace"] for n in by_rt] == [ns]


@pytest.mark.moto  # through the load_metadefs function (app.py), on DynamoDB
def test_standard_namespaces_load_once_and_are_valid(api: Any, container: Any) -> None:
    from app import load_metadefs

    docs = standard_documents()
    names = {d["namespace"] for d in docs}
    assert {"OS::Compute::Hypervisor", "OS::Glance::CommonImageProperties", "OS::OperatingSystem",
            "OS::Compute::LibvirtImage", "OS::Compute::Libvirt", "OS::Glance::Signatures"} <= names
    assert set(load_metadefs({}, None)["created"]) == names
    assert load_metadefs({}, None) == {"created": []}  # idempotent
    hv = body(api.http.get(f"{NS}/OS::Compute::Hypervisor", headers=BOB))
    assert hv["protected"] is True and hv["resource_type_associations"][0]["name"] == "OS::Glance::Image"
    assert "vz" in hv["properties"]["hypervisor_type"]["enum"] and "ploop" not in hv["properties"]["hypervisor_type"]["enum"]
    assert api.http.get(f"{NS}/OS%3A%3ACompute%3A%3AHypervisor/properties/vm_mode", headers=BOB).status_code == 200
    assert api.http.delete(f"{NS}/OS::Compute::Hypervisor", headers=ADMIN).status_code == 403
