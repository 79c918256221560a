"""ObjectStore on S3: streamed single or multipart PUTs, presigned GETs, ranged reads.

At most two parts (PART_SIZE each, one uploading while the next is gathered) are held in
memory; a failed stream aborts the multipart upload so no parts or objects are left behind. Every S3 fault leaves
as aws_errors' translation (a missing object as NotFound or None).
"""
from __future__ import annotations

import functools
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Iterable, Iterator

from chalicelib.adapters import aws_errors
from chalicelib.adapters.aws_errors import translated
from chalicelib.adapters.s3_multipart import CONTENT_TYPE, WHAT, S3Multipart
from chalicelib.domain.errors import NotFound
from chalicelib.domain.multipart import MAX_PARTS

PART_SIZE = 8 * 1024 * 1024
# CopyObject copies at most 5 GB; larger objects are copied in UploadPartCopy ranges (at most 10,000 parts).
COPY_LIMIT = 5 * 1024 ** 3
COPY_PART_SIZE = 512 * 1024 * 1024


SCHEME = "s3://"


def _missing(exc: Exception) -> bool:
    """The object (or key) does not exist: HeadObject says 404, GetObject NoSuchKey."""
    return aws_errors.error_code(exc) in ("404", "NoSuchKey", "NotFound")


def location_url(bucket: str, key: str) -> str:
    """The location URL of ``key`` in ``bucket``: ``s3://bucket/key``."""
    return f"{SCHEME}{bucket}/{key}"


def location_key(bucket: str, url: str) -> str | None:
    """The key a location URL names in ``bucket``; None for other buckets, schemes, or no key."""
    prefix = f"{SCHEME}{bucket}/"
    if not url.startswith(prefix):
        return None
    return url[len(prefix):] or None


