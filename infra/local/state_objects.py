"""S3 objects of ``make run`` as files in the state directory (infra/local/state.py holds the rest).

moto keeps each object's bytes in a per-object SpooledTemporaryFile; while an ``ObjectStore`` is
active that buffer is an ``ObjectFile`` in ``objects/`` instead, so the bytes are written once, to
disk, and never held twice. After each answered S3 write the emulator calls ``sync`` for the key
it named, which writes ``<id>.json`` (bucket, key, ETag, size, metadata) next to the stored
object's file and removes the files of the object it replaced or deleted; ``restore`` puts the
recorded objects back in their buckets and removes every file nothing names (parts of unfinished
multipart uploads, bytes whose PUT was never answered).

A completed multipart upload is a ``JoinedFile``: its parts' files, hard-linked as ``<id>.<n>``
segments and read as one, so the bytes of a large upload are written to disk once, when the parts
arrive, never copied into a second file at completion (which cost as long again as the upload's
writes, and doubled the page cache it took).
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any


class ObjectFile:
    """A file in ``objects/`` standing in for moto's per-object SpooledTemporaryFile.

    It holds no file descriptor between calls (a service with 10,000 objects must not need 10,000),
    and writes go straight to the OS (a kill -9 loses none). Closed (moto disposes a replaced,
    deleted or temporary key) it is removed, unless it holds a stored object (``kept``).
    """

    def __init__(self, path: Path, create: bool = True) -> None:
        self.path = path
        self.kept = False
        self.closed = False
        self._pos = 0
        if create:
            path.open("xb").close()

    def _open(self, mode: str) -> Any:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        return self.path.open(mode)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos}.get(whence)
        self._pos = (self.path.stat().st_size if base is None else base) + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        with self._open("rb") as f:
            f.seek(self._pos)
            data: bytes = f.read(-1 if size is None else size)
        self._pos += len(data)
        return data

    def write(self, data: bytes) -> int:
        with self._open("r+b") as f:
            f.seek(self._pos)
            f.write(data)
        self._pos += len(data)
        return len(data)

    def truncate(self, size: int | None = None) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        os.truncate(self.path, self._pos if size is None else size)
        return self._pos if size is None else size

    def flush(self) -> None:
        """Nothing is buffered."""

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if not self.kept:
                self.path.unlink(missing_ok=True)


class JoinedFile(ObjectFile):
    """A completed multipart object: its parts' files, in order, read as one and never copied.

    Each part's file is hard-linked as ``<path>.<n>`` (the part's own name goes when moto disposes
    of the part); ``path`` itself stays empty and names the object (its ``.json`` record lists the
    segment sizes). Stored objects are not rewritten by moto, but a write or truncate still works:
    it first turns the object back into one plain file.
    """

    def __init__(self, path: Path, sizes: list[int], create: bool = True) -> None:
        super().__init__(path, create)
        self.sizes = list(sizes)
        self.segments = [_segment(path, n) for n in range(1, len(self.sizes) + 1)]  # read at every 1 MiB: made once

    @classmethod
    def adopt(cls, empty: ObjectFile, parts: list[Path]) -> "JoinedFile":
        """``empty``'s path as the object of ``parts`` (linked, not copied)."""
        linked: list[Path] = []
        try:
            for number, part in enumerate(parts, 1):
                segment = _segment(empty.path, number)
                os.link(part, segment)
                linked.append(segment)
        except BaseException:
            for segment in reversed(linked):  # last first: what a crash leaves is still 1..k (_segments_of)
                segment.unlink(missing_ok=True)
            raise
        return cls(empty.path, [s.stat().st_size for s in linked], create=False)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_END and self.sizes:
            self._pos = sum(self.sizes) + offset
            return self._pos
        return super().seek(offset, whence)

    def read(self, size: int | None = -1) -> bytes:
        if not self.sizes:
            return super().read(size)
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        want = sum(self.sizes) - self._pos if size is None or size < 0 else size
        pieces: list[bytes] = []
        start = 0
        for segment, length in zip(self.segments, self.sizes):
            if want <= 0:
                break
            if self._pos < start + length:
                with segment.open("rb") as f:
                    f.seek(self._pos - start)
                    piece = f.read(min(want, start + length - self._pos))
                pieces.append(piece)
                self._pos += len(piece)
                want -= len(piece)
            start += length
        return b"".join(pieces)

    def _flatten(self, keep: int) -> None:
        """Back to one plain file holding the first ``keep`` bytes."""
        if not self.sizes:
            return
        position, self._pos = self._pos, 0
        with self._open("r+b") as out:
            out.truncate(0)
            for segment, length in zip(self.segments, self.sizes):
                if out.tell() >= keep:
                    break
                with segment.open("rb") as src:
                    os.copy_file_range(src.fileno(), out.fileno(), min(length, keep - out.tell()))
                out.seek(0, os.SEEK_END)
        for segment in reversed(self.segments):  # last first, as adopt's undo
            segment.unlink(missing_ok=True)
        self.sizes, self.segments = [], []
        self._pos = position

    def write(self, data: bytes) -> int:
        self._flatten(sum(self.sizes))
        return super().write(data)

    def truncate(self, size: int | None = None) -> int:
        self._flatten(self._pos if size is None else size)
        return super().truncate(size)

    def close(self) -> None:
        if not self.closed and not self.kept:
            for segment in reversed(self.segments):
                segment.unlink(missing_ok=True)
        super().close()


