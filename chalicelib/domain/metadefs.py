"""Metadata definitions (reference 1.10): who may see and change a namespace, and name prefixing.

Namespaces and their children are JSON documents; the rules here are pure.
"""
from __future__ import annotations

from typing import Any, Mapping

from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import Forbidden, InvalidInput, NotFound

KINDS = ("property", "object", "tag")
VISIBILITIES = ("public", "private")


class NamespaceNotFound(NotFound):
    """No such namespace, or the caller may not see it (reference 1.10: 404 for invisible)."""

    template = "Metadata definition namespace={namespace} was not found."


class ItemNotFound(NotFound):
    """No such property, object, tag or association in a namespace."""

    template = "Metadata definition {kind}={name} not found in namespace={namespace}."


class ProtectedNamespace(Forbidden):
    """A protected namespace (or its contents) cannot be deleted."""

    template = "Namespace {namespace} is protected and cannot be deleted."


def can_read(namespace: Mapping[str, Any], ctx: RequestContext) -> bool:
    """Admin, a public namespace, or a reader of the owner project."""
    if ctx.is_admin or namespace.get("visibility") == "public":
        return True
    return ctx.is_reader and ctx.project_id is not None and namespace.get("owner") == ctx.project_id


def require_visible(namespace: Mapping[str, Any] | None, name: str, ctx: RequestContext) -> Mapping[str, Any]:
    """Return the namespace; raises NamespaceNotFound when absent or invisible to ``ctx``."""
    if namespace is None or not can_read(namespace, ctx):
        raise NamespaceNotFound(namespace=name)
    return namespace


def require_admin(ctx: RequestContext, action: str) -> None:
    """metadef_admin: every metadefs write needs role admin."""
    if not ctx.is_admin:
        raise Forbidden(action=action)


def require_unprotected(namespace: Mapping[str, Any]) -> None:
    """Raise ProtectedNamespace for deletes in a protected namespace."""
    if namespace.get("protected"):
        raise ProtectedNamespace(namespace=namespace["namespace"])


def check_visibility_filter(value: str | None) -> None:
    """Raise InvalidInput for a visibility filter other than public/private."""
    if value is not None and value not in VISIBILITIES:
        raise InvalidInput(f"Invalid visibility value: {value}")


def prefix_for(namespace: Mapping[str, Any], resource_type: str) -> str:
    """The prefix of ``namespace``'s association with ``resource_type`` ('' when none)."""
    for assoc in namespace.get("resource_type_associations") or ():
        if assoc.get("name") == resource_type:
            return str(assoc.get("prefix") or "")
    return ""


def prefixed(properties: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Property definitions keyed by ``prefix + name`` (``?resource_type=`` on namespace reads)."""
    return {prefix + name: dict(value) for name, value in properties.items()}
