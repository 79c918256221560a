"""Discovery and usage (reference 1.11, 7.5): import methods, the S3 store, usage counts and 413 limits."""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from tests.api.helpers import ADMIN, ALICE, BOB, body, create, reconfigure

OCTET = {"Content-Type": "application/octet-stream"}


def usage(api: Any, headers: dict[str, str]) -> dict[str, Any]:
    resp = api.http.get("/v2/info/usage", headers=headers)
    assert resp.status_code == 200
    return body(resp)["usage"]


def test_import_info_lists_enabled_methods(api: Any) -> None:
    doc = body(api.http.get("/v2/info/import", headers=ALICE))
    assert doc == {"import-methods": {"description": "Import methods available.", "type": "array",
                                      "value": ["glance-direct", "web-download", "copy-image"]}}


def test_stores_default_s3_and_the_http_store_detail_admin_only(api: Any, container: Any) -> None:
    # Without IMAGES_STORES: one S3 store on IMAGES_BUCKET, and the read-only http store (Glance lists it so).
    assert body(api.http.get("/v2/info/stores", headers=ALICE)) == {"stores": [
        {"id": "s3", "description": "Amazon S3 image store", "default": "true"},
        {"id": "http", "description": "http(s) locations", "read-only": "true"}]}
    assert api.http.get("/v2/info/stores/detail", headers=ALICE).status_code == 403
    s3, http = body(api.http.get("/v2/info/stores/detail", headers=ADMIN))["stores"]
    assert (s3["type"], s3["weight"], http["type"], http["properties"]) == ("s3", 0, "http", {})
    assert s3["properties"]["s3_store_bucket"] == container.settings.resources.bucket
    assert {"s3_store_large_object_size", "s3_store_large_object_chunk_size", "s3_store_thread_pools"} <= set(
        s3["properties"])
    assert api.http.get("/v2/info/stores").status_code == 401


def test_usage_counts_per_project_through_lifecycle(api: Any) -> None:
    fresh = usage(api, ALICE)
    assert set(fresh) == {"image_size_total", "image_stage_total", "image_count_total", "image_count_uploading"}
    assert fresh["image_count_total"] == {"usage": 0, "limit": -1}
    a = create(api, ALICE, name="a", disk_format="raw", container_format="bare")
    create(api, ALICE, name="b")
    create(api, BOB, name="c")
    assert usage(api, ALICE)["image_count_total"]["usage"] == 2
    assert usage(api, BOB)["image_count_total"]["usage"] == 1
    data = b"x" * (2 * 1024 * 1024)
    assert api.http.put(f"/v2/images/{a['id']}/file", headers={**ALICE, **OCTET}, body=data).status_code == 204
    after = usage(api, ALICE)
    assert after["image_size_total"]["usage"] == 2 and after["image_count_uploading"]["usage"] == 0
    staged = create(api, ALICE, name="s", disk_format="raw", container_format="bare")
    assert api.http.put(f"/v2/images/{staged['id']}/stage", headers={**ALICE, **OCTET}, body=data).status_code == 204
    mid = usage(api, ALICE)
    assert mid["image_stage_total"]["usage"] == 2 and mid["image_count_uploading"]["usage"] == 1
    assert api.http.delete(f"/v2/images/{a['id']}", headers=ALICE).status_code == 204
    end = usage(api, ALICE)
    assert end["image_count_total"]["usage"] == 2 and end["image_size_total"]["usage"] == 0


def test_image_count_total_limit_413_on_create(api: Any, container: Any) -> None:
    reconfigure(container, limit_image_count_total=1)
    create(api, ALICE, name="one")
    over = api.http.post("/v2/images", headers=ALICE, body=json.dumps({"name": "two"}))
    assert over.status_code == 413 and "image count" in body(over)["message"]
    assert usage(api, ALICE)["image_count_total"] == {"usage": 1, "limit": 1}
    create(api, BOB, name="bob's own")  # per project


def test_uploading_and_size_limits_413(api: Any, container: Any) -> None:
    reconfigure(container, limit_image_count_uploading=0)
    img = create(api, ALICE, name="u", disk_format="raw", container_format="bare")
    over = api.http.put(f"/v2/images/{img['id']}/file", headers={**ALICE, **OCTET}, body=b"data")
    assert over.status_code == 413
    assert body(api.http.get(f"/v2/images/{img['id']}", headers=ALICE))["status"] == "queued"
    reconfigure(container, limit_image_count_uploading=-1, limit_image_size_total=1)
    big = b"y" * (1024 * 1024 + 1)
    assert api.http.put(f"/v2/images/{img['id']}/file", headers={**ALICE, **OCTET}, body=big).status_code == 413
    assert body(api.http.get(f"/v2/images/{img['id']}", headers=ALICE))["status"] == "queued"
    reconfigure(container, limit_image_size_total=-1, limit_image_stage_total=1)
    assert api.http.put(f"/v2/images/{img['id']}/stage", headers={**ALICE, **OCTET}, body=big).status_code == 413


def test_formats_are_settings_and_the_schema_reflects_them(api: Any, container: Any) -> None:
    container.settings = container.settings.with_values(disk_formats=("raw", "ploop"), container_formats=("bare",))
    schema = body(api.http.get("/v2/schemas/image", headers=ALICE))
    assert schema["properties"]["disk_format"]["enum"] == [None, "raw", "ploop"]
    assert schema["properties"]["container_format"]["enum"] == [None, "bare"]
    listing = body(api.http.get("/v2/schemas/images", headers=ALICE))
    assert listing["properties"]["images"]["items"]["properties"]["disk_format"]["enum"] == [None, "raw", "ploop"]
    refused = api.http.post("/v2/images", headers=ALICE, body=json.dumps({"disk_format": "qcow2"}))
    assert refused.status_code == 400
    assert api.http.post("/v2/images", headers=ALICE, body=json.dumps({"disk_format": "ploop"})).status_code == 201
