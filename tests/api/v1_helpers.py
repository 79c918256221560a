"""Requests for the v1 API tests."""
from __future__ import annotations

import json
from typing import Any


ALICE = {"X-Auth-Token": "alice:proj-a:member,reader", "Accept": "*/*"}
BOB = {"X-Auth-Token": "bob:proj-b:member,reader", "Accept": "*/*"}
ADMIN = {"X-Auth-Token": "admin:admin-proj:admin", "Accept": "*/*"}
RAW = {"x-image-meta-disk_format": "raw", "x-image-meta-container_format": "bare"}
OCTET = {"Content-Type": "application/octet-stream"}


def meta(**fields: object) -> dict[str, str]:
    """x-image-meta-<k> headers; ``property_<k>`` becomes x-image-meta-property-<k>."""
    out = {}
    for key, value in fields.items():
        name = f"property-{key[len('property_'):]}" if key.startswith("property_") else key
        out[f"x-image-meta-{name}"] = str(value)
    return out


def post(api: Any, who: dict[str, str], headers: dict[str, str], data: bytes | None = None) -> Any:
    extra = OCTET if data is not None else {}
    return api.http.post("/v1/images", headers={**who, **extra, **headers}, body=data or b"")


def created(api: Any, who: dict[str, str], headers: dict[str, str], data: bytes | None = None) -> dict[str, Any]:
    resp = post(api, who, headers, data)
    assert resp.status_code == 201, resp.body
    return dict(json.loads(resp.body)["image"])


def v2(api: Any, who: dict[str, str], image_id: str) -> Any:
    return api.http.get(f"/v2/images/{image_id}", headers=who)
