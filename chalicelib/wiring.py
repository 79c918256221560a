"""Builds the Container (services over real adapters) lazily, once per process.

Nothing here runs at import: the first request pays for boto3/PynamoDB,
so importing ``app`` stays cheap. Tests swap the container with ``override``.
"""
from __future__ import annotations

import threading
import functools
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable

from chalicelib.config import ResourceSettings, Settings

if TYPE_CHECKING:
    from chalicelib.services.stores import Stores
    from chalicelib.services.image_data import ImageDataService
    from chalicelib.services.images import ImageService
    from chalicelib.services.members import MemberService
    from chalicelib.services.metadefs import MetadefService
    from chalicelib.services.import_steps import ImportStepService
    from chalicelib.services.imports import ImportService
    from chalicelib.services.location_import import LocationImports
    from chalicelib.services.tasks import TaskService
    from chalicelib.services.uploads import PresignedUploads
    from chalicelib.services.v1_images import V1ImageService


@dataclass
class Container:
    """Everything a request needs, built once."""

    settings: Settings
    images: "ImageService"
    data: "ImageDataService"
    members: "MemberService"
    metadefs: "MetadefService"
    tasks: "TaskService"
    imports: "ImportService"
    location_imports: "LocationImports"
    import_steps: "ImportStepService"
    uploads: "PresignedUploads"
    v1: "V1ImageService"
    ports: "Adapters"
    stores: "Stores"


_state: dict[str, Container] = {}
_clients: dict[str, Any] = {}  # the boto3 Session the clients are made from (built on first use)
_session_lock = threading.Lock()
S3_ATTEMPTS = 8  # tries per S3 call (botocore's standard retry mode: throttling, 5xx, connection faults)


@dataclass(frozen=True)
class Adapters:
    """The ports a Container is assembled from: real AWS adapters (``real_adapters``) or tests' fakes."""

    images: Any
    members: Any
    tasks: Any
    metadefs: Any
    store: Any
    web: Any
    inspector: Any
    launcher: Any
    clock: Any
    ids: Any
    # Every configured store by id (services.stores.Stores); None: ``store`` is the default and only one.
    stores: Any = None


def build(settings: Settings) -> Container:
    """Wire the real adapters for ``settings`` (configures PynamoDB's table names and endpoint)."""
    return assemble(settings, real_adapters(settings))


def real_adapters(settings: Settings) -> Adapters:
    """The DynamoDB, S3, Step Functions and web adapters for ``settings`` (clients built on first use)."""
    from chalicelib.adapters import dynamo_models
    from chalicelib.adapters.dynamo_images import DynamoImageRepository
    from chalicelib.adapters.dynamo_members import DynamoMemberRepository
    from chalicelib.adapters.dynamo_metadefs import DynamoMetadefRepository
    from chalicelib.adapters.dynamo_tasks import DynamoTaskRepository
    from chalicelib.adapters.inspection import OsloInspector
    from chalicelib.adapters.sfn_launcher import StepFunctionsLauncher
    from chalicelib.adapters.system import SystemClock, UuidGen

    resources = settings.resources
    dynamo_models.configure(resources.table_names(), region=resources.region, host=resources.endpoint_url)
    stores = s3_stores(settings, lambda region: _s3_client(resources, region))
    return Adapters(
        images=DynamoImageRepository(),
        members=DynamoMemberRepository(),
        tasks=DynamoTaskRepository(),
        metadefs=DynamoMetadefRepository(),
        store=stores.default(),
        stores=stores,
        web=web_client(settings),
        inspector=OsloInspector(),
        launcher=StepFunctionsLauncher(lambda: _client("stepfunctions", resources), resources.import_state_machine_arn),
        clock=SystemClock(),
        ids=UuidGen(),
    )


def s3_stores(settings: Settings, client_for: Callable[[str], Any]) -> "Stores":
    """One S3ObjectStore per configured S3 store, each through ``client_for(its region)`` (built on first use)."""
    from chalicelib.adapters.s3_store import S3ObjectStore
    from chalicelib.services.stores import Stores

    catalog = settings.catalog()
    objects = {}
    for spec in catalog.s3():
        region = spec.region or settings.resources.region
        objects[spec.id] = S3ObjectStore(functools.partial(client_for, region), spec.bucket, prefix=spec.prefix,
                                         storage_class=spec.storage_class)
    return Stores(catalog, objects)


def web_client(settings: Settings) -> Any:
    """The guarded outbound http(s) client: the fetch policy and deadlines of ``settings``."""
    from chalicelib.adapters.web import Deadlines, GuardedHttp

    where = settings.locations
    deadlines = Deadlines(probe=where.probe_deadline_ms / 1000, fetch=where.fetch_deadline_ms / 1000,
                          read=where.fetch_read_timeout_ms / 1000)
    return GuardedHttp(where.fetch_policy(), deadlines)


