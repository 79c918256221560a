"""One service over each ImageRepository implementation: in-memory and DynamoDB (moto)."""
from __future__ import annotations

from typing import Iterator

import pytest

from chalicelib.services.images import ImageService
from tests.conftest import package_emulator
from tests.fakes import InMemoryImageRepository, InMemoryMemberRepository
from tests.service_factories import ImageHarness


# One moto emulator for the package (each test still gets fresh tables and its own bucket).
emulator = package_emulator()


@pytest.fixture(params=["memory", "dynamo"])
def harness(request: pytest.FixtureRequest) -> Iterator[ImageHarness]:
    if request.param == "memory":
        repo = InMemoryImageRepository()
        members = InMemoryMemberRepository(repo)
        repo.members = members
        yield ImageHarness(repo, members)
        return
    container = request.getfixturevalue("aws")
    yield ImageHarness(container.ports.images, container.ports.members)


@pytest.fixture
def svc(harness: ImageHarness) -> ImageService:
    return harness.svc
