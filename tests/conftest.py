"""Shared fixtures: fake AWS credentials always; a container over fakes (``fake``) or moto (``aws``) on request.

``container``/``api`` give the fake container unless the test asks for ``aws`` itself or is marked
``@pytest.mark.moto`` (its behaviour depends on DynamoDB or S3 semantics: presigned URLs, stored items).
"""
from __future__ import annotations

import contextlib
import threading

import functools
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Iterator, cast

import pytest

from chalicelib import wiring
from chalicelib.config import Settings

pytest_plugins = ["tests.iam.plugin"]  # records the code's AWS calls and checks them against the stack's roles

TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``make test``'s ``-n 2 --dist loadgroup``: tests/infra on one worker (tests/xdist_groups.py)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from tests.xdist_groups import PathGroupScheduling

    return PathGroupScheduling(config, log)


@pytest.fixture(autouse=True)
def _fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in TEST_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def test_settings(**overrides: object) -> Settings:
    base = dict(
        region="us-east-1",
        images_table=f"images-{uuid.uuid4().hex[:8]}",
        members_table=f"members-{uuid.uuid4().hex[:8]}",
        usage_table=f"usage-{uuid.uuid4().hex[:8]}",
        metadefs_table=f"metadefs-{uuid.uuid4().hex[:8]}",
        tasks_table=f"tasks-{uuid.uuid4().hex[:8]}",
        bucket=f"bucket-{uuid.uuid4().hex[:8]}",
        auth_mode="dev",
    )
    base.update(overrides)
    return Settings.of(**base)


@pytest.fixture(scope="session")
def boto_session() -> object:
    """One boto3 Session for the run: loading service models is the slow part of a client."""
    import boto3
    import moto  # noqa: F401 - moto must hook botocore before the session exists

    return boto3.Session(region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")


@dataclass
class Emulator:
    """moto entered once, the real adapters built once over its tables (their clients and connections reused)."""

    session: Any
    settings: Settings
    adapters: wiring.Adapters

    @functools.cached_property
    def dynamodb(self) -> Any:
        return self.session.client("dynamodb", region_name=self.settings.resources.region)

    def fresh(self, request: pytest.FixtureRequest, **defaults: object) -> Settings:
        """A test's settings over fresh tables of the same names (no new connections) and a bucket of its own."""
        from infra.local.bootstrap import ensure_resources

        base = self.settings
        res = base.resources
        names = dict(images_table=res.images_table, members_table=res.members_table, usage_table=res.usage_table,
                     metadefs_table=res.metadefs_table, tasks_table=res.tasks_table)
        settings = marked_settings(request, **{**defaults, **names})
        for name in settings.resources.table_names().values():
            self.dynamodb.delete_table(TableName=name)
        ensure_resources(settings, self.session)
        return settings

    def container(self, settings: Settings) -> wiring.Container:
        """The real services over the shared repositories, and ``settings``' own bucket, web policy and launcher."""
        from chalicelib.adapters import dynamo_models
        from chalicelib.adapters.sfn_launcher import StepFunctionsLauncher
        if dynamo_models.ImageRecord.Meta.table_name != settings.resources.images_table:  # another fixture rewired the models
            self.adapters = wiring.real_adapters(settings)
        shared = self.adapters.store
        stores = wiring.s3_stores(settings, lambda region: shared.client if region == "us-east-1" else
                                  self.session.client("s3", region_name=region))
        return wiring.assemble(settings, replace(
            self.adapters,
            store=stores.default(),
            stores=stores,
            web=wiring.web_client(settings),
            launcher=StepFunctionsLauncher(
                lambda: self.session.client("stepfunctions", region_name=settings.resources.region),
                settings.resources.import_state_machine_arn),
        ))


@contextmanager
def running_emulator(boto_session: Any, config: dict[str, Any] | None = None) -> Iterator[Emulator]:
    """mock_aws (with moto's ``config``) and the tables created once; packages that use it often enter it once."""
    from moto import mock_aws

    from infra.local.bootstrap import ensure_resources

    with mock_aws(config=config):  # type: ignore[arg-type]
        settings = test_settings()
        ensure_resources(settings, boto_session)
        yield Emulator(boto_session, settings, wiring.real_adapters(settings))


@pytest.fixture
def emulator(boto_session: Any) -> Iterator[Emulator]:
    """Per test by default; tests/api, tests/contract and tests/integration hold one per package."""
    with running_emulator(boto_session) as running:
        yield running


def package_emulator() -> Any:
    """The ``emulator`` fixture at package scope, for a package conftest: ``emulator = package_emulator()``."""

    @pytest.fixture(scope="package", name="emulator")
    def _emulator(boto_session: Any) -> Iterator[Emulator]:
        with running_emulator(boto_session) as running:
            yield running

    return _emulator


@pytest.fixture
def aws(emulator: Emulator, request: pytest.FixtureRequest) -> Iterator[wiring.Container]:
    """The real container over moto: fresh tables and a bucket per test, the emulator shared.

    ``@pytest.mark.settings(name=value, ...)`` overrides Settings for a test or module.
    """
    built = emulator.container(emulator.fresh(request))
    wiring.override(built)
    try:
        yield built
    finally:
        wiring.reset()


def marked_settings(request: pytest.FixtureRequest, **defaults: object) -> Settings:
    """``test_settings`` with ``defaults`` and the closest ``@pytest.mark.settings(...)`` on top."""
    marker = request.node.get_closest_marker("settings")
    return test_settings(**{**defaults, **(marker.kwargs if marker else {})})


@pytest.fixture
def fake(request: pytest.FixtureRequest) -> Iterator[wiring.Container]:
    """The real services over in-memory adapters (tests.fakes), fresh per test."""
    from tests.fakes import fake_container

    built = fake_container(marked_settings(request))
    wiring.override(built)
    try:
        yield built
    finally:
        wiring.reset()


@pytest.fixture
def container(request: pytest.FixtureRequest) -> wiring.Container:
    """The container the test's ``api`` drives: ``aws`` when the test uses it or is marked ``moto``, else ``fake``."""
    if request.node.get_closest_marker("moto") is not None or "aws" in request.fixturenames:
        return cast(wiring.Container, request.getfixturevalue("aws"))
    return cast(wiring.Container, request.getfixturevalue("fake"))


@pytest.fixture
def api(container: wiring.Container) -> Iterator[object]:
    """chalice.test.Client over ``container``."""
    from chalice.test import Client

    from app import app

    with Client(app) as client:
        yield client


@contextlib.contextmanager
def serialised_aws(s3_client: Any) -> Iterator[None]:
    """Serialise moto's calls: every DynamoDB call of every PynamoDB connection, and ``s3_client``'s calls.

    moto is not thread-safe; real DynamoDB and S3 are atomic per call. Only single calls are serialised,
    never our code's read-judge-write, so a threaded test measures our conditions, not moto's races.
    """
    from pynamodb.connection.base import Connection

    original = Connection._make_api_call  # noqa: SLF001 - the one place every DynamoDB call passes
    s3_call = s3_client._make_api_call  # noqa: SLF001 - botocore's single entry for every S3 call
    lock = threading.RLock()

    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    def s3_locked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return s3_call(*args, **kwargs)

    Connection._make_api_call = locked  # type: ignore[method-assign]  # restored below
    s3_client._make_api_call = s3_locked
    try:
        yield
    finally:
        Connection._make_api_call = original  # type: ignore[method-assign]
        del s3_client._make_api_call  # back to the class's method (an instance attribute would outlive the test)
