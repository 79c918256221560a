"""One service over each ImageRepository implementation: in-memory and DynamoDB (moto)."""
from __future__ import annotations

from typing import Iterator

import pytest

from chalicelib.services.images import ImageService, Limits
from tests.conftest import package_emulator
from tests.fakes import InMemoryImageRepository, InMemoryMemberRepository, SequentialIds, TickingClock


# One moto emulator for the package (each test still gets fresh tables and its own bucket).
emulator = package_emulator()


@pytest.fixture(params=["memory", "dynamo"])
def svc(request: pytest.FixtureRequest) -> Iterator[ImageService]:
    if request.param == "memory":
        repo = InMemoryImageRepository()
        members = InMemoryMemberRepository(repo)
        repo.members = members
        yield ImageService(repo, members, TickingClock(), SequentialIds(), Limits())
        return
    container = request.getfixturevalue("aws")
    real = container.images
    yield ImageService(real.repo, real.members, TickingClock(), SequentialIds(), Limits())