def assemble(settings: Settings, ports: Adapters) -> Container:
    """The services over ``ports``, configured by ``settings``."""
    from chalicelib.domain.locations import LocationRules
    from chalicelib.services.image_data import ImageDataService
    from chalicelib.services.images import ImageService
    from chalicelib.services.locations import LocationSupport
    from chalicelib.services.members import MemberService
    from chalicelib.services.metadefs import MetadefService
    from chalicelib.services.import_steps import ImportStepService
    from chalicelib.services.imports import ImportService
    from chalicelib.services.location_import import LocationImports
    from chalicelib.services.tasks import TaskService
    from chalicelib.services.uploads import PresignedUploads
    from chalicelib.services.v1_images import V1ImageService
    from chalicelib.services.writer import ImageWriter

    from chalicelib.services.stores import Stores

    stores = ports.stores if ports.stores is not None else Stores.single(settings.catalog(), ports.store)
    store, limits, where = stores.default(), settings.limits, settings.locations
    rules = LocationRules(enabled=where.show_multiple_locations, quota=where.image_location_quota)
    locations = LocationSupport(rules, store, ports.web, settings.data.image_size_cap, stores)
    writer = ImageWriter(ports.images, ports.members, ports.clock, limits.counters())
    images = ImageService(
        writer, ports.images, ports.members, ports.clock, ports.ids, limits, locations,
        store=store, delayed_delete=settings.data.delayed_delete,
    )
    data = ImageDataService(writer, locations, store, ports.inspector, settings.data, ports.web, stores)
    members = MemberService(writer, ports.members, ports.clock, limits.image_member_quota)
    metadefs = MetadefService(ports.metadefs, ports.clock)
    tasks = TaskService(
        ports.tasks, ports.clock, ports.ids, ports.launcher,
        ttl=timedelta(hours=settings.imports.task_time_to_live_hours), admin_only=settings.imports.tasks_admin_only,
    )
    imports = ImportService(images, writer, tasks, store, ports.clock, ports.ids, settings.imports.import_methods,
                            where.fetch_policy(), stores=stores)
    location_imports = LocationImports(writer, tasks, locations, ports.web, ports.clock, ports.ids,
                                       settings.data.image_size_cap, where.do_secure_hash)
    steps = ImportStepService(images, writer, tasks, store, ports.web, ports.inspector, settings.data.image_size_cap,
                              stores, location_imports)
    uploads = PresignedUploads(imports, writer, store, settings.data.image_size_cap, settings.data.upload_min_part_size)
    v1 = V1ImageService(images, data, members, writer)
    return Container(settings=settings, images=images, data=data, members=members, metadefs=metadefs, tasks=tasks,
                     imports=imports, location_imports=location_imports, import_steps=steps, uploads=uploads, v1=v1, ports=ports, stores=stores)


def _session() -> Any:
    """One boto3 Session per process for every client built here (its loader caches the endpoint and
    service data once); creating clients from a session is not thread-safe, so callers hold ``_session_lock``."""
    if "session" not in _clients:
        import boto3  # type: ignore[import-untyped]  # boto3 ships no type hints and boto3-stubs is not a dependency

        _clients["session"] = boto3.session.Session()
    return _clients["session"]


def _client(service: str, resources: ResourceSettings, config: Any = None, region: str | None = None) -> object:
    with _session_lock:
        return _session().client(service, region_name=region or resources.region,
                                 endpoint_url=resources.endpoint_url, config=config)


def _s3_client(resources: ResourceSettings, region: str | None = None) -> object:
    from botocore.config import Config  # type: ignore[import-untyped]  # botocore ships no type hints and botocore-stubs is not a dependency

    # Path-style only against an emulator endpoint (its host cannot take bucket subdomains).
    style = "path" if resources.endpoint_url else "virtual"
    # S3 answers 503 SlowDown under load; the SDK retries those with backoff. Deletes after a record
    # already says deleted have no other retry, so they get a generous budget.
    # Bodies are not SHA-256 signed: TLS and the SDK's CRC32 checksum cover them, as botocore does by
    # itself over https; said outright so an http endpoint (the local emulator) is not hashed either,
    # which cost an upload a third full pass over its bytes.
    s3 = {"addressing_style": style, "payload_signing_enabled": False}
    return _client("s3", resources, Config(signature_version="s3v4", s3=s3,
                                           retries={"mode": "standard", "max_attempts": S3_ATTEMPTS}), region)


def container() -> Container:
    """The process-wide container, built from the environment on first use."""
    if "current" not in _state:
        _state["current"] = build(Settings.from_env())
    return _state["current"]


def override(replacement: Container) -> None:
    """Use ``replacement`` until ``reset`` (tests, the local runner)."""
    _state["current"] = replacement


def reset() -> None:
    """Forget the container; the next request builds a fresh one."""
    _state.clear()
