"""Fixtures for tests that drive real conditional writes from several threads."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from tests.conftest import package_emulator, serialised_aws


# One moto emulator for the package (each test still gets fresh tables and its own bucket).
emulator = package_emulator()


@pytest.fixture
def serial_moto(aws: Any) -> Iterator[Any]:
    """moto is not thread-safe; real DynamoDB and S3 are atomic per call: see tests.conftest.serialised_aws."""
    with serialised_aws(aws.data.store.client):
        yield aws
