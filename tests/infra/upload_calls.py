"""Every AWS call the data plane's routes make, recorded from the real code on the emulator (tests/iam's recorder)."""
from __future__ import annotations

import json
from collections import Counter
from typing import Any

from tests import images as fx
from tests.api.helpers import ALICE, create
from tests.api.v1_helpers import ALICE as V1_ALICE, RAW, created
from tests.iam import recorder
from tests.iam.recorder import Call, Recording, recording_into


def upload_flows(api: Any, aws: Any) -> Counter[Call]:
    """The data plane's routes as clients drive them: multipart, refused, over the cap, under enforced limits."""
    from tests.api.helpers import reconfigure

    limits = dict(limit_image_count_total=100, limit_image_count_uploading=10, limit_image_size_total=1000,
                  limit_image_stage_total=1000, user_storage_quota=10**9)
    container = reconfigure(aws, image_size_cap=7 * 1024 * 1024, **limits)
    container.data.store.part_size = 5 * 1024 * 1024  # S3's minimum part size
    shared = create(api, ALICE, disk_format="raw", container_format="bare", visibility="shared", tags=["t1"])
    assert api.http.post(f"/v2/images/{shared['id']}/members", headers=ALICE,
                         body=json.dumps({"member": "proj-b"})).status_code == 200
    staged = create(api, ALICE, disk_format="raw", container_format="bare")
    refused = create(api, ALICE, disk_format="qcow2", container_format="bare")
    too_big = create(api, ALICE, disk_format="raw", container_format="bare")
    too_big_staged = create(api, ALICE, disk_format="raw", container_format="bare")
    v1 = created(api, V1_ALICE, RAW)
    octet = {**ALICE, "Content-Type": "application/octet-stream"}
    with recording_into(Recording()) as seen:
        assert api.http.put(f"/v2/images/{shared['id']}/file", headers=octet,
                            body=fx.raw(5 * 1024 * 1024 + 1)).status_code == 204
        assert api.http.put(f"/v2/images/{staged['id']}/stage", headers=octet, body=fx.raw()).status_code == 204
        assert api.http.put(f"/v2/images/{refused['id']}/file", headers=octet, body=fx.raw()).status_code == 415
        assert api.http.put(f"/v2/images/{too_big['id']}/file", headers=octet,
                            body=fx.raw(11 * 1024 * 1024)).status_code == 413
        assert api.http.put(f"/v2/images/{too_big_staged['id']}/stage", headers=octet,
                            body=fx.raw(11 * 1024 * 1024)).status_code == 413
        assert api.http.post("/v1/images", headers={**V1_ALICE, **RAW, "Content-Type": "application/octet-stream"},
                             body=fx.raw()).status_code == 201
        assert api.http.put(f"/v1/images/{v1['id']}", headers={**V1_ALICE, "Content-Type": "application/octet-stream"},
                            body=fx.raw()).status_code == 200
    recorder.RECORDING.calls.update(seen.calls)  # the API function's calls too (the same code): the suite's check
    return seen.calls
