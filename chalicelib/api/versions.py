"""Glance's version negotiation by URL (glance/api/middleware/version_negotiation.py), in one place.

Glance pops the first path segment and looks it up in ``_get_allowed_versions``: ``v2`` and every
``v2.N`` its versions document lists are served as ``/v2`` (``/v2.1/images`` is ``/v2/images``);
any other version segment (``/v2.14`` without the cache API, ``/v9``) gets the versions document
with 300 Multiple Choices. With the legacy v1 API enabled Glance also took ``v1.0`` and ``v1.1``
as ``/v1`` (the same function before commit 3dde3204d removed v1).

API Gateway and the load balancer route ``/v2.1/...`` to ``/{proxy+}``: ``rewrite`` turns such
an event into the event of the route the served path reaches. The local front matches routes
itself and asks ``served_path`` before matching, so every front serves the same paths.
"""
from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import quote

from chalicelib.api.routing import GatewayRouteMatcher

# Glance's version list with multi-store (enabled_backends) and without the cache API, in Glance's own order
# (glance/api/versions.py Controller.index): 2.8 and 2.10-2.13 are the stores and image-tasks versions.
VERSIONS = [("v2.15", "SUPPORTED"), *((f"v2.{minor}", "SUPPORTED") for minor in (13, 12, 11, 10, 9, 8)),
            ("v2.17", "CURRENT"), *((f"v2.{minor}", "SUPPORTED") for minor in (7, 6, 5, 4, 3, 2, 1, 0))]
# Version segments served, and the version each is served as (_get_allowed_versions, same configuration).
SERVED: Mapping[str, str] = {"v1": "v1", "v1.0": "v1", "v1.1": "v1", "v2": "v2",
                             **{vid: "v2" for vid, _ in VERSIONS}}
CATCH_ALL = "/{proxy+}"


def served_path(path: str) -> str | None:
    """The path ``path`` is served at when its first segment is an alias of a served version
    (``/v2.1/images`` -> ``/v2/images``, ``/v2.1`` -> ``/v2``); None for any other path."""
    first, sep, rest = path.lstrip("/").partition("/")
    target = SERVED.get(first)
    if target is None or target == first:
        return None
    return f"/{target}{sep}{rest}"


def served_target(target: str, matcher: GatewayRouteMatcher) -> str:
    """A request target (path and query, as sent) with its path as served (``served_path``) where that
    reaches a route of its own; else ``target`` unchanged (the catch-all answers for the path as it came:
    404, or dev mode's identity look-ups under ``/v2.0``)."""
    path, sep, query = target.partition("?")
    served = served_path(path)
    if served is None or matcher.match_route(served).route == CATCH_ALL:
        return target
    return served + sep + query


def rewrite(event: Mapping[str, Any], matcher: GatewayRouteMatcher) -> Mapping[str, Any]:
    """An API Gateway proxy event for ``/{proxy+}`` whose path is a version alias, as the event of the route
    its served path reaches (``served_target``); any other event unchanged."""
    context = event.get("requestContext") or {}
    if context.get("resourcePath") != CATCH_ALL:
        return event
    # The capture is decoded (API Gateway's and the matcher's): encode each segment again to match it.
    captured = str((event.get("pathParameters") or {}).get("proxy") or "")
    proxy = "/" + "/".join(quote(part, safe="") for part in captured.split("/"))
    served = served_target(proxy, matcher)
    if served == proxy:
        return event
    match = matcher.match_route(served)
    return {**event, "resource": match.route, "path": served, "pathParameters": match.captured or None,
            "requestContext": {**context, "resourcePath": match.route}}
