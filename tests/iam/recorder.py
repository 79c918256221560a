"""Records every AWS call the code makes in the tests, attributed to the Lambda function that would make it.

Attribution: the Chalice entry points (``Chalice.__call__`` is the API handler; the handler objects of
the other functions, named as they register: what app.py's attributes hold, ``app.import_begin``, and
the ``LambdaFunction`` objects the local pipeline invokes) set the current function while they run; thread
pools started inside carry it on. Calls outside any function (test set-up, direct service calls) are
counted but not attributed.

Recording: a botocore ``provide-client-params`` handler in ``botocore.handlers.BUILTIN_HANDLERS``, so
every session made after ``install()`` (boto3's, PynamoDB's, the wiring's) has it, and presigned URLs
(signed for the function's role, used by the caller) are recorded like calls. Resources are recorded
by the environment variable that names them (``IMAGES_TABLE``, ``IMAGES_BUCKET``, ...): the current
container's settings say which variable holds the name the code used.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import weakref
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

API_HANDLER = "api_handler"
_function: contextvars.ContextVar[str | None] = contextvars.ContextVar("iam_function", default=None)


@dataclass(frozen=True)
class Call:
    """One AWS operation on named resources, by one function."""

    function: str
    service: str  # botocore's service name: dynamodb, s3, stepfunctions, secretsmanager
    operation: str
    params: tuple[tuple[str, Any], ...]  # the resource-naming parameters, names replaced by their variables


@dataclass
class Recording:
    calls: Counter[Call] = field(default_factory=Counter)
    unattributed: Counter[tuple[str, str]] = field(default_factory=Counter)  # test set-up, direct service calls


RECORDING = Recording()
# The parameters that name resources, per service (everything else is data and is not kept).
RESOURCE_PARAMS = {
    "dynamodb": ("TableName", "IndexName", "RequestItems", "TransactItems"),
    "s3": ("Bucket", "Key", "CopySource", "Delete"),
    "stepfunctions": ("stateMachineArn", "executionArn"),
    "secretsmanager": ("SecretId",),
}

# The symbol of every further store's bucket (the default stack has none; tests/iam/check.py says how they are judged).
FURTHER_STORES = "IMAGES_STORES"  # the variable that names them (config.StoreSettings.stores)
DATA_KEYS = ("Key", "Delete")  # object keys: kept as they are, never taken for a resource name


@contextlib.contextmanager
def acting_as(function: str) -> Iterator[None]:
    """Attribute the calls made inside to ``function`` (what an entry point of app.py does)."""
    token = _function.set(function)
    try:
        yield
    finally:
        _function.reset(token)


@contextlib.contextmanager
def recording_into(target: Recording) -> Iterator[Recording]:
    """Record into ``target`` instead of the session's recording (the recorder's own tests)."""
    global RECORDING
    saved, RECORDING = RECORDING, target
    try:
        yield target
    finally:
        RECORDING = saved


def resource_names() -> dict[str, str]:
    """Name or ARN -> the environment variable carrying it, for the container the code runs with."""
    from chalicelib import config, wiring

    secret_env = config.declaration(config.AuthSettings, "keystone_service_secret").env
    names = {os.environ[secret_env]: secret_env} if os.environ.get(secret_env) else {}  # the authorizer reads it
    current = wiring._state.get("current")  # noqa: SLF001 - the container the code's calls go through
    if current is None:
        return names
    res = current.settings.resources
    names |= {name: config.TABLE_ENV[role] for role, name in res.table_names().items()}
    names[res.bucket] = config.ENV_BUCKET
    for store in current.settings.catalog().stores:  # the further stores' buckets (IMAGES_STORES): see check.py
        if store.bucket and store.bucket != res.bucket:
            names[store.bucket] = FURTHER_STORES
    for env in config.STATE_MACHINE_ENV.values():
        value = getattr(res, config.ENV[env].name)
        if value:
            names[value] = env
    return names


def _symbolic(value: Any, names: dict[str, str]) -> Any:
    """``value`` with every resource name the settings know replaced by ``${VARIABLE}``."""
    if isinstance(value, str):
        for name, env in sorted(names.items(), key=lambda kv: -len(kv[0])):
            if value == name:
                return "${" + env + "}"
            if value.startswith(name + "/") or value.startswith(name + ":"):  # CopySource, execution ARNs
                return "${" + env + "}" + value[len(name):]
        return value
    if isinstance(value, dict):
        return tuple(sorted((_symbolic(k, names), _symbolic(v, names)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_symbolic(v, names) for v in value)
    return value


def _keep(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in params.items() if k in RESOURCE_PARAMS.get(service, ())}
    if service == "dynamodb":  # item bodies are data: keep only which table each item names
        if "RequestItems" in kept:
            kept["RequestItems"] = sorted(kept["RequestItems"])
        if "TransactItems" in kept:
            kept["TransactItems"] = [{kind: {"TableName": body["TableName"]} for kind, body in item.items()}
                                     for item in kept["TransactItems"]]
    if "executionArn" in kept:  # an execution of a machine: (the machine's ARN, the execution's name)
        machine, _, name = str(kept["executionArn"]).rpartition(":")
        kept["executionArn"] = (machine.replace(":execution:", ":stateMachine:"), name)
    if "Delete" in kept:  # DeleteObjects: the keys only
        kept["Delete"] = [o["Key"] for o in kept["Delete"].get("Objects", [])]
    return kept


def on_client_params(params: dict[str, Any], model: Any, **_: Any) -> None:
    """botocore's provide-client-params: record the call (returns None: the parameters are unchanged)."""
    recording = RECORDING
    service, operation = model.service_model.service_name, model.name
    function = _function.get()
    if function is None:
        recording.unattributed[(service, operation)] += 1
        return
    names = resource_names()
    kept = {k: (tuple(v) if isinstance(v, list) else v) if k in DATA_KEYS else _symbolic(v, names)
            for k, v in _keep(service, operation, params).items()}
    recording.calls[Call(function, service, operation, tuple(sorted(kept.items())))] += 1


