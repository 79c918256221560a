"""The JSON Schema documents Glance serves, kept as data files, and request validation with them.

jsonschema is imported on first validation, not at import, to keep cold start small.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from chalicelib.domain.errors import InvalidInput, NotFound

_DIR = Path(__file__).resolve().parent.parent / "schemas"


def _file_name(name: str) -> str:
    return name.replace("/", "-") + ".json"


@functools.lru_cache(maxsize=None)
def load(name: str) -> dict[str, Any]:
    """The schema document served at ``/v2/schemas/<name>``; raises NotFound for unknown names."""
    path = _DIR / _file_name(name)
    if "." in name or not path.is_file():
        raise NotFound(f"Schema {name} not found.")
    document: dict[str, Any] = json.loads(path.read_text())
    return document


@functools.lru_cache(maxsize=None)
def _validator(name: str) -> Any:
    import jsonschema  # deferred: heavy, and only writes need it

    return jsonschema.Draft4Validator(load(name))


def validate(name: str, document: Any) -> None:
    """Raise InvalidInput with the first schema violation of ``document`` against ``name``."""
    error = next(iter(_validator(name).iter_errors(document)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        prefix = f"Provided object does not match schema '{name}'"
        raise InvalidInput(f"{prefix}: {error.message}" + (f" (at '{where}')" if where else ""))