class _TempfileShim:
    """What ``moto.s3.models`` sees as ``tempfile``: object buffers become ObjectFiles while a store is active."""

    def __init__(self) -> None:
        self.store: ObjectStore | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(tempfile, name)

    def SpooledTemporaryFile(self, max_size: int = 0, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 - tempfile's name
        store = self.store
        if store is None:
            return tempfile.SpooledTemporaryFile(max_size, *args, **kwargs)
        return ObjectFile(store.root / uuid.uuid4().hex)


_SHIM = _TempfileShim()


def _s3_backend() -> Any:
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"]


def stored_key(bucket_name: str, key_name: str) -> Any:
    """moto's FakeKey at bucket/key, or None."""
    bucket = _s3_backend().buckets.get(bucket_name)
    return bucket.keys.get(key_name) if bucket is not None else None


class ObjectStore:
    """S3 objects as files; ``sync`` records what a request left at one key, ``restore`` puts it all back."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._index: dict[tuple[str, str], Path] = {}  # (bucket, key) -> data file of the stored object
        self._lock = threading.Lock()

    def activate(self) -> None:
        from moto.s3 import models

        if not isinstance(models.tempfile, _TempfileShim):
            if not hasattr(models.tempfile, "SpooledTemporaryFile"):
                raise RuntimeError("moto.s3.models no longer uses tempfile.SpooledTemporaryFile: update infra/local/state.py")
            models.tempfile = _SHIM  # type: ignore[assignment]
        _SHIM.store = self

    def deactivate(self) -> None:
        if _SHIM.store is self:
            _SHIM.store = None

    def sync(self, bucket_name: str, key_name: str) -> None:
        """Make the files say what the emulator now holds at bucket/key (called before the request is answered)."""
        current = stored_key(bucket_name, key_name)
        buffer = getattr(current, "_value_buffer", None)
        with self._lock:
            old = self._index.get((bucket_name, key_name))
            if isinstance(buffer, ObjectFile):
                if old == buffer.path:
                    return
                self._write_sidecar(buffer.path, bucket_name, current)
                buffer.kept = True
                self._index[(bucket_name, key_name)] = buffer.path
            else:
                self._index.pop((bucket_name, key_name), None)
            if old is not None:
                _remove(old)

    def sync_bucket(self, bucket_name: str) -> None:
        """``sync`` every key the bucket holds or the files hold (after a multi-object delete)."""
        bucket = _s3_backend().buckets.get(bucket_name)
        names = set(bucket.keys.keys()) if bucket is not None else set()
        with self._lock:
            names |= {key for (b, key) in self._index if b == bucket_name}
        for name in names:
            self.sync(bucket_name, name)

    @staticmethod
    def _write_sidecar(path: Path, bucket: str, key: Any) -> None:
        segments = key._value_buffer.sizes if isinstance(key._value_buffer, JoinedFile) else None
        record = {"bucket": bucket, "key": key.name, "written": time.time_ns(), "etag": key.etag.strip('"'), "size": key.size,
                  **({"segments": segments} if segments else {}),
                  "last_modified": key.last_modified.isoformat(), "metadata": dict(key.metadata),
                  "checksum": [key.checksum_algorithm, key.checksum_value, key.checksum_type]}
        temp = path.with_suffix(".tmp")
        temp.write_text(json.dumps(record))
        os.replace(temp, path.with_suffix(".json"))

    def restore(self) -> int:
        """Put every recorded object back in its bucket (which must exist); remove unrecorded files. Returns the count."""
        backend = _s3_backend()
        restored = 0
        records = {p.with_suffix(""): p for p in self.root.glob("*.json")}
        segments: dict[Path, list[Path]] = {}  # the recorded JoinedFiles' segments, from this one listing
        for data in [p for p in self.root.iterdir() if p.suffix != ".json"]:
            owner = data.with_name(data.name.split(".")[0])
            if owner not in records or data.suffix == ".tmp":
                data.unlink()  # a part, a temporary key, bytes whose PUT was never answered, a torn record
            elif data.suffix[1:].isdigit():
                segments.setdefault(owner, []).append(data)
        loaded = sorted(((json.loads(sidecar.read_text()), data) for data, sidecar in records.items()),
                        key=lambda pair: int(pair[0]["written"]))
        for record, data in loaded:  # oldest first: a crash between two writes of one key leaves the newer
            sizes = record.get("segments")
            found = sorted(segments.get(data, []), key=lambda p: int(p.suffix[1:]))
            whole = not sizes or [p.stat().st_size for p in found] == sizes  # no segment lost or cut
            if not data.exists() or not whole or record["bucket"] not in backend.buckets:
                _remove(data)
                for segment in found:  # those past a lost one too, which _remove's probe stops short of
                    segment.unlink(missing_ok=True)
                continue
            older = self._index.get((record["bucket"], record["key"]))
            if older is not None:
                _remove(older)
                restored -= 1
            key = backend.put_object(record["bucket"], record["key"], b"", etag=record["etag"], disable_notification=True)
            key._value_buffer.close()  # its fresh, empty file (removed); the stored one replaces it
            stored = JoinedFile(data, sizes, create=False) if sizes else ObjectFile(data, create=False)
            stored.kept = True
            key._value_buffer = stored
            key.contentsize = record["size"]
            key.last_modified = datetime.fromisoformat(record["last_modified"])
            key.set_metadata(dict(record["metadata"]), replace=True)
            key.checksum_algorithm, key.checksum_value, key.checksum_type = record["checksum"]
            self._index[(record["bucket"], record["key"])] = data
            restored += 1
        return restored


def _remove(data: Path) -> None:
    data.with_suffix(".json").unlink(missing_ok=True)
    data.unlink(missing_ok=True)
    for segment in reversed(_segments_of(data)):
        segment.unlink(missing_ok=True)


def _segment(data: Path, number: int) -> Path:
    """A JoinedFile's ``number``th segment file (from 1): ``<id>.<number>``."""
    return data.with_name(f"{data.name}.{number}")


def _segments_of(data: Path) -> list[Path]:
    """A JoinedFile's segment files on disk, in order: ``<id>.1``, ``<id>.2``, ... while they exist. Probed,
    not listed: a directory listing per removed object made every delete O(objects) and a restore O(objects²)
    (restore lists the directory once). Segments are always removed last first, so what a crash leaves of
    them is still numbered from 1."""
    found: list[Path] = []
    while (segment := _segment(data, len(found) + 1)).exists():
        found.append(segment)
    return found