def _entry(name_of: Callable[[Any], str | None], call: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call)
    def entered(self: Any, *args: Any, **kwargs: Any) -> Any:
        name = name_of(self)
        if name is None:
            return call(self, *args, **kwargs)
        with acting_as(name):
            return call(self, *args, **kwargs)

    entered._iam_entry = True  # type: ignore[attr-defined]
    return entered


# Each Chalice handler object of a function (what app.py's module attribute holds) -> its Chalice name.
_handler_names: "weakref.WeakKeyDictionary[Any, str]" = weakref.WeakKeyDictionary()


def _named_registration(register: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(register)
    def register_named(self: Any, handler_type: str, name: str, user_handler: Any, wrapped_handler: Any,
                       *args: Any, **kwargs: Any) -> Any:
        if handler_type != "route":  # routes are the API handler's
            _handler_names[wrapped_handler] = name
        return register(self, handler_type, name, user_handler, wrapped_handler, *args, **kwargs)

    register_named._iam_entry = True  # type: ignore[attr-defined]
    return register_named


def _carry_context(submit: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(submit)
    def submit_in_context(self: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return submit(self, contextvars.copy_context().run, fn, *args, **kwargs)

    submit_in_context._iam_entry = True  # type: ignore[attr-defined]
    return submit_in_context


def install() -> None:
    """Hook botocore and the Chalice entry points (idempotent; before any boto3/botocore session exists)."""
    from botocore import handlers
    from chalice import app as chalice_app

    from chalicelib.api.entry import ServiceApp

    if any(spec[1] is on_client_params for spec in handlers.BUILTIN_HANDLERS):
        return
    handlers.BUILTIN_HANDLERS.append(("provide-client-params", on_client_params))
    patches: list[tuple[Any, Callable[[Any], str | None]]] = [
        (chalice_app.Chalice, lambda _: API_HANDLER),
        (ServiceApp, lambda _: API_HANDLER),  # app.py's app: its own __call__ (ALB events) does not reach Chalice's
        (chalice_app.LambdaFunction, lambda fn: fn.name),
        (chalice_app.EventSourceHandler, _handler_names.get),
    ]
    chalice_app.Chalice._register_handler = _named_registration(chalice_app.Chalice._register_handler)
    for owner, name_of in patches:
        owner.__call__ = _entry(name_of, owner.__call__)
    ThreadPoolExecutor.submit = _carry_context(ThreadPoolExecutor.submit)  # type: ignore[method-assign]
