"""The standard metadefs namespaces shipped in chalicelib/metadefs/*.json, and loading them.

Called by the local runner after it creates the tables, and by the ``load_metadefs``
Lambda, invoked after a deploy (glance-manage db_load_metadefs' role). Existing namespaces are kept.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_DIR = Path(__file__).resolve().parent / "metadefs"


def standard_documents() -> list[dict[str, Any]]:
    """Every shipped namespace document, by file name."""
    return [json.loads(path.read_text()) for path in sorted(_DIR.glob("*.json"))]


def load_standard(container: Any) -> list[str]:
    """Create the shipped namespaces that are missing; returns their names."""
    created: list[str] = container.metadefs.load_definitions(standard_documents())
    return created