class S3ObjectStore(S3Multipart):
    """One store: a bucket (in its own region, through its own client), keys under an optional prefix,
    objects written in an optional storage class. The client comes in from wiring as a factory, built
    on first use, so metadata-only requests (most of them) never pay for loading the S3 model.
    (Presigned multipart uploads, S3Multipart, go to the default store, which has no prefix.)
    """

    def __init__(self, client_factory: Callable[[], Any], bucket: str, part_size: int = PART_SIZE, *,
                 prefix: str = "", storage_class: str | None = None, copy_limit: int = COPY_LIMIT,
                 copy_part_size: int = COPY_PART_SIZE) -> None:
        self._client_factory = client_factory
        self.bucket = bucket
        self.part_size = part_size
        self.prefix = prefix
        self.storage_class = storage_class
        self.copy_limit = copy_limit
        self.copy_part_size = copy_part_size

    def object_key(self, key: str) -> str:
        """The bucket key of a store key (``images/<id>`` under the store's prefix)."""
        return self.prefix + key

    def _written(self) -> dict[str, Any]:
        """Arguments of every object this store writes."""
        return {"ContentType": CONTENT_TYPE, **({"StorageClass": self.storage_class} if self.storage_class else {})}

    @functools.cached_property
    def client(self) -> Any:
        return self._client_factory()

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        """PutObject for small data, else a multipart upload; aborts on any failure."""
        with translated(WHAT):
            return self._put_stream(self.object_key(key), chunks)

    def _put_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        # A part uploads in a worker thread while the next one is gathered from ``chunks`` (the client's
        # bytes keep arriving meanwhile): at most two parts are held. A part is the chunks that reach
        # part_size, joined once (S3 takes any part size from 5 MiB on but for the last one).
        pending: list[bytes] = []
        held = size = 0
        upload_id = None
        parts: list[dict[str, Any]] = []
        in_flight: Future[dict[str, Any]] | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="s3-part") as pool:
            try:
                for chunk in chunks:
                    pending.append(chunk)
                    held += len(chunk)
                    size += len(chunk)
                    if held < self.part_size:
                        continue
                    data = b"".join(pending)
                    pending.clear()
                    held = 0
                    if upload_id is None:
                        upload_id = self.client.create_multipart_upload(
                            Bucket=self.bucket, Key=key, **self._written()
                        )["UploadId"]
                    if in_flight is not None:
                        parts.append(in_flight.result())
                    in_flight = pool.submit(self._part, key, upload_id, len(parts) + 1, data)
                    del data
                rest = b"".join(pending)
                if upload_id is None:
                    self.client.put_object(Bucket=self.bucket, Key=key, Body=rest, **self._written())
                    return size
                if in_flight is not None:
                    parts.append(in_flight.result())
                    in_flight = None
                if rest:
                    parts.append(self._part(key, upload_id, len(parts) + 1, rest))
                self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
                return size
            except BaseException:
                if in_flight is not None:
                    in_flight.cancel()
                    wait([in_flight])  # a part still uploading would outlive the abort otherwise
                if upload_id is not None:
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
                raise

    def _part(self, key: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        resp = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data)
        return {"PartNumber": number, "ETag": resp["ETag"]}

    def delete(self, key: str) -> None:
        """DeleteObject (idempotent in S3)."""
        with translated(WHAT):
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def exists(self, key: str) -> bool:
        """HeadObject."""
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        """HeadObject's ContentLength; None when the object is missing."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except aws_errors.AWS_FAULTS as exc:
            if _missing(exc):
                return None
            raise aws_errors.translate(exc, what=WHAT, action="read") from exc
        return int(head["ContentLength"])

    def url_of(self, key: str) -> str:
        return location_url(self.bucket, self.object_key(key))

    def key_of(self, url: str) -> str | None:
        """The store key of ``s3://<this bucket>/<prefix><key>``; None for other buckets, prefixes and schemes."""
        found = location_key(self.bucket, url)
        if found is None or not found.startswith(self.prefix):
            return None
        return found[len(self.prefix):] or None

    def presigned_get(self, key: str, expires_in: int) -> str:
        """Signed locally: no AWS call."""
        with translated(WHAT, action="read"):  # no call, but credentials are resolved here
            url: str = self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self.object_key(key), "ResponseContentType": CONTENT_TYPE},
                ExpiresIn=expires_in,
            )
        return url

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """GetObject with a Range."""
        with translated(WHAT, action="read"):
            resp = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key), Range=f"bytes={start}-{end}")
            data: bytes = resp["Body"].read()
        return data

    def iter_object(self, key: str) -> Iterator[bytes]:
        """GetObject streamed in PART_SIZE chunks; NotFound when the object is missing."""
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except aws_errors.AWS_FAULTS as exc:
            if _missing(exc):
                raise NotFound(f"No data at {key}.") from None
            raise aws_errors.translate(exc, what=WHAT, action="read") from exc
        body = resp["Body"]
        try:
            yield from aws_errors.translated_iter(body.iter_chunks(self.part_size), WHAT)
        finally:
            body.close()

    def copy(self, source: str, target: str) -> None:
        """Server-side copy inside this store (boto3's managed copy goes multipart for large objects)."""
        with translated(WHAT):
            self.client.copy({"Bucket": self.bucket, "Key": self.object_key(source)}, self.bucket,
                             self.object_key(target), ExtraArgs={**self._written(), "MetadataDirective": "REPLACE"})

    def copy_from(self, source: "S3ObjectStore", source_key: str, target: str) -> int:
        """Server-side copy of ``source_key`` of another store (any bucket, any region) to ``target`` here,
        through this store's client (S3 copies across regions when the destination's region is asked):
        CopyObject up to ``copy_limit``, else UploadPartCopy ranges, aborted on any failure. Returns the size;
        raises NotFound when the source object is missing."""
        size = source.size(source_key)
        if size is None:
            raise NotFound(f"No data at {source.url_of(source_key)}.")
        origin = {"Bucket": source.bucket, "Key": source.object_key(source_key)}
        with translated(WHAT):
            if size <= self.copy_limit:
                self.client.copy_object(Bucket=self.bucket, Key=self.object_key(target), CopySource=origin,
                                        MetadataDirective="REPLACE", **self._written())
            else:
                self._copy_parts(origin, self.object_key(target), size)
        return size

    def _copy_parts(self, origin: dict[str, str], key: str, size: int) -> None:
        part = max(self.copy_part_size, -(-size // MAX_PARTS))
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key, **self._written())["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, size, part), 1):
                end = min(start + part, size) - 1
                resp = self.client.upload_part_copy(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                    PartNumber=number, CopySource=origin,
                                                    CopySourceRange=f"bytes={start}-{end}")
                parts.append({"PartNumber": number, "ETag": resp["CopyPartResult"]["ETag"]})
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                  MultipartUpload={"Parts": parts})
        except BaseException:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    def presigned_put(self, key: str, expires_in: int) -> str:
        """Signed locally: no AWS call. The client PUTs with Content-Type application/octet-stream."""
        with translated(WHAT):  # no call, but credentials are resolved here
            url: str = self.client.generate_presigned_url(
                "put_object", Params={"Bucket": self.bucket, "Key": self.object_key(key), "ContentType": CONTENT_TYPE},
                ExpiresIn=expires_in,
            )
        return url
