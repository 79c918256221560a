"""The Adapters of a container over fakes: in-memory repositories and store, recording launcher.

Web and inspection are the real GuardedHttp and OsloInspector: they only reach tests' 127.0.0.1 servers.
Clock and ids are the system ones, as in the moto-backed container, so API tests see real times and UUIDs.
"""
from __future__ import annotations

from chalicelib import wiring
from chalicelib.adapters.inspection import OsloInspector
from chalicelib.adapters.system import SystemClock, UuidGen
from chalicelib.config import Settings
from chalicelib.services.stores import Stores
from tests.fakes.metadefs import InMemoryMetadefRepository
from tests.fakes.repositories import (
    InMemoryImageRepository, InMemoryMemberRepository, InMemoryTaskRepository, RecordingLauncher,
)
from tests.fakes.store import InMemoryObjectStore


def fake_adapters(settings: Settings) -> wiring.Adapters:
    """Fresh fakes for one test; the member fake reads the image fake (as the Dynamo adapters share tables)."""
    images = InMemoryImageRepository()
    members = InMemoryMemberRepository(images)
    images.members = members
    stores = memory_stores(settings)
    return wiring.Adapters(
        images=images,
        members=members,
        tasks=InMemoryTaskRepository(),
        metadefs=InMemoryMetadefRepository(),
        store=stores.default(),
        stores=stores,
        web=wiring.web_client(settings),
        inspector=OsloInspector(),
        launcher=RecordingLauncher(),
        clock=SystemClock(),
        ids=UuidGen(),
    )


def memory_stores(settings: Settings) -> Stores:
    """An in-memory store per configured S3 store."""
    catalog = settings.catalog()
    return Stores(catalog, {s.id: InMemoryObjectStore(s.bucket, prefix=s.prefix) for s in catalog.s3()})


def fake_container(settings: Settings) -> wiring.Container:
    """The real services assembled over ``fake_adapters``."""
    return wiring.assemble(settings, fake_adapters(settings))
