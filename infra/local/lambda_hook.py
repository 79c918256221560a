"""The one private moto hook (DESIGN.md 5): run Lambda invocations in-process instead of in Docker.

moto's Step Functions executor invokes each Task's Lambda through moto's Lambda
backend, which would start a container in ``LambdaFunction._invoke_lambda``.
Here that method calls the Chalice function of the same name directly, and
reports an exception the way Lambda does (``errorType`` = class name,
``errorMessage``), so the ASL's Retry and Catch see what they would in AWS.
moto is pinned exactly (requirements-dev.txt); tests/unit/pipeline checks the
hook's target still exists with the signature this module relies on.
Never shipped: only the local runner and the tests import it.
"""
from __future__ import annotations

import inspect
import json
import logging
import traceback
from typing import Any, Callable, Mapping

HOOK_OWNER = "moto.awslambda.models.LambdaFunction"
HOOK_NAME = "_invoke_lambda"
Handler = Callable[[Any, Any], Any]
_handlers: dict[str, Handler] = {}
_log = logging.getLogger(__name__)


def _target() -> Any:
    from moto.awslambda.models import LambdaFunction

    method = getattr(LambdaFunction, HOOK_NAME, None)
    if method is None:
        raise RuntimeError(f"{HOOK_OWNER}.{HOOK_NAME} is gone: moto changed; update infra/local/lambda_hook.py")
    params = list(inspect.signature(method).parameters)
    if params[:2] != ["self", "event"]:
        raise RuntimeError(f"{HOOK_OWNER}.{HOOK_NAME}{params} changed shape: update infra/local/lambda_hook.py")
    return LambdaFunction


def run_in_process(function_name: str, event: Any) -> tuple[str, bool, str]:
    """Call the registered handler: (payload JSON, errored, log text), as ``_invoke_lambda`` returns."""
    handler = _handlers[function_name]
    if isinstance(event, (str, bytes)):
        event = json.loads(event or "{}")
    try:
        return json.dumps(handler(event, None)), False, ""
    except Exception as exc:  # noqa: BLE001 - Lambda reports every exception as the invocation's error
        _log.info("%s raised %s: %s", function_name, type(exc).__name__, exc)
        payload = {"errorType": type(exc).__name__, "errorMessage": str(exc),
                   "stackTrace": traceback.format_exception(exc)[-3:]}
        return json.dumps(payload), True, ""


def install(handlers: Mapping[str, Handler]) -> None:
    """Route invocations of these function names to the handlers (others keep moto's behaviour)."""
    owner = _target()
    _handlers.update(handlers)
    original = getattr(owner, HOOK_NAME)
    if getattr(original, "_in_process", False):
        return

    def invoke(self: Any, event: Any = None) -> tuple[str, bool, str]:
        if self.function_name in _handlers:
            return run_in_process(self.function_name, event)
        return original(self, event)

    invoke._in_process = True  # type: ignore[attr-defined]
    setattr(owner, HOOK_NAME, invoke)


def chalice_handlers(app: Any) -> dict[str, Handler]:
    """Every ``@app.lambda_function`` of a Chalice app, by its name."""
    return {fn.name: fn for fn in app.pure_lambda_functions}
