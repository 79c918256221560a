"""Lambda bodies of the import state machine's Task states: (event, container) -> small JSON.

Each is one line over the step service; the exception a step raises becomes the
execution's ``errorType``, which the ASL's Retry and Catch match by class name.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from chalicelib.wiring import Container


def begin(event: dict[str, Any], container: Container) -> dict[str, Any]:
    """BeginImport."""
    return container.import_steps.begin(event)


def fetch(event: dict[str, Any], container: Container) -> dict[str, Any]:
    """FetchData."""
    return container.import_steps.fetch(event)


def hash_location(event: dict[str, Any], container: Container) -> dict[str, Any]:
    """HashLocation (location_import tasks)."""
    return container.import_steps.hash_location(event)


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
    """The import trigger: S3 "Object Created" events, as EventBridge delivers them (AWS) or as S3 does (local)."""
    started = [container.imports.object_created(key, etag, sequencer) for key, etag, sequencer in created_objects(event)]
    return {"task_ids": [task.id for task in started if task is not None]}


def created_objects(event: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(key, ETag, sequencer) of each object an EventBridge or S3 notification event reports."""
    if "detail" in event:
        obj = (event.get("detail") or {}).get("object") or {}
        return [(str(obj.get("key", "")), str(obj.get("eTag", "")), str(obj.get("sequencer", "")))]
    found = []
    for record in event.get("Records") or []:
        obj = (record.get("s3") or {}).get("object") or {}
        # S3 notifications URL-encode the key (spaces as '+').
        found.append((unquote_plus(str(obj.get("key", ""))), str(obj.get("eTag", "")), str(obj.get("sequencer", ""))))
    return found
