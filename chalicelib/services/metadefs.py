"""Metadata definitions use cases (reference 1.10): namespaces and their properties, objects, tags,
resource type associations; reads honour visibility (404), writes are admin-only (403).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Protocol

from chalicelib.domain import metadefs as rules
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import Duplicate, InvalidInput, NotFound
from chalicelib.ports import Clock

NS = "namespace"
_ITEM_KEY = {"property": "properties", "object": "objects", "tag": "tags"}
_NS_FIELDS = ("namespace", "display_name", "description", "visibility", "protected", "owner")


class MetadefRepository(Protocol):
    def namespace_items(self, namespace: str) -> list[tuple[str, str, dict[str, Any]]]: ...
    def list_namespaces(self) -> list[dict[str, Any]]: ...
    def put(self, namespace: str, kind: str, name: str, doc: dict[str, Any], *, create: bool) -> None: ...
    def delete(self, namespace: str, kind: str, name: str) -> None: ...
    def delete_all(self, namespace: str, kind: str | None = None) -> None: ...
    def resource_types(self) -> list[dict[str, Any]]: ...
    def ensure_resource_type(self, doc: dict[str, Any]) -> None: ...


def _stamp(iso: str) -> dict[str, str]:
    return {"created_at": iso, "updated_at": iso}


class MetadefService:
    """Metadefs over a MetadefRepository; ``now`` strings come from the clock in Glance's format."""

    def __init__(self, repo: MetadefRepository, clock: Clock) -> None:
        self.repo = repo
        self.clock = clock

    def _now(self) -> str:
        return self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")

    # -- namespaces -----------------------------------------------------
    def _load(self, ctx: RequestContext, name: str) -> tuple[dict[str, Any], dict[str, dict[str, dict[str, Any]]]]:
        children: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in _ITEM_KEY}
        namespace = None
        for kind, item, doc in self.repo.namespace_items(name):
            if kind == NS:
                namespace = doc
            elif kind in children:
                children[kind][item] = doc
        return dict(rules.require_visible(namespace, name, ctx)), children

    def show_namespace(self, ctx: RequestContext, name: str, resource_type: str | None = None) -> dict[str, Any]:
        """The namespace with its children; ``resource_type`` prefixes property names; raises NamespaceNotFound."""
        namespace, children = self._load(ctx, name)
        prefix = rules.prefix_for(namespace, resource_type) if resource_type else ""
        doc = dict(namespace)
        if children["property"]:
            doc["properties"] = rules.prefixed({k: _strip(v) for k, v in children["property"].items()}, prefix)
        if children["object"]:
            doc["objects"] = [
                {**obj, "properties": rules.prefixed(obj.get("properties") or {}, prefix)} for obj in children["object"].values()
            ]
        if children["tag"]:
            doc["tags"] = [{"name": t["name"]} for t in children["tag"].values()]
        return doc

    def list_namespaces(self, ctx: RequestContext, *, visibility: str | None, resource_types: list[str],
                        limit: int, marker: str | None, sort_key: str, sort_dir: str) -> tuple[list[dict[str, Any]], str | None]:
        """Visible namespaces after ``marker``, filtered and sorted; returns (page, next marker)."""
        rules.check_visibility_filter(visibility)
        if sort_key not in ("created_at", "updated_at", "namespace", "display_name") or sort_dir not in ("asc", "desc"):
            raise InvalidInput(f"Invalid sort: {sort_key} {sort_dir}")
        found = [n for n in self.repo.list_namespaces() if rules.can_read(n, ctx)]
        if visibility:
            found = [n for n in found if n.get("visibility") == visibility]
        if resource_types:
            found = [n for n in found if {a["name"] for a in n.get("resource_type_associations") or ()} & set(resource_types)]
        found.sort(key=lambda n: (str(n.get(sort_key) or ""), n["namespace"]), reverse=sort_dir == "desc")
        if marker is not None:
            names = [n["namespace"] for n in found]
            if marker not in names:
                raise InvalidInput(f"Invalid marker {marker}: no such namespace.")
            found = found[names.index(marker) + 1:]
        page = found[:limit]
        return page, (page[-1]["namespace"] if len(page) == limit and len(found) > limit else None)

    def create_namespace(self, ctx: RequestContext, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a namespace, with any embedded properties, objects, tags and associations; raises Duplicate."""
        rules.require_admin(ctx, "add_metadef_namespace")
        now = self._now()
        namespace = {k: body[k] for k in _NS_FIELDS if k in body}
        namespace.setdefault("visibility", "private")
        namespace.setdefault("protected", False)
        namespace.setdefault("owner", ctx.project_id)
        namespace["resource_type_associations"] = [
            {**a, **_stamp(now)} for a in body.get("resource_type_associations") or ()
        ]
        namespace.update(_stamp(now))
        # As Glance's serializer: unset fields are left out (glanceclient validates against the schema).
        namespace = {k: v for k, v in namespace.items() if v is not None}
        name = namespace["namespace"]
        try:
            self.repo.put(name, NS, "", namespace, create=True)
        except Duplicate:
            raise Duplicate(f"Metadata definition namespace={name} already exists.") from None
        for assoc in namespace["resource_type_associations"]:
            self.repo.ensure_resource_type({"name": assoc["name"], **_stamp(now)})
        for prop_name, prop in (body.get("properties") or {}).items():
            self.repo.put(name, "property", prop_name, {**prop, "name": prop_name}, create=True)
        for obj in body.get("objects") or ():
            self.repo.put(name, "object", obj["name"], {**obj, **_stamp(now)}, create=True)
        for tag in body.get("tags") or ():
            self.repo.put(name, "tag", tag["name"], {"name": tag["name"], **_stamp(now)}, create=True)
        return self.show_namespace(ctx, name)

    def update_namespace(self, ctx: RequestContext, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the namespace's fields (a new name moves its rows; 409 when taken)."""
        namespace, children = self._load(ctx, name)
        rules.require_admin(ctx, "modify_metadef_namespace")
        updated = {**namespace, **{k: body[k] for k in _NS_FIELDS if k in body}, "updated_at": self._now()}
        new_name = updated["namespace"]
        if new_name == name:
            self.repo.put(name, NS, "", updated, create=False)
            return self.show_namespace(ctx, name)
        try:
            self.repo.put(new_name, NS, "", updated, create=True)
        except Duplicate:
            raise Duplicate(f"Metadata definition namespace={new_name} already exists.") from None
        for kind, items in children.items():
            for item, doc in items.items():
                self.repo.put(new_name, kind, item, doc, create=True)
        self.repo.delete_all(name)
        return self.show_namespace(ctx, new_name)

    def delete_namespace(self, ctx: RequestContext, name: str) -> None:
        """Delete the namespace and everything in it; raises ProtectedNamespace."""
        namespace, _ = self._load(ctx, name)
        rules.require_admin(ctx, "delete_metadef_namespace")
        rules.require_unprotected(namespace)
        self.repo.delete_all(name)

    # -- properties, objects, tags ---------------------------------------
    def list_items(self, ctx: RequestContext, name: str, kind: str, resource_type: str | None = None) -> Any:
        """The namespace's properties (a map), objects or tags (lists)."""
        namespace, children = self._load(ctx, name)
        items = children[kind]
        if kind == "property":
            prefix = rules.prefix_for(namespace, resource_type) if resource_type else ""
            return rules.prefixed({k: _strip(v) for k, v in items.items()}, prefix)
        return list(items.values())

    def show_item(self, ctx: RequestContext, name: str, kind: str, item: str) -> dict[str, Any]:
        """One property, object or tag; a property name may carry the association's prefix."""
        namespace, children = self._load(ctx, name)
        if item in children[kind]:
            return children[kind][item]
        if kind == "property":
            for assoc in namespace.get("resource_type_associations") or ():
                prefix = assoc.get("prefix") or ""
                if prefix and item.startswith(prefix) and item[len(prefix):] in children[kind]:
                    return {**children[kind][item[len(prefix):]], "name": item}
        raise rules.ItemNotFound(kind=kind, name=item, namespace=name)

    def create_item(self, ctx: RequestContext, name: str, kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Add a property, object or tag; raises Duplicate."""
        self._load(ctx, name)
        rules.require_admin(ctx, f"add_metadef_{kind}")
        doc = dict(body)
        if kind != "property":
            doc.update(_stamp(self._now()))
        self.repo.put(name, kind, str(doc["name"]), doc, create=True)
        return doc

    def update_item(self, ctx: RequestContext, name: str, kind: str, item: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Replace a property, object or tag (renaming it when the body's name differs)."""
        _, children = self._load(ctx, name)
        rules.require_admin(ctx, f"modify_metadef_{kind}")
        if item not in children[kind]:
            raise rules.ItemNotFound(kind=kind, name=item, namespace=name)
        doc = {**({} if kind == "property" else {"created_at": children[kind][item].get("created_at")}), **body}
        if kind != "property":
            doc["updated_at"] = self._now()
        new = str(doc.get("name", item))
        doc["name"] = new
        if new == item:
            self.repo.put(name, kind, item, doc, create=False)
        else:
            self.repo.put(name, kind, new, doc, create=True)
            self.repo.delete(name, kind, item)
        return doc

    def delete_item(self, ctx: RequestContext, name: str, kind: str, item: str) -> None:
        """Delete one property, object or tag; raises ProtectedNamespace, ItemNotFound."""
        namespace, children = self._load(ctx, name)
        rules.require_admin(ctx, f"delete_metadef_{kind}")
        rules.require_unprotected(namespace)
        if item not in children[kind]:
            raise rules.ItemNotFound(kind=kind, name=item, namespace=name)
        self.repo.delete(name, kind, item)

    def delete_items(self, ctx: RequestContext, name: str, kind: str) -> None:
        """Delete every property, object or tag of the namespace; raises ProtectedNamespace."""
        namespace, _ = self._load(ctx, name)
        rules.require_admin(ctx, f"delete_metadef_{kind}")
        rules.require_unprotected(namespace)
        self.repo.delete_all(name, kind)

    def create_tags(self, ctx: RequestContext, name: str, tags: Iterable[str], append: bool) -> list[dict[str, Any]]:
        """Replace the tags (or append with ``append``); raises Duplicate for repeated or existing names."""
        _, children = self._load(ctx, name)
        rules.require_admin(ctx, "add_metadef_tags")
        names = list(tags)
        existing = set(children["tag"]) if append else set()
        if len(set(names)) != len(names) or existing & set(names):
            raise Duplicate("A metadata tag with the same name already exists.")
        if not append:
            self.repo.delete_all(name, "tag")
        now = self._now()
        made = [{"name": tag, **_stamp(now)} for tag in names]
        for doc in made:
            self.repo.put(name, "tag", doc["name"], doc, create=True)
        return made

    # -- resource types ---------------------------------------------------
    def resource_types(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Every resource type (any reader)."""
        if not ctx.is_reader:
            raise NotFound("No resource types.")
        return self.repo.resource_types()

    def associations(self, ctx: RequestContext, name: str) -> list[dict[str, Any]]:
        """The namespace's resource type associations."""
        namespace, _ = self._load(ctx, name)
        return list(namespace.get("resource_type_associations") or ())

    def associate(self, ctx: RequestContext, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Associate a resource type (409 when already associated)."""
        namespace, _ = self._load(ctx, name)
        rules.require_admin(ctx, "add_metadef_resource_type_association")
        assocs = list(namespace.get("resource_type_associations") or ())
        if any(a["name"] == body["name"] for a in assocs):
            raise Duplicate(f"The metadata definition resource-type association of resource-type={body['name']} "
                            f"to namespace={name}, already exists.")
        now = self._now()
        assoc = {k: body[k] for k in ("name", "prefix", "properties_target") if k in body} | _stamp(now)
        self.repo.ensure_resource_type({"name": body["name"], **_stamp(now)})
        self.repo.put(name, NS, "", {**namespace, "resource_type_associations": assocs + [assoc]}, create=False)
        return assoc

    def dissociate(self, ctx: RequestContext, name: str, resource_type: str) -> None:
        """Remove an association; raises ProtectedNamespace, ItemNotFound."""
        namespace, _ = self._load(ctx, name)
        rules.require_admin(ctx, "remove_metadef_resource_type_association")
        rules.require_unprotected(namespace)
        assocs = list(namespace.get("resource_type_associations") or ())
        kept = [a for a in assocs if a["name"] != resource_type]
        if len(kept) == len(assocs):
            raise rules.ItemNotFound(kind="resource_type", name=resource_type, namespace=name)
        self.repo.put(name, NS, "", {**namespace, "resource_type_associations": kept}, create=False)

    # -- shipped definitions ------------------------------------------------
    def load_definitions(self, documents: Iterable[Mapping[str, Any]]) -> list[str]:
        """Create each shipped namespace that is missing (idempotent: deploy and the local runner call it)."""
        admin = RequestContext("glance-manage", None, frozenset({"admin"}))
        created = []
        for doc in documents:
            try:
                self.create_namespace(admin, doc)
                created.append(str(doc["namespace"]))
            except Duplicate:
                continue
        return created


def _strip(prop: Mapping[str, Any]) -> dict[str, Any]:
    # Inside a namespace document properties are keyed by name, as Glance shows them.
    return {k: v for k, v in prop.items() if k != "name"}
