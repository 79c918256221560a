"""Fixtures for tests that drive real conditional writes from several threads."""
from __future__ import annotations

import threading
from typing import Any, Iterator

import pytest

from chalicelib.adapters.dynamo_models import ImageRecord
from tests.conftest import package_emulator


# One moto emulator for the package (each test still gets fresh tables and its own bucket).
emulator = package_emulator()


@pytest.fixture
def serial_moto(aws: Any) -> Iterator[Any]:
    """moto's DynamoDB is not guaranteed atomic across threads; real DynamoDB is, per call. Serialise moto's
    calls (never our code's read-modify-write) so the test measures our conditions, not moto's races."""
    conn = ImageRecord._get_connection().connection  # noqa: SLF001
    original = conn._make_api_call  # noqa: SLF001
    lock = threading.Lock()

    def locked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(*args, **kwargs)

    conn._make_api_call = locked  # noqa: SLF001
    yield aws
    conn._make_api_call = original  # noqa: SLF001
