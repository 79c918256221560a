"""Shared fixtures: fake AWS credentials always; a container over fakes (``fake``) or moto (``aws``) on request.

``container``/``api`` give the fake container unless the test asks for ``aws`` itself or is marked
``@pytest.mark.moto`` (its behaviour depends on DynamoDB or S3 semantics: presigned URLs, stored items).
"""
from __future__ import annotations

import uuid
from typing import Iterator, cast

import pytest

from chalicelib import wiring
from chalicelib.config import Settings

TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


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
    return Settings(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def boto_session() -> object:
    """One boto3 Session for the run: loading service models is the slow part of a client."""
    import boto3
    import moto  # noqa: F401 - moto must hook botocore before the session exists

    return boto3.Session(region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def aws(boto_session: object, request: pytest.FixtureRequest) -> Iterator[wiring.Container]:
    """moto in-process: resources created, then the real container built over them.

    ``@pytest.mark.settings(name=value, ...)`` overrides Settings for a test or module.
    """
    from moto import mock_aws

    from infra.local.bootstrap import ensure_resources

    marker = request.node.get_closest_marker("settings")
    with mock_aws():
        settings = test_settings(**(marker.kwargs if marker else {}))
        ensure_resources(settings, boto_session)
        built = wiring.build(settings)
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
