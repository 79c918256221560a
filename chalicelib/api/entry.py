"""The Chalice app class of this service: one handler for API Gateway's and the load balancer's events.

Two departures from Chalice's own handler, both for clients that do not know what fronts them:

* Binary responses go out whatever the request's ``Accept``. Chalice answers a non-Glance 400
  when a binary ``Content-Type`` meets an ``Accept`` outside its binary types (``glance
  image-download`` and curl may send ``application/json`` or nothing); the stack sets API
  Gateway's binary media types to ``*/*`` so that API Gateway, which decides by the first
  ``Accept`` value, turns every base64 body back into bytes (infra/stacks/gateway.py). The
  local server and the test client run this same class, so they apply the same rule.
* A path under a version alias (``/v2.1/images``) is served as its version's path, as Glance's
  version negotiation does (chalicelib/api/versions.py), whichever front routed it.
* An Application Load Balancer's event (the data plane's front, infra/stacks/data_plane.py) is
  converted to API Gateway's and back, with the token checked as the authorizer checks it.
"""
from __future__ import annotations

from typing import Any

from chalice.app import CaseInsensitiveMapping, Chalice, RestAPIEventHandler

from chalicelib.api import alb, versions
from chalicelib.api.routing import GatewayRouteMatcher


class _AnyAcceptHandler(RestAPIEventHandler):
    def _validate_binary_response(self, request_headers: CaseInsensitiveMapping,
                                  response_headers: CaseInsensitiveMapping) -> bool:
        return True


class ServiceApp(Chalice):
    """Chalice, serving binary data whatever the Accept header, and ALB events as well as API Gateway's."""

    _matcher: GatewayRouteMatcher | None = None

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        if alb.is_alb_event(event):
            return alb.handle(event, context, self._serve, self._route_matcher(), check_tokens=_cloud_mode())
        return self._serve(event, context)

    def _serve(self, event: Any, context: Any) -> dict[str, Any]:
        # Chalice.__call__ with the handler class swapped (chalice is pinned in requirements-dev.txt).
        event = versions.rewrite(event, self._route_matcher())  # /v2.1/... reaches /{proxy+}: served as /v2/...
        self.lambda_context = context
        handler = _AnyAcceptHandler(self.routes, self.api, self.log, self.debug,
                                    middleware_handlers=self._get_middleware_handlers("http"))
        self.current_request = handler.create_request_object(event, context)
        response: dict[str, Any] = handler(event, context)
        return response

    def _route_matcher(self) -> GatewayRouteMatcher:
        if self._matcher is None:
            self._matcher = GatewayRouteMatcher(list(self.routes))
        return self._matcher


def _cloud_mode() -> bool:
    from chalicelib.wiring import container

    return container().settings.identity.auth_mode == "cloud"
