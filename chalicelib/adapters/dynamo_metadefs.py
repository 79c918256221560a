"""MetadefRepository on DynamoDB: JSON documents per namespace partition; Query only.

A namespace and its properties, objects and tags share one partition, so a
full namespace read is one Query; the sparse ``namespaces`` index lists
namespace rows by name; resource types live in their own partition.
"""
from __future__ import annotations

import json
from typing import Any

from chalicelib.adapters.aws_errors import translated, translated_iter
from chalicelib.adapters.dynamo_models import MetadefRecord
from chalicelib.domain.errors import DomainError, Duplicate, NotFound

WHAT = "The definition"  # names the document in a storage-limit refusal
_RESOURCE_TYPES = "rt"
NAMESPACE = "namespace"


def _partition(namespace: str) -> str:
    return f"ns:{namespace}"


class DynamoMetadefRepository:
    """Documents keyed by (namespace, kind, name); conditional puts and deletes."""

    def namespace_items(self, namespace: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(kind, name, doc) of every row of the namespace (one paged Query); empty when absent."""
        rows = MetadefRecord.query(_partition(namespace), consistent_read=True)
        found = []
        for row in translated_iter(rows, WHAT):
            kind, _, name = row.item.partition("#")
            found.append((kind, name, json.loads(row.doc)))
        return found

    def list_namespaces(self) -> list[dict[str, Any]]:
        """Every namespace row (one paged Query on the sparse index), by name."""
        return [json.loads(r.doc) for r in translated_iter(MetadefRecord.by_kind.query(NAMESPACE), WHAT)]

    def put(self, namespace: str, kind: str, name: str, doc: dict[str, Any], *, create: bool) -> None:
        """Create (must be new: Duplicate) or replace (must exist: NotFound) one document."""
        self._put(_partition(namespace), kind, name, doc, create=create)

    def delete(self, namespace: str, kind: str, name: str) -> None:
        """Delete one document; raises NotFound when absent."""
        with translated(WHAT, on_condition=NotFound(f"{kind} {name} not found.")):
            MetadefRecord(_partition(namespace), f"{kind}#{name}").delete(condition=MetadefRecord.item.exists())

    def delete_all(self, namespace: str, kind: str | None = None) -> None:
        """Delete every row of the namespace, or only those of ``kind``."""
        prefix = None if kind is None else MetadefRecord.item.startswith(f"{kind}#")
        with translated(WHAT), MetadefRecord.batch_write() as batch:
            for row in MetadefRecord.query(_partition(namespace), range_key_condition=prefix):
                batch.delete(row)

    def resource_types(self) -> list[dict[str, Any]]:
        """Every known resource type (one Query)."""
        return [json.loads(r.doc) for r in translated_iter(MetadefRecord.query(_RESOURCE_TYPES), WHAT)]

    def ensure_resource_type(self, doc: dict[str, Any]) -> None:
        """Record a resource type if it is new (associations create them, as in Glance)."""
        try:
            self._put(_RESOURCE_TYPES, "resource_type", doc["name"], doc, create=True)
        except Duplicate:
            pass

    @staticmethod
    def _put(partition: str, kind: str, name: str, doc: dict[str, Any], *, create: bool) -> None:
        record = MetadefRecord(partition, f"{kind}#{name}", doc=json.dumps(doc))
        if kind == NAMESPACE:
            record.kind = NAMESPACE
        condition = MetadefRecord.item.does_not_exist() if create else MetadefRecord.item.exists()
        refused: DomainError = (
            Duplicate(f"A metadata definition {kind} with name={name} already exists.") if create
            else NotFound(f"{kind} {name} not found.")
        )
        with translated(WHAT, on_condition=refused):
            record.save(condition=condition)
