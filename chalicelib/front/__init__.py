"""The WSGI front: the same application code as the Lambda functions, served by a production server.

``make run`` serves every route through it (mode ``all``); the AWS data plane's container runs
``python -m chalicelib.front`` with ``IMAGES_FRONT_MODE=data`` to stream large uploads that API
Gateway and Lambda cannot take. Importing this package reads no environment and calls no AWS API.

* ``make_application(app, settings)``: the WSGI callable for a Chalice ``app`` (wsgi.Front).
* ``application``: a WSGI callable that builds ``make_application`` for the project's app from the
  environment on its first request (for any WSGI server).
* ``serve(settings, host, port)``: the cheroot server around it (server.FrontServer), started.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Iterable

from chalicelib.config import Settings

_built: dict[str, Any] = {}
_lock = threading.Lock()


def make_application(app: Any, settings: Settings) -> Callable[..., Iterable[bytes]]:
    """The WSGI application serving ``app`` as ``settings.front`` says (mode, read size, log format)."""
    from chalicelib.front.wsgi import Front

    return Front(app, settings.front, settings.identity)


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The project's app as WSGI, built from the environment on the first request."""
    if "app" not in _built:
        with _lock:
            if "app" not in _built:
                _built["app"] = make_application(project_app(), Settings.from_env())
    served: Iterable[bytes] = _built["app"](environ, start_response)
    return served


def project_app() -> Any:
    """The project's Chalice app (app.py at the root of the code: the Lambda handler module)."""
    import importlib

    return importlib.import_module("app").app


def serve(wsgi_app: Callable[..., Iterable[bytes]], host: str, port: int, threads: int) -> Any:
    """``wsgi_app`` on host:port under cheroot, serving in a daemon thread; ``.stop()`` ends it."""
    from chalicelib.front.server import FrontServer

    return FrontServer(wsgi_app, host, port, threads).start()
