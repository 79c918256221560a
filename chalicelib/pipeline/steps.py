"""Lambda bodies of the import state machine's Task states: (event, container) -> small JSON.

Each is one line over the step service; the exception a step raises becomes the
execution's ``errorType``, which the ASL's Retry and Catch match by class name.
"""
from __future__ import annotations

from typing import Any

from chalicelib.wiring import Container


def begin(event: dict[str, Any], container: Container) -> dict[str, Any]:
    """BeginImport."""
    return container.import_steps.begin(event)


def fetch(event: dict[str, Any], container: Container) -> dict[str, Any]:
    """FetchData."""
    return container.import_steps.fetch(event)


def verify(event: dict[str, Any], container: Container) -> dict[str, Any]:
    """VerifyData."""
    return container.import_steps.verify(event)


def activate(event: dict[str, Any], container: Container) -> dict[str, Any]:
    """ActivateImage."""
    return container.import_steps.activate(event)


def succeed(event: dict[str, Any], container: Container) -> dict[str, Any]:
    """RecordSuccess."""
    return container.import_steps.succeed(event)


def fail(event: dict[str, Any], container: Container) -> dict[str, Any]:
    """RecordFailure (every Catch)."""
    return container.import_steps.fail(event)


def object_created(event: dict[str, Any], container: Container) -> dict[str, Any]:
    """The import trigger: an EventBridge "Object Created" event from the image bucket."""
    detail = event.get("detail") or {}
    obj = detail.get("object") or {}
    task = container.imports.object_created(str(obj.get("key", "")), str(obj.get("eTag", "")),
                                            str(obj.get("sequencer", "")))
    return {"task_id": task.id if task is not None else None}
