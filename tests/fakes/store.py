"""ObjectStore in memory: whole objects in a dict, same contract as the S3 adapter (chalicelib/ports.py)."""
from __future__ import annotations

import hashlib
import uuid
from typing import Iterable, Iterator
from urllib.parse import quote

from chalicelib.adapters.s3_store import location_key, location_url
from chalicelib.domain.errors import InvalidInput, NotFound, ServiceUnavailable
from chalicelib.domain.multipart import UploadedPart

# The scheme of this store's presigned URLs: not fetchable over HTTP. Tests that follow a presigned URL
# (signature, ranges served by S3) stay on moto.
PRESIGNED = "memory://"


class InMemoryObjectStore:
    """One "bucket" of objects; location URLs are ``s3://<bucket>/<key>`` as with S3, so location rules agree."""

    def __init__(self, bucket: str = "memory-bucket", part_size: int = 8 * 1024 * 1024, *, prefix: str = "") -> None:
        self.bucket = bucket
        self.part_size = part_size
        self.prefix = prefix  # in location URLs only: ``objects`` is keyed by the store key
        self.objects: dict[str, bytes] = {}
        self.failing = False  # every read raises ServiceUnavailable (a store that is down)
        self.uploads: dict[str, tuple[str, dict[int, bytes]]] = {}  # multipart upload id -> (key, parts)

    def keys(self) -> list[str]:
        """Every stored key, sorted (as S3's ListObjectsV2)."""
        return sorted(self.objects)

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        """Stored only once the iterable is exhausted: a raising stream leaves nothing (nor the old object changed)."""
        buffer = bytearray()
        for chunk in chunks:
            buffer += chunk
        self.objects[key] = bytes(buffer)
        return len(buffer)

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def exists(self, key: str) -> bool:
        return key in self.objects

    def size(self, key: str) -> int | None:
        data = self.objects.get(key)
        return None if data is None else len(data)

    def url_of(self, key: str) -> str:
        return location_url(self.bucket, self.prefix + key)

    def key_of(self, url: str) -> str | None:
        found = location_key(self.bucket, url)
        if found is None or not found.startswith(self.prefix):
            return None
        return found[len(self.prefix):] or None

    def presigned_get(self, key: str, expires_in: int) -> str:
        self._check_up()
        return f"{PRESIGNED}{self.bucket}/{quote(key)}?method=GET&expires_in={expires_in}"

    def presigned_put(self, key: str, expires_in: int) -> str:
        return f"{PRESIGNED}{self.bucket}/{quote(key)}?method=PUT&expires_in={expires_in}"

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``start``..``end`` inclusive; NotFound when missing."""
        self._check_up()
        if key not in self.objects:
            raise NotFound(f"No data at {key}.")
        return self.objects[key][start:end + 1]

    def iter_object(self, key: str) -> Iterator[bytes]:
        """Lazy, like the S3 adapter: NotFound is raised on the first ``next``."""
        if key not in self.objects:
            raise NotFound(f"No data at {key}.")
        data = self.objects[key]
        for start in range(0, len(data), self.part_size):
            yield data[start:start + self.part_size]

    def copy(self, source: str, target: str) -> None:
        if source not in self.objects:
            raise NotFound(f"No data at {source}.")
        self.objects[target] = self.objects[source]

    def copy_from(self, source: "InMemoryObjectStore", source_key: str, target: str) -> int:
        """Copy another store's object here; its size. NotFound when missing."""
        if source_key not in source.objects:
            raise NotFound(f"No data at {source.url_of(source_key)}.")
        self.objects[target] = source.objects[source_key]
        return len(self.objects[target])

    def _check_up(self) -> None:
        if self.failing:
            raise ServiceUnavailable(detail=f"store {self.bucket} is down")
    # -- multipart uploads (the parts a client PUTs to presigned URLs: ``upload_part`` here) ----------
    def start_multipart(self, key: str) -> str:
        upload_id = uuid.uuid4().hex
        self.uploads[upload_id] = (key, {})
        return upload_id

    def presigned_part(self, key: str, upload_id: str, number: int, expires_in: int) -> str:
        return (f"{PRESIGNED}{self.bucket}/{quote(key)}?method=PUT&uploadId={upload_id}&partNumber={number}"
                f"&expires_in={expires_in}")

    def upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        """What S3 does with a PUT to a part URL; returns the part's ETag (quoted, as S3's header)."""
        self._upload(key, upload_id)[number] = data
        return f'"{hashlib.md5(data).hexdigest()}"'

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        parts = self._upload(key, upload_id)
        return [UploadedPart(n, f'"{hashlib.md5(d).hexdigest()}"', len(d)) for n, d in sorted(parts.items())]

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        held = self._upload(key, upload_id)
        if not parts or any(n not in held or etag.strip('"') != hashlib.md5(held[n]).hexdigest() for n, etag in parts):
            raise InvalidInput("The store refused the uploaded parts (InvalidPart).")
        self.objects[key] = b"".join(held[n] for n, _ in parts)
        del self.uploads[upload_id]

    def abort_multipart(self, key: str, upload_id: str) -> None:
        if upload_id in self.uploads and self.uploads[upload_id][0] == key:
            del self.uploads[upload_id]

    def _upload(self, key: str, upload_id: str) -> dict[int, bytes]:
        found = self.uploads.get(upload_id)
        if found is None or found[0] != key:
            raise NotFound(f"The multipart upload {upload_id} no longer exists.")
        return found[1]
