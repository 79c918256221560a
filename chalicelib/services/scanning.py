"""One pass over image data: MD5 and the os_hash_algo in parallel, the size cap, and format inspection.

Upload, stage, the import's verification and the location hashing task all read image bytes
through here, holding one chunk at a time.
"""
from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from chalicelib.domain import data
from chalicelib.domain.errors import QuotaExceeded
from chalicelib.ports import FormatInspector

HASH_ALGO = "sha512"


class Digests:
    """MD5 and ``algo`` (SHA-512 by default) of one stream; hashlib releases the GIL, so the two run in parallel."""

    def __init__(self, pool: ThreadPoolExecutor, algo: str = HASH_ALGO) -> None:
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha = hashlib.new(algo)
        self._pool = pool

    def update(self, chunk: bytes) -> None:
        pending = self._pool.submit(self.md5.update, chunk)
        self.sha.update(chunk)
        pending.result()


def capped(chunks: Iterable[bytes], cap: int, digests: Digests | None) -> Iterator[bytes]:
    """Pass ``chunks`` through, hashing them into ``digests``; raises QuotaExceeded past ``cap`` bytes."""
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > cap:
            raise QuotaExceeded(what="image size", limit=cap)
        if digests is not None:
            digests.update(chunk)
        yield chunk


def digest(chunks: Iterable[bytes], algo: str, cap: int) -> tuple[int, str, str]:
    """(size, MD5 hex, ``algo`` hex) of ``chunks`` in one pass, holding one chunk; QuotaExceeded past ``cap``."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        digests = Digests(pool, algo)
        size = sum(len(chunk) for chunk in capped(chunks, cap, digests))
    return size, digests.md5.hexdigest(), digests.sha.hexdigest()


@dataclass(frozen=True)
class Scanned:
    """What one pass over image data found."""

    size: int
    virtual_size: int | None
    checksum: str
    os_hash_value: str


def scan(
    chunks: Iterable[bytes], consume: Callable[[Iterable[bytes]], int], *, inspector: FormatInspector,
    container_format: str | None, disk_format: str | None, cap: int,
) -> Scanned:
    """One pass: ``consume`` takes the chunks (returning their size) while MD5 + SHA-512, the size cap and,
    for ``bare`` containers, format inspection run over them; raises QuotaExceeded, UnsafeImage,
    ImageFormatMismatch. The upload stores the chunks; the import's VerifyData only reads them."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        digests = Digests(pool)
        inspection = inspector.inspect(chunks) if container_format == "bare" else None
        size = consume(capped(inspection or chunks, cap, digests))
    virtual_size = None
    if inspection is not None:
        detected, detected_vsize = inspection.verdict()
        virtual_size = data.judge_format(disk_format, detected, detected_vsize, size)
    return Scanned(size, virtual_size, digests.md5.hexdigest(), digests.sha.hexdigest())
