"""Every AWS call the data plane's routes make, recorded from the real code on the emulator."""
from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Any, Iterator, NamedTuple

from tests import images as fx
from tests.api.helpers import ALICE, create
from tests.api.v1_helpers import ALICE as V1_ALICE, RAW, created


class Call(NamedTuple):
    service: str  # the IAM prefix: dynamodb, s3
    action: str  # the IAM action of the operation
    resource: str  # table name or bucket/key


# An operation whose IAM action has another name.
ACTION_OF = {("s3", "HeadObject"): "GetObject", ("s3", "CreateMultipartUpload"): "PutObject",
             ("s3", "UploadPart"): "PutObject", ("s3", "CompleteMultipartUpload"): "PutObject"}
# TransactWriteItems is authorized per item: the item's own action on its table.
TRANSACT_ACTION = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


def _calls(service: str, operation: str, params: dict[str, Any]) -> list[Call]:
    if service == "dynamodb" and operation == "TransactWriteItems":
        return [Call(service, TRANSACT_ACTION[kind], body["TableName"])
                for item in params["TransactItems"] for kind, body in item.items()]
    if service == "dynamodb":
        tables = params.get("RequestItems", {}).keys() or [params.get("TableName", "")]
        index = f"/index/{params['IndexName']}" if "IndexName" in params else ""
        return [Call(service, operation, f"{t}{index}") for t in tables]
    action = ACTION_OF.get((service, operation), operation)
    return [Call(service, action, f"{params.get('Bucket', '')}/{params.get('Key', '')}")]


@contextmanager
def recorded(monkeypatch: Any) -> Iterator[list[Call]]:
    """Record every botocore call made inside the block (PynamoDB's and boto3's alike)."""
    from botocore.client import BaseClient

    calls: list[Call] = []
    original = BaseClient._make_api_call  # noqa: SLF001 - the one method every botocore call passes

    def record(client: Any, operation: str, params: dict[str, Any]) -> Any:
        calls.extend(_calls(client.meta.service_model.endpoint_prefix, operation, params))
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    yield calls


def upload_flows(api: Any, aws: Any, monkeypatch: Any) -> list[Call]:
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
    with recorded(monkeypatch) as calls:
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
    return list(calls)
