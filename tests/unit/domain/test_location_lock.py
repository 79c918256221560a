"""The lock a location_import task holds (Glance's add_location: the lock property alone) and the digests it takes."""
from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest

from chalicelib.domain import imports
from chalicelib.domain.errors import QuotaExceeded
from chalicelib.domain.images import Image
from chalicelib.services.scanning import Digests, digest

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def image(**props: str) -> Image:
    return Image(id="i1", owner="p", created_at=NOW, updated_at=NOW, extra_properties=dict(props))


def test_the_lock_is_the_property_alone_and_refused_while_another_task_holds_it() -> None:
    locked = imports.take_location_lock(image(keep="1"), "t1")
    assert locked.extra_properties == {"keep": "1", imports.LOCK: "t1"}  # no store lists, unlike an import's
    assert imports.take_location_lock(locked, "t1") == locked
    with pytest.raises(imports.ImportLocked):
        imports.take_location_lock(locked, "t2")


def test_only_the_holder_drops_the_lock() -> None:
    locked = imports.take_location_lock(image(), "t1")
    assert imports.drop_lock(locked, "t2") == locked
    assert imports.drop_lock(locked, "t1").extra_properties == {}


@pytest.mark.parametrize("algo", ["md5", "sha1", "sha256", "sha512"])
def test_one_pass_gives_md5_and_the_algorithm(algo: str) -> None:
    data = bytes(range(256)) * 9
    size, md5, value = digest([data[:1000], data[1000:]], algo, cap=len(data))
    assert (size, md5, value) == (len(data), hashlib.md5(data).hexdigest(), hashlib.new(algo, data).hexdigest())
    with pytest.raises(QuotaExceeded):
        digest([data], algo, cap=len(data) - 1)


def test_the_upload_digests_stay_sha512() -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        digests = Digests(pool)
        digests.update(b"abc")
    assert digests.sha.hexdigest() == hashlib.sha512(b"abc").hexdigest()
