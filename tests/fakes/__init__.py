"""In-memory adapters for unit, contract and API tests (never shipped); ``from tests.fakes import X`` for each."""
from tests.fakes.adapters import fake_adapters, fake_container
from tests.fakes.metadefs import InMemoryMetadefRepository
from tests.fakes.repositories import (
    InMemoryImageRepository, InMemoryMemberRepository, InMemoryTaskRepository, RecordingLauncher, SequentialIds,
    TickingClock,
)
from tests.fakes.store import InMemoryObjectStore

__all__ = [
    "InMemoryImageRepository", "InMemoryMemberRepository", "InMemoryMetadefRepository", "InMemoryObjectStore",
    "InMemoryTaskRepository", "RecordingLauncher", "SequentialIds", "TickingClock", "fake_adapters", "fake_container",
]
