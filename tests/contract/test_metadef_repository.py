"""One suite over each MetadefRepository: in memory (tests.fakes) and DynamoDB (moto)."""
from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.dynamo_metadefs import DynamoMetadefRepository
from chalicelib.domain.errors import Duplicate, InvalidInput, NotFound
from tests.fakes import InMemoryMetadefRepository


@pytest.fixture(params=["memory", "dynamo"])
def repo(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return InMemoryMetadefRepository()
    request.getfixturevalue("aws")
    return DynamoMetadefRepository()


def test_put_create_and_replace_conditions(repo: Any) -> None:
    repo.put("ns1", "namespace", "", {"namespace": "ns1"}, create=True)
    with pytest.raises(Duplicate, match="A metadata definition namespace with name= already exists."):
        repo.put("ns1", "namespace", "", {"namespace": "ns1"}, create=True)
    with pytest.raises(NotFound, match="property p not found."):
        repo.put("ns1", "property", "p", {"name": "p"}, create=False)
    repo.put("ns1", "namespace", "", {"namespace": "ns1", "v": 2}, create=False)
    assert repo.namespace_items("ns1") == [("namespace", "", {"namespace": "ns1", "v": 2})]


def test_namespace_items_in_sort_key_order_and_listing_by_name(repo: Any) -> None:
    for ns in ("b", "a"):
        repo.put(ns, "namespace", "", {"namespace": ns}, create=True)
    repo.put("a", "tag", "t1", {"name": "t1"}, create=True)
    repo.put("a", "property", "p2", {"name": "p2"}, create=True)
    repo.put("a", "object", "o", {"name": "o"}, create=True)
    repo.put("a", "property", "p1", {"name": "p1"}, create=True)
    assert [(k, n) for k, n, _ in repo.namespace_items("a")] == [
        ("namespace", ""), ("object", "o"), ("property", "p1"), ("property", "p2"), ("tag", "t1")]
    assert repo.list_namespaces() == [{"namespace": "a"}, {"namespace": "b"}]
    assert repo.namespace_items("missing") == []


def test_delete_and_delete_all(repo: Any) -> None:
    repo.put("a", "namespace", "", {"namespace": "a"}, create=True)
    repo.put("a", "tag", "t1", {"name": "t1"}, create=True)
    repo.put("a", "tag", "t2", {"name": "t2"}, create=True)
    repo.put("a", "property", "p", {"name": "p"}, create=True)
    repo.delete("a", "tag", "t1")
    with pytest.raises(NotFound, match="tag t1 not found."):
        repo.delete("a", "tag", "t1")
    repo.delete_all("a", "tag")
    assert [(k, n) for k, n, _ in repo.namespace_items("a")] == [("namespace", ""), ("property", "p")]
    repo.delete_all("a")
    assert repo.namespace_items("a") == [] and repo.list_namespaces() == []


def test_resource_types_are_recorded_once(repo: Any) -> None:
    repo.ensure_resource_type({"name": "OS::Nova::Server", "created_at": "1"})
    repo.ensure_resource_type({"name": "OS::Nova::Server", "created_at": "2"})
    repo.ensure_resource_type({"name": "OS::Glance::Image"})
    assert repo.resource_types() == [{"name": "OS::Glance::Image"}, {"name": "OS::Nova::Server", "created_at": "1"}]


def test_a_document_over_the_item_size_limit_is_invalid_input(repo: Any) -> None:
    with pytest.raises(InvalidInput, match=r"^The definition is too large to store \(DynamoDB items are limited to 400 KB\)\.$"):
        repo.put("a", "property", "big", {"name": "big", "description": "x" * 410_000}, create=True)
