"""Structured logs and metrics for every handler, as one Chalice middleware (aws-lambda-powertools).

Logger writes JSON lines with the OpenStack request id, the Lambda request id and ``cold_start``;
Metrics writes CloudWatch EMF (requests, server errors, latency, cold starts) flushed per event.
Powertools is imported on the first event, not with ``app``: it costs several tens of ms that
``make bench`` shows, and the import-time budget is for ``app`` alone. Traces come from Lambda's
own X-Ray setting (the CDK stack), not from an SDK imported here.
"""
from __future__ import annotations

import contextvars
import time
from typing import Any, Callable

# Not the Chalice app name: Chalice already attaches a plain handler to that logger.
SERVICE = "glance-api"
NAMESPACE = "GlanceServerless"
_state: dict[str, Any] = {}


# Set by the WSGI front around each request it serves unless LOG_FORMAT=json: no JSON lines nor EMF
# there (it logs one access line per request instead). Lambda never sets it: there they are always on.
quiet: contextvars.ContextVar[bool] = contextvars.ContextVar("quiet_observability", default=False)


def _tools() -> tuple[Any, Any]:
    if "logger" not in _state:
        from aws_lambda_powertools import Logger, Metrics

        _state["logger"] = Logger(service=SERVICE)
        _state["metrics"] = Metrics(namespace=NAMESPACE, service=SERVICE)
    return _state["logger"], _state["metrics"]


def _describe(event: Any) -> tuple[str, Any]:
    """(handler label, Lambda context) for an HTTP request or any other Chalice event."""
    if hasattr(event, "method") and hasattr(event, "path"):
        return f"{event.method} {event.path}", getattr(event, "lambda_context", None)
    return type(event).__name__, getattr(event, "context", None)


def observe(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Log one JSON line and flush metrics per event; exceptions propagate (logged as server errors)."""
    from chalicelib.api.http import current_request_id

    if quiet.get():
        return get_response(event)
    logger, metrics = _tools()
    label, context = _describe(event)
    cold = _state.setdefault("cold", True)
    _state["cold"] = False
    logger.append_keys(request_id=current_request_id() or None, cold_start=cold,
                       function_request_id=getattr(context, "aws_request_id", None),
                       function_name=getattr(context, "function_name", None))
    start = time.perf_counter()
    status, error = 500, None
    try:
        response = get_response(event)
        status = int(getattr(response, "status_code", 200))
        return response
    except Exception as exc:
        error = type(exc).__name__  # the Lambda runtime logs the traceback itself
        # The authorizer's way to answer 401 is to raise; that is a refused caller, not a fault.
        status = 401 if error == "Unauthorized" else 500
        raise
    finally:
        elapsed = (time.perf_counter() - start) * 1000
        fields = {"handler": label, "status": status, "latency_ms": round(elapsed, 1), "error": error}
        if status >= 500:
            logger.error("server error", extra=fields)
        else:
            logger.info("handled", extra=fields)
        metrics.add_metric(name="Requests", unit="Count", value=1)
        metrics.add_metric(name="ServerErrors", unit="Count", value=1 if status >= 500 else 0)
        metrics.add_metric(name="Latency", unit="Milliseconds", value=elapsed)
        if cold:
            metrics.add_metric(name="ColdStart", unit="Count", value=1)
        metrics.flush_metrics()
