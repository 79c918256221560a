"""The local service (moto server + API) on free ports, for tests that use real clients."""
from __future__ import annotations

import os
from typing import Iterator

import pytest

from chalicelib import wiring
from infra.local.run import LocalService
from tests.conftest import TEST_ENV
from tests.sfn_waits import short_retry_waits
from tests.webserver import ALLOWED_PORTS, FileServer, file_server


@pytest.fixture(scope="module")
def web() -> Iterator[FileServer]:
    """A file server on one of the ports the service may fetch from (a module may name its own files)."""
    with file_server() as server:
        yield server


@pytest.fixture(scope="package")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    """The in-process service for this package only: its emulator serves moto's process-wide backends, which
    every ``mock_aws`` of another package resets on entry and exit (tables, buckets, state machines gone).
    Package scope ends it before any other package's test runs, whatever the order (``-p random``, xdist),
    and starts a fresh one if this package's tests come again."""
    env = {**TEST_ENV, "IMAGES_TABLE": "e2e-images", "IMAGES_MEMBERS_TABLE": "e2e-members", "IMAGES_USAGE_TABLE": "e2e-usage", "IMAGES_METADEFS_TABLE": "e2e-metadefs", "IMAGES_TASKS_TABLE": "e2e-tasks", "IMAGES_BUCKET": "e2e-bucket",
           # As `IMPORT_ALLOWED_HOSTS=127.0.0.1 IMPORT_ALLOWED_PORTS=... make run`: locations on a local
           # file server (the port list is a check of its own, as Glance's import filtering).
           "IMPORT_ALLOWED_HOSTS": "127.0.0.1", "IMPORT_ALLOWED_PORTS": ",".join(map(str, sorted(ALLOWED_PORTS)))}
    saved = {k: os.environ.get(k) for k in TEST_ENV}
    os.environ.update(TEST_ENV)  # the in-process server's PynamoDB reads credentials from here
    svc = LocalService(port=0, env=env).start()
    try:
        with short_retry_waits():  # the emulator runs in this process
            yield svc
    finally:
        svc.stop()
        wiring.reset()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="package")
def _service_container(service: LocalService) -> wiring.Container:
    """The container the local service serves with: built once, as ``make run``'s process builds it."""
    return wiring.build(service.settings)


@pytest.fixture(autouse=True)
def _serve_this_service(service: LocalService, _service_container: wiring.Container) -> None:
    """Other tests rewire the process; point it back at the local service before each test here.

    The models are re-pointed (a new container) only if another package reconfigured them since:
    building one makes new clients and connections, ~0.5 s of each test's first requests.
    """
    from chalicelib.adapters.dynamo_models import TABLE_MODELS

    settings = service.settings
    names = settings.resources.table_names()
    if any((model.Meta.table_name, model.Meta.host) != (names[role], settings.resources.endpoint_url)
           for role, model in TABLE_MODELS.items()):
        _service_container = wiring.build(settings)
    wiring.override(_service_container)
