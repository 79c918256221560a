"""Builds the Container (services over real adapters) lazily, once per process.

Nothing here runs at import: the first request pays for boto3/PynamoDB,
so importing ``app`` stays cheap. Tests swap the container with ``override``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.config import Settings

if TYPE_CHECKING:
    from chalicelib.services.image_data import ImageDataService
    from chalicelib.services.images import ImageService
    from chalicelib.services.members import MemberService
    from chalicelib.services.metadefs import MetadefService
    from chalicelib.services.import_steps import ImportStepService
    from chalicelib.services.imports import ImportService
    from chalicelib.services.tasks import TaskService
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
    import_steps: "ImportStepService"
    v1: "V1ImageService"
    ports: "Adapters"


_state: dict[str, Container] = {}


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
    from chalicelib.adapters.s3_store import S3ObjectStore
    from chalicelib.adapters.sfn_launcher import StepFunctionsLauncher
    from chalicelib.adapters.system import SystemClock, UuidGen
    from chalicelib.adapters.web import GuardedHttp
    from chalicelib.domain.urls import FetchPolicy

    dynamo_models.configure(
        settings.table_names(),
        region=settings.region,
        host=settings.endpoint_url,
    )
    return Adapters(
        images=DynamoImageRepository(),
        members=DynamoMemberRepository(),
        tasks=DynamoTaskRepository(),
        metadefs=DynamoMetadefRepository(),
        store=S3ObjectStore(lambda: _s3_client(settings), settings.bucket),
        web=GuardedHttp(FetchPolicy(settings.allowed_hosts, settings.allowed_ports)),
        inspector=OsloInspector(),
        launcher=StepFunctionsLauncher(lambda: _client("stepfunctions", settings), settings.import_state_machine_arn),
        clock=SystemClock(),
        ids=UuidGen(),
    )


def assemble(settings: Settings, ports: Adapters) -> Container:
    """The services over ``ports``, configured by ``settings``."""
    from chalicelib.domain.locations import LocationRules
    from chalicelib.domain.urls import FetchPolicy
    from chalicelib.services.image_data import DataLimits, ImageDataService
    from chalicelib.services.images import ImageService, Limits
    from chalicelib.services.locations import LocationSupport
    from chalicelib.services.members import MemberService
    from chalicelib.services.metadefs import MetadefService
    from chalicelib.services.import_steps import ImportStepService
    from chalicelib.services.imports import ImportService
    from chalicelib.services.tasks import TaskService
    from chalicelib.services.v1_images import V1ImageService
    from chalicelib.services.writer import ImageWriter

    store = ports.store
    limits = Limits(
        property_quota=settings.image_property_quota,
        tag_quota=settings.image_tag_quota,
        storage_quota=settings.user_storage_quota,
        count_total=settings.limit_image_count_total,
        count_uploading=settings.limit_image_count_uploading,
        size_total_mib=settings.limit_image_size_total,
        stage_total_mib=settings.limit_image_stage_total,
    )
    fetch_policy = FetchPolicy(settings.allowed_hosts, settings.allowed_ports)
    locations = LocationSupport(
        LocationRules(enabled=settings.show_multiple_locations, quota=settings.image_location_quota), store, ports.web
    )
    writer = ImageWriter(ports.images, ports.members, ports.clock, limits.counters())
    images = ImageService(
        writer, ports.images, ports.members, ports.clock, ports.ids, limits, locations,
        store=store, delayed_delete=settings.delayed_delete,
    )
    data_limits = DataLimits(
        image_size_cap=settings.image_size_cap,
        proxy_max_bytes=settings.proxy_max_bytes,
        download_mode=settings.download_mode,
    )
    data = ImageDataService(writer, locations, store, ports.inspector, data_limits)
    members = MemberService(writer, ports.members, ports.clock, settings.image_member_quota)
    metadefs = MetadefService(ports.metadefs, ports.clock)
    tasks = TaskService(
        ports.tasks, ports.clock, ports.ids, ports.launcher,
        ttl=timedelta(hours=settings.task_time_to_live_hours), admin_only=settings.tasks_admin_only,
    )
    imports = ImportService(images, writer, tasks, store, ports.clock, ports.ids, settings.import_methods,
                            fetch_policy)
    steps = ImportStepService(images, writer, tasks, store, ports.web, ports.inspector, settings.image_size_cap)
    v1 = V1ImageService(images, data, members, writer)
    return Container(settings=settings, images=images, data=data, members=members, metadefs=metadefs, tasks=tasks,
                     imports=imports, import_steps=steps, v1=v1, ports=ports)


def _client(service: str, settings: Settings) -> object:
    import boto3

    return boto3.session.Session().client(service, region_name=settings.region, endpoint_url=settings.endpoint_url)


def _s3_client(settings: Settings) -> object:
    import boto3
    from botocore.config import Config

    # Path-style only against an emulator endpoint (its host cannot take bucket subdomains).
    style = "path" if settings.endpoint_url else "virtual"
    return boto3.session.Session().client(
        "s3", region_name=settings.region, endpoint_url=settings.endpoint_url,
        config=Config(signature_version="s3v4", s3={"addressing_style": style}),
    )


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
