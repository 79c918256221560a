"""The JSON Schema documents Glance serves, kept as data files, and request validation with them.

jsonschema is imported on first validation, not at import, to keep cold start small.
"""
from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

from chalicelib.domain.errors import InvalidInput, NotFound
from chalicelib.wiring import container

_DIR = Path(__file__).resolve().parent.parent / "schemas"


def _file_name(name: str) -> str:
    return name.replace("/", "-") + ".json"


@functools.lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    """The file names of the schemas served: any other name is unknown (404), however long or odd it is."""
    return frozenset(path.name for path in _DIR.glob("*.json"))


def load(name: str) -> dict[str, Any]:
    """The schema document served at ``/v2/schemas/<name>``; raises NotFound for unknown names.

    The image schemas' format enums are the configured disk and container formats.
    """
    return _document(name, *_formats(name))


def _formats(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if name not in ("image", "images"):
        return (), ()
    settings = container().settings
    return settings.api.disk_formats, settings.api.container_formats


@functools.lru_cache(maxsize=None)
def _file(name: str) -> dict[str, Any]:
    # Looked up among the known names, never handed to the file system: a 5,000-character name
    # would raise ENAMETOOLONG (a 500) there.
    if "." in name or _file_name(name) not in _known():
        raise NotFound(f"Schema {name[:64]} not found.")
    path = _DIR / _file_name(name)
    document: dict[str, Any] = json.loads(path.read_text())
    return document


@functools.lru_cache(maxsize=64)
def _document(name: str, disk: tuple[str, ...], containers: tuple[str, ...]) -> dict[str, Any]:
    if not disk:
        return _file(name)
    document = copy.deepcopy(_file(name))
    props = document["properties"]["images"]["items"]["properties"] if name == "images" else document["properties"]
    props["disk_format"]["enum"] = [None, *disk]
    props["container_format"]["enum"] = [None, *containers]
    return document


@functools.lru_cache(maxsize=64)
def _validator(name: str, disk: tuple[str, ...], containers: tuple[str, ...]) -> Any:
    import jsonschema  # type: ignore[import-untyped]  # deferred: heavy, and only writes need it; jsonschema ships no type hints and types-jsonschema is not a dependency

    return jsonschema.Draft4Validator(_document(name, disk, containers))


def validate(name: str, document: Any) -> None:
    """Raise InvalidInput with the first schema violation of ``document`` against ``name``."""
    error = next(iter(_validator(name, *_formats(name)).iter_errors(document)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        prefix = f"Provided object does not match schema '{name}'"
        raise InvalidInput(f"{prefix}: {error.message}" + (f" (at '{where}')" if where else ""))
