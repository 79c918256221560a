"""Presigned multipart uploads on S3: the part of the ObjectStore port a client's direct upload uses.

A mixin of ``S3ObjectStore`` (its ``client`` and ``bucket``). The parts travel
client -> S3 on presigned UploadPart URLs; only the calls around them are made
here. S3's refusals of a completion (a wrong ETag, a part below the minimum
size, a gone upload) become the client's 400/404; every other fault leaves as
aws_errors' translation.
"""
from __future__ import annotations

from typing import Any

from chalicelib.adapters import aws_errors
from chalicelib.adapters.aws_errors import translated
from chalicelib.domain.errors import InvalidInput, NotFound
from chalicelib.domain.multipart import UploadedPart

WHAT = "The image data"  # names the object in a refusal
# python-glanceclient streams a download only when the final response says exactly this.
CONTENT_TYPE = "application/octet-stream"
_GONE = "NoSuchUpload"
_REFUSED_PARTS = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML"})


class S3Multipart:
    """CreateMultipartUpload, presigned UploadPart, ListParts, CompleteMultipartUpload, AbortMultipartUpload."""

    client: Any
    bucket: str

    def start_multipart(self, key: str) -> str:
        """CreateMultipartUpload (the object gets the content type every other upload gives it)."""
        with translated(WHAT):
            resp = self.client.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=CONTENT_TYPE)
        return str(resp["UploadId"])

    def presigned_part(self, key: str, upload_id: str, number: int, expires_in: int) -> str:
        """Signed locally: no AWS call."""
        with translated(WHAT):  # no call, but credentials are resolved here
            url: str = self.client.generate_presigned_url(
                "upload_part", Params={"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": number},
                ExpiresIn=expires_in,
            )
        return url

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        """Every page of ListParts (at most 10 of 1,000 parts); NotFound when the upload is gone."""
        parts: list[UploadedPart] = []
        marker = 0
        while True:
            try:
                resp = self.client.list_parts(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                              PartNumberMarker=marker)
            except aws_errors.AWS_FAULTS as exc:
                raise self._refusal(exc, upload_id) from exc
            parts += [UploadedPart(int(p["PartNumber"]), str(p["ETag"]), int(p["Size"])) for p in resp.get("Parts", [])]
            if not resp.get("IsTruncated"):
                return parts
            marker = int(resp["NextPartNumberMarker"])

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        """CompleteMultipartUpload; S3 then reports the object created (the import trigger's event)."""
        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": number, "ETag": etag} for number, etag in parts]})
        except aws_errors.AWS_FAULTS as exc:
            raise self._refusal(exc, upload_id) from exc

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """AbortMultipartUpload; an upload already gone (completed, aborted, expired) is left be."""
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except aws_errors.AWS_FAULTS as exc:
            if aws_errors.error_code(exc) != _GONE:
                raise aws_errors.translate(exc, what=WHAT) from exc

    @staticmethod
    def _refusal(exc: Exception, upload_id: str) -> Exception:
        code = aws_errors.error_code(exc)
        if code == _GONE:
            return NotFound(f"The multipart upload {upload_id} no longer exists.")
        if code in _REFUSED_PARTS:
            return InvalidInput(f"The store refused the uploaded parts ({code}).")
        return aws_errors.translate(exc, what=WHAT)
