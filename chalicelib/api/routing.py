"""API Gateway's route matching, for fronts that are not API Gateway (the local server, the ALB).

API Gateway hands the app an event naming the matched route (``resourcePath``) and its
captures; a front that receives a plain request path must do the same matching: literal routes
first, then captures, then the greedy ``{proxy+}``, with percent-decoded captures.
"""
from __future__ import annotations

from typing import NamedTuple
from urllib.parse import parse_qs, unquote, urlparse


class RouteMatch(NamedTuple):
    """The route template, its captured parameters and the query's values (every repeat kept)."""

    route: str
    captured: dict[str, str]
    query_params: dict[str, list[str]]


class GatewayRouteMatcher:
    """API Gateway's matching: literal routes first, then captures, then ``{proxy+}``."""

    def __init__(self, route_urls: list[str]) -> None:
        greedy = [r for r in route_urls if r.endswith("+}")]
        self.routes = sorted(r for r in route_urls if r not in greedy)
        self.greedy = sorted(greedy, key=len, reverse=True)

    def match_route(self, url: str) -> RouteMatch:
        """The route ``url`` (path and query) reaches; raises ValueError when none does."""
        parsed = urlparse(url)
        query = parse_qs(parsed.query, keep_blank_values=True)
        path = parsed.path
        if path != "/" and path.endswith("/"):
            path = path[:-1]
        parts = path.split("/")
        for route in self.routes:
            captured = self._match(parts, route.split("/"))
            if captured is not None:
                return RouteMatch(route, captured, query)
        for route in self.greedy:
            prefix = route.split("/")[:-1]
            if len(parts) > len(prefix) and self._match(parts[: len(prefix)], prefix) is not None:
                name = route.split("/")[-1][1:-2]
                return RouteMatch(route, {name: unquote("/".join(parts[len(prefix):]))}, query)
        raise ValueError(f"No matching route found for: {url}")

    @staticmethod
    def _match(parts: list[str], route_parts: list[str]) -> dict[str, str] | None:
        if len(parts) != len(route_parts):
            return None
        captured = {}
        for value, pattern in zip(parts, route_parts):
            if pattern.startswith("{") and pattern.endswith("}"):
                captured[pattern[1:-1]] = unquote(value)
            elif value != pattern:
                return None
        return captured
