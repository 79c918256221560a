"""Who is calling, from request headers (dev mode) or the API Gateway authorizer (cloud mode).

Dev mode trusts identity as Glance's functional tests do (reference 7.6):
``X-Identity-Status: Confirmed`` with ``X-User-Id``, ``X-Project-Id`` or
``X-Tenant-Id`` and ``X-Roles``; or ``X-Auth-Token: user:project:role1,role2``
(python-glanceclient may percent-encode it). Anything else is 401.
"""
from __future__ import annotations

from typing import Mapping
from urllib.parse import unquote

from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import Unauthenticated


def _roles(raw: str | None) -> frozenset[str]:
    return frozenset(r.strip().lower() for r in (raw or "").split(",") if r.strip())


def _project(raw: str | None) -> str | None:
    return None if raw in (None, "", "none") else raw


def from_headers(headers: Mapping[str, str], request_id: str) -> RequestContext:
    """Dev-mode identity; raises Unauthenticated when neither form is present and well formed."""
    if headers.get("x-identity-status", "").lower() == "confirmed":
        project = headers.get("x-project-id") or headers.get("x-tenant-id") or headers.get("x-tenant")
        user = headers.get("x-user-id") or headers.get("x-user")
        return RequestContext(user, _project(project), _roles(headers.get("x-roles")), request_id)
    token = headers.get("x-auth-token")
    if token:
        parts = unquote(token).split(":", 2)
        if len(parts) == 3 and parts[0]:
            user, project, roles = parts
            return RequestContext(user, _project(project), _roles(roles), request_id)
    raise Unauthenticated()


def from_authorizer(claims: Mapping[str, str] | None, request_id: str) -> RequestContext:
    """Cloud-mode identity from the authorizer's context; raises Unauthenticated without one."""
    if not claims or "project_id" not in claims:
        raise Unauthenticated()
    return RequestContext(claims.get("user_id"), _project(claims.get("project_id")), _roles(claims.get("roles")), request_id)
