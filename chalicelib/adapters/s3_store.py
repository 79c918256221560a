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

PART_SIZE = 8 * 1024 * 1024


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
    """One bucket; the client comes in from wiring as a factory, built on first use.

    Metadata-only requests (most of them) never pay for loading the S3 model.
    """

    def __init__(self, client_factory: Callable[[], Any], bucket: str, part_size: int = PART_SIZE) -> None:
        self._client_factory = client_factory
        self.bucket = bucket
        self.part_size = part_size

    @functools.cached_property
    def client(self) -> Any:
        return self._client_factory()

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        """PutObject for small data, else a multipart upload; aborts on any failure."""
        with translated(WHAT):
            return self._put_stream(key, chunks)

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
                            Bucket=self.bucket, Key=key, ContentType=CONTENT_TYPE
                        )["UploadId"]
                    if in_flight is not None:
                        parts.append(in_flight.result())
                    in_flight = pool.submit(self._part, key, upload_id, len(parts) + 1, data)
                    del data
                rest = b"".join(pending)
                if upload_id is None:
                    self.client.put_object(Bucket=self.bucket, Key=key, Body=rest, ContentType=CONTENT_TYPE)
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
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def exists(self, key: str) -> bool:
        """HeadObject."""
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        """HeadObject's ContentLength; None when the object is missing."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except aws_errors.AWS_FAULTS as exc:
            if _missing(exc):
                return None
            raise aws_errors.translate(exc, what=WHAT, action="read") from exc
        return int(head["ContentLength"])

    def url_of(self, key: str) -> str:
        return location_url(self.bucket, key)

    def key_of(self, url: str) -> str | None:
        """The key of ``s3://<this bucket>/<key>``; None for other buckets and schemes."""
        return location_key(self.bucket, url)

    def presigned_get(self, key: str, expires_in: int) -> str:
        """Signed locally: no AWS call."""
        with translated(WHAT, action="read"):  # no call, but credentials are resolved here
            url: str = self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": key, "ResponseContentType": CONTENT_TYPE},
                ExpiresIn=expires_in,
            )
        return url

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """GetObject with a Range."""
        with translated(WHAT, action="read"):
            resp = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end}")
            data: bytes = resp["Body"].read()
        return data

    def iter_object(self, key: str) -> Iterator[bytes]:
        """GetObject streamed in PART_SIZE chunks; NotFound when the object is missing."""
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=key)
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
        """Server-side copy (boto3's managed copy goes multipart past 5 GB)."""
        with translated(WHAT):
            self.client.copy({"Bucket": self.bucket, "Key": source}, self.bucket, target,
                             ExtraArgs={"ContentType": CONTENT_TYPE, "MetadataDirective": "REPLACE"})

    def presigned_put(self, key: str, expires_in: int) -> str:
        """Signed locally: no AWS call. The client PUTs with Content-Type application/octet-stream."""
        with translated(WHAT):  # no call, but credentials are resolved here
            url: str = self.client.generate_presigned_url(
                "put_object", Params={"Bucket": self.bucket, "Key": key, "ContentType": CONTENT_TYPE},
                ExpiresIn=expires_in,
            )
        return url
