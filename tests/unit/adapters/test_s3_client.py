"""The S3 client's request shape: bodies carry a CRC32 checksum and are not SHA-256 signed, on http too."""
from __future__ import annotations

from typing import Any

import pytest

from chalicelib import wiring


class _Sent(Exception):
    """Raised by the before-send hook: the request stops at the wire, nothing is sent."""


# Over https the SDK sends the CRC32 in a trailer of an aws-chunked body; over http (the emulator) in a header.
@pytest.mark.parametrize(("endpoint", "payload", "checksum"), [
    ("http://127.0.0.1:1", "UNSIGNED-PAYLOAD", ("x-amz-checksum-crc32", "SNfwYw==")),
    ("https://127.0.0.1:1", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", ("x-amz-trailer", "x-amz-checksum-crc32"))])
def test_an_upload_part_is_checksummed_but_its_body_not_hashed_again(endpoint: str, payload: str, checksum: tuple[str, str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    from tests.conftest import test_settings  # imported here: at module level pytest would collect it as a test

    resources = test_settings(region="eu-west-1", endpoint_url=endpoint).resources
    client: Any = wiring._s3_client(resources)  # noqa: SLF001 - the one place S3 clients are configured
    seen: dict[str, str] = {}

    def stop(request: Any, **_: Any) -> None:
        seen.update({k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()})
        raise _Sent

    client.meta.events.register("before-send.s3.UploadPart", stop)
    with pytest.raises(_Sent):
        client.upload_part(Bucket="b", Key="k", UploadId="u", PartNumber=1, Body=b"x" * 1024)
    assert seen["x-amz-content-sha256"] == payload  # not a SHA-256 of the body
    assert seen[checksum[0]] == checksum[1]  # SNfwYw==: zlib.crc32 of the 1 KiB body, base64
