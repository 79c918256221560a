"""Versions and schemas."""
from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import ALICE, body


def test_root_is_300_and_versions_200_with_host_links(api: Any) -> None:
    root = api.http.get("/", headers={"Host": "images.example:9292"})
    assert root.status_code == 300
    versions = body(api.http.get("/versions", headers={"Host": "images.example:9292"}))["versions"]
    current = [v for v in versions if v["status"] == "CURRENT"]
    assert [v["id"] for v in current] == ["v2.17"]
    assert {v["id"] for v in versions} >= {"v2.0", "v2.9", "v2.15", "v2.17"}
    assert current[0]["links"] == [{"rel": "self", "href": "http://images.example:9292/v2/"}]
    assert body(root) == {"versions": versions}


@pytest.mark.parametrize("name", ["image", "images", "member", "members", "task", "tasks"])
def test_schemas_served(api: Any, name: str) -> None:
    doc = body(api.http.get(f"/v2/schemas/{name}", headers=ALICE))
    assert doc["name"] == name


@pytest.mark.parametrize("name", ["namespace", "namespaces", "resource_type", "resource_types", "property", "properties",
                                  "object", "objects", "tag", "tags"])
def test_metadefs_schemas_served(api: Any, name: str) -> None:
    assert api.http.get(f"/v2/schemas/metadefs/{name}", headers=ALICE).status_code == 200


def test_image_schema_formats_and_permissive(api: Any) -> None:
    doc = body(api.http.get("/v2/schemas/image", headers=ALICE))
    assert "ploop" in doc["properties"]["disk_format"]["enum"] and "vhdx" in doc["properties"]["disk_format"]["enum"]
    assert set(doc["properties"]["container_format"]["enum"]) == {None, "ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"}
    assert doc["additionalProperties"] == {"type": "string"}


def test_unknown_schema_404_and_schemas_need_identity(api: Any) -> None:
    assert api.http.get("/v2/schemas/nope", headers=ALICE).status_code == 404
    assert api.http.get("/v2/schemas/image").status_code == 401
