"""MetadefRepository in memory, the contract of chalicelib/adapters/dynamo_metadefs.py."""
from __future__ import annotations

import json
from typing import Any

from chalicelib.domain.errors import Duplicate, InvalidInput, NotFound

NAMESPACE = "namespace"
_RESOURCE_TYPES = "rt"
# DynamoDB refuses items over 400 KB; the adapter turns that refusal into InvalidInput.
MAX_ITEM_BYTES = 400 * 1024


class InMemoryMetadefRepository:
    """Rows keyed by (partition, ``kind#name``), documents stored as JSON text (so callers never share them)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], str] = {}

    def namespace_items(self, namespace: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(kind, name, doc) of every row of the namespace, by sort key as a Query returns them."""
        partition = f"ns:{namespace}"
        found = []
        for (part, item), doc in sorted(self.rows.items()):
            if part == partition:
                kind, _, name = item.partition("#")
                found.append((kind, name, json.loads(doc)))
        return found

    def list_namespaces(self) -> list[dict[str, Any]]:
        return [json.loads(doc) for (part, item), doc in sorted(self.rows.items())
                if part.startswith("ns:") and item == f"{NAMESPACE}#"]

    def put(self, namespace: str, kind: str, name: str, doc: dict[str, Any], *, create: bool) -> None:
        self._put(f"ns:{namespace}", kind, name, doc, create=create)

    def delete(self, namespace: str, kind: str, name: str) -> None:
        if self.rows.pop((f"ns:{namespace}", f"{kind}#{name}"), None) is None:
            raise NotFound(f"{kind} {name} not found.")

    def delete_all(self, namespace: str, kind: str | None = None) -> None:
        prefix = "" if kind is None else f"{kind}#"
        for key in [k for k in self.rows if k[0] == f"ns:{namespace}" and k[1].startswith(prefix)]:
            del self.rows[key]

    def resource_types(self) -> list[dict[str, Any]]:
        return [json.loads(doc) for (part, _), doc in sorted(self.rows.items()) if part == _RESOURCE_TYPES]

    def ensure_resource_type(self, doc: dict[str, Any]) -> None:
        try:
            self._put(_RESOURCE_TYPES, "resource_type", doc["name"], doc, create=True)
        except Duplicate:
            pass

    def _put(self, partition: str, kind: str, name: str, doc: dict[str, Any], *, create: bool) -> None:
        key = (partition, f"{kind}#{name}")
        text = json.dumps(doc)
        if len(text.encode()) > MAX_ITEM_BYTES:  # DynamoDB validates the item before its condition
            raise InvalidInput("The definition is too large to store (DynamoDB items are limited to 400 KB).")
        if create and key in self.rows:
            raise Duplicate(f"A metadata definition {kind} with name={name} already exists.")
        if not create and key not in self.rows:
            raise NotFound(f"{kind} {name} not found.")
        self.rows[key] = text
