"""The local emulator's moto fixes: the shapes they rely on must still exist (or fail loudly), and they work."""
from __future__ import annotations

import gc
from typing import Any, Iterator

import boto3
import pytest
from moto import mock_aws

from infra.local import moto_fixes


@pytest.fixture
def table() -> Iterator[Any]:
    moto_fixes.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="t", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
        yield client


def _item(client: Any, key: str) -> dict[str, Any] | None:
    return client.get_item(TableName="t", Key={"id": {"S": key}}, ConsistentRead=True).get("Item")


def test_the_moto_shapes_relied_on_still_exist() -> None:
    moto_fixes.check()


def test_a_reshaped_transaction_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models import DynamoDBBackend

    def transact_write_items(self: Any, transact_items: Any) -> None:
        """Some other way of rolling back."""

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", transact_write_items)
    with pytest.raises(RuntimeError, match="transact_write_items changed"):
        moto_fixes.check()


def test_instance_tracking_that_moved_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.core.common_models import BaseModel

    monkeypatch.setattr(BaseModel, "__new__", staticmethod(lambda cls, *a, **k: object.__new__(cls)))
    with pytest.raises(RuntimeError, match="tracks instances"):
        moto_fixes.check()


def test_model_instances_are_not_kept_forever(table: Any) -> None:
    from moto.dynamodb.models.dynamo_type import Item

    before = len(Item.instances_tracked)  # type: ignore[attr-defined]
    for n in range(20):
        table.put_item(TableName="t", Item={"id": {"S": f"k{n}"}})
        table.query(TableName="t", KeyConditionExpression="id = :k", ExpressionAttributeValues={":k": {"S": f"k{n}"}})
    assert len(Item.instances_tracked) == before  # type: ignore[attr-defined]


def test_a_transaction_copies_no_table(table: Any) -> None:
    from moto.dynamodb.models.table import Table

    for n in range(50):
        table.put_item(TableName="t", Item={"id": {"S": f"k{n}"}})
    gc.collect()
    tables = sum(isinstance(o, Table) for o in gc.get_objects())
    table.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": {"id": {"S": "new"}}}}])
    assert sum(isinstance(o, Table) for o in gc.get_objects()) == tables
    assert _item(table, "new") == {"id": {"S": "new"}}


def test_a_cancelled_transaction_leaves_every_item_as_it_was(table: Any) -> None:
    table.put_item(TableName="t", Item={"id": {"S": "a"}, "v": {"N": "1"}})
    table.put_item(TableName="t", Item={"id": {"S": "gone"}})
    with pytest.raises(table.exceptions.TransactionCanceledException):
        table.transact_write_items(TransactItems=[
            {"Update": {"TableName": "t", "Key": {"id": {"S": "a"}}, "UpdateExpression": "SET v = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}}}},
            {"Put": {"TableName": "t", "Item": {"id": {"S": "fresh"}}}},
            {"Delete": {"TableName": "t", "Key": {"id": {"S": "gone"}}}},
            {"ConditionCheck": {"TableName": "t", "Key": {"id": {"S": "missing"}},
                                "ConditionExpression": "attribute_exists(id)"}},
        ])
    assert _item(table, "a") == {"id": {"S": "a"}, "v": {"N": "1"}}
    assert _item(table, "fresh") is None
    assert _item(table, "gone") == {"id": {"S": "gone"}}


def test_a_transaction_that_passes_applies_every_item(table: Any) -> None:
    table.put_item(TableName="t", Item={"id": {"S": "a"}, "v": {"N": "1"}})
    table.transact_write_items(TransactItems=[
        {"Update": {"TableName": "t", "Key": {"id": {"S": "a"}}, "UpdateExpression": "SET v = :two",
                    "ConditionExpression": "v = :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":two": {"N": "2"}}}},
        {"Put": {"TableName": "t", "Item": {"id": {"S": "b"}}}},
    ])
    assert _item(table, "a") == {"id": {"S": "a"}, "v": {"N": "2"}}
    assert _item(table, "b") == {"id": {"S": "b"}}


def test_a_reshaped_multipart_completion_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.s3.models import FakeMultipart

    monkeypatch.setattr(FakeMultipart, "complete", lambda self, body: (b"", "etag", None))
    with pytest.raises(RuntimeError, match="FakeMultipart.complete changed"):
        moto_fixes.check()


def test_multipart_completion_copies_parts_without_holding_the_object() -> None:
    import hashlib
    import tracemalloc

    moto_fixes.install()
    part = 5 * 1024 * 1024
    data = [bytes([n]) * part for n in range(4)] + [b"tail"]
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="fix-bucket")
        upload = s3.create_multipart_upload(Bucket="fix-bucket", Key="k")["UploadId"]
        parts = [{"PartNumber": n + 1, "ETag": s3.upload_part(Bucket="fix-bucket", Key="k", UploadId=upload, PartNumber=n + 1,
                                                               Body=chunk)["ETag"]} for n, chunk in enumerate(data)]
        tracemalloc.start()
        s3.complete_multipart_upload(Bucket="fix-bucket", Key="k", UploadId=upload, MultipartUpload={"Parts": parts})
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        got = s3.get_object(Bucket="fix-bucket", Key="k")
        body = got["Body"].read()
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(b"".join(data)).hexdigest()
    md5s = b"".join(hashlib.md5(chunk).digest() for chunk in data)
    assert got["ETag"].strip('"') == f"{hashlib.md5(md5s).hexdigest()}-{len(data)}"
    # moto's own completion holds the 20 MiB object two or three times over; the copy holds about a MiB.
    assert peak < 2 * part, peak


def test_a_written_objects_etag_comes_from_its_bytes_not_from_reading_the_stored_file(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    from infra.local import state_objects

    moto_fixes.install()
    reads: list[int] = []
    original = state_objects.ObjectFile.read
    monkeypatch.setattr(state_objects.ObjectFile, "read", lambda self, size=-1: reads.append(1) or original(self, size))
    data = b"etag bytes" * 1000
    store = state_objects.ObjectStore(tmp_path)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="etag-bucket")
        store.activate()
        try:
            put = s3.put_object(Bucket="etag-bucket", Key="k", Body=data)
            upload = s3.create_multipart_upload(Bucket="etag-bucket", Key="m")["UploadId"]
            part = s3.upload_part(Bucket="etag-bucket", Key="m", UploadId=upload, PartNumber=1, Body=data)
            assert reads == []  # neither answer read its stored bytes back
            assert s3.get_object(Bucket="etag-bucket", Key="k")["Body"].read() == data and reads
        finally:
            store.deactivate()
    assert put["ETag"] == part["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
