"""Copies between stores on the emulator: the exact S3 requests of a cross-region copy (bucket, region,
CopyObject below the copy limit, UploadPartCopy ranges above it), prefixes and storage classes."""
from __future__ import annotations

import hashlib
import uuid
from typing import Any, Iterator

import pytest

from chalicelib.adapters.s3_store import S3ObjectStore
from chalicelib.domain.errors import NotFound

pytestmark = pytest.mark.moto
MIB = 1024 * 1024


@pytest.fixture
def stores(aws: Any, boto_session: Any) -> Iterator[tuple[S3ObjectStore, S3ObjectStore, list[dict[str, Any]]]]:
    """A source store in us-east-1 and a target in eu-west-1 under a prefix, each through its own region's
    client; every S3 request either sends is recorded (operation, region, parameters)."""
    sent: list[dict[str, Any]] = []

    def client(region: str) -> Any:
        made = boto_session.client("s3", region_name=region)

        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            sent.append({"op": model.name, "region": made.meta.region_name, **params})

        made.meta.events.register("provide-client-params.s3.*", record)
        return made

    suffix = uuid.uuid4().hex[:8]
    east, west = client("us-east-1"), client("eu-west-1")
    east.create_bucket(Bucket=f"src-{suffix}")
    west.create_bucket(Bucket=f"dst-{suffix}", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    source = S3ObjectStore(lambda: east, f"src-{suffix}")
    # The copy limit and part size shrunk to MiBs: the same requests as above 5 GB, on an 11 MiB object.
    target = S3ObjectStore(lambda: west, f"dst-{suffix}", prefix="replica/", storage_class="STANDARD_IA",
                           copy_limit=10 * MIB, copy_part_size=5 * MIB)
    yield source, target, sent


def test_a_small_object_is_one_cross_region_copy_object(stores: Any) -> None:
    source, target, sent = stores
    source.put_stream("images/x", [b"small image"])
    sent.clear()
    assert target.copy_from(source, "images/x", "images/x") == 11
    copies = [r for r in sent if r["op"] == "CopyObject"]
    assert len(copies) == 1 and copies[0]["region"] == "eu-west-1"
    assert copies[0]["Bucket"] == target.bucket and copies[0]["Key"] == "replica/images/x"
    assert copies[0]["CopySource"] == {"Bucket": source.bucket, "Key": "images/x"}
    assert copies[0]["StorageClass"] == "STANDARD_IA" and copies[0]["MetadataDirective"] == "REPLACE"
    assert [r["op"] for r in sent] == ["HeadObject", "CopyObject"] and sent[0]["region"] == "us-east-1"
    head = target.client.head_object(Bucket=target.bucket, Key="replica/images/x")
    assert head["StorageClass"] == "STANDARD_IA" and head["ContentType"] == "application/octet-stream"
    assert target.url_of("images/x") == f"s3://{target.bucket}/replica/images/x"
    assert target.key_of(target.url_of("images/x")) == "images/x"


def test_an_object_above_the_copy_limit_is_copied_in_ranged_parts(stores: Any) -> None:
    source, target, sent = stores
    data = bytes(range(256)) * (11 * MIB // 256)  # 11 MiB: parts of 5, 5 and 1 MiB
    source.put_stream("images/big", [data])
    sent.clear()
    assert target.copy_from(source, "images/big", "images/big") == len(data)
    ops = [r["op"] for r in sent]
    assert ops == ["HeadObject", "CreateMultipartUpload", "UploadPartCopy", "UploadPartCopy", "UploadPartCopy",
                   "CompleteMultipartUpload"]
    parts = [r for r in sent if r["op"] == "UploadPartCopy"]
    assert [p["CopySourceRange"] for p in parts] == [
        f"bytes=0-{5 * MIB - 1}", f"bytes={5 * MIB}-{10 * MIB - 1}", f"bytes={10 * MIB}-{11 * MIB - 1}"]
    assert {(p["region"], p["Bucket"], p["Key"]) for p in parts} == {("eu-west-1", target.bucket, "replica/images/big")}
    assert all(p["CopySource"] == {"Bucket": source.bucket, "Key": "images/big"} for p in parts)
    assert [p["PartNumber"] for p in parts] == [1, 2, 3]
    started = next(r for r in sent if r["op"] == "CreateMultipartUpload")
    assert started["StorageClass"] == "STANDARD_IA"
    copied = b"".join(target.iter_object("images/big"))
    assert hashlib.sha256(copied).digest() == hashlib.sha256(data).digest()


def test_a_failed_part_aborts_the_multipart_copy(stores: Any) -> None:
    source, target, sent = stores
    source.put_stream("images/big", [b"z" * (11 * MIB)])

    def broken(**_: Any) -> None:
        raise RuntimeError("connection reset")

    target.client.upload_part_copy = broken  # the instance attribute hides the client's method for this test
    with pytest.raises(RuntimeError):
        target.copy_from(source, "images/big", "images/big")
    assert [r["op"] for r in sent][-1] == "AbortMultipartUpload"
    assert target.size("images/big") is None
    assert target.client.list_multipart_uploads(Bucket=target.bucket).get("Uploads", []) == []


def test_copying_a_missing_object_is_not_found(stores: Any) -> None:
    source, target, _ = stores
    with pytest.raises(NotFound):
        target.copy_from(source, "images/none", "images/none")
