"""The real import pipeline on moto: the ASL executed by moto's Step Functions, the steps run in-process."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

import pytest

from chalicelib import wiring
from tests.conftest import Emulator, running_emulator
from tests.sfn_waits import finished_execution, short_retry_waits
from tests.webserver import ALLOWED_PORTS, FileServer, file_server

ADMIN = {"X-Auth-Token": "admin:admin-proj:admin", "Accept": "application/json", "Content-Type": "application/json"}
ALICE = {"X-Auth-Token": "alice:proj-a:member,reader", "Accept": "application/json",
         "Content-Type": "application/json"}


@dataclass
class Pipeline:
    container: wiring.Container
    api: Any  # chalice.test.Client
    sfn: Any
    s3: Any
    machine_arn: str
    web: FileServer

    def execution(self, name: str, timeout: float = 30.0) -> dict[str, Any]:
        """Wait for the execution named ``name`` to finish; its description."""
        return finished_execution(self.sfn, self.machine_arn, name, timeout)

    def states(self, name: str) -> list[str]:
        """The states the execution entered, in order."""
        arn = self.machine_arn.replace(":stateMachine:", ":execution:") + ":" + name
        events = self.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]

    def keys(self) -> list[str]:
        """Every object key in the image bucket."""
        listed = self.s3.list_objects_v2(Bucket=self.container.settings.resources.bucket)
        return sorted(o["Key"] for o in listed.get("Contents", []))

    def get(self, path: str, headers: dict[str, str] = ADMIN) -> tuple[int, Any]:
        resp = self.api.http.get(path, headers=headers)
        return resp.status_code, (json.loads(resp.body) if resp.body else None)

    def post(self, path: str, body: Any, headers: dict[str, str] = ADMIN) -> tuple[int, Any, dict[str, str]]:
        resp = self.api.http.post(path, headers=headers, body=json.dumps(body))
        return resp.status_code, (json.loads(resp.body) if resp.body else None), dict(resp.headers)


@pytest.fixture(scope="package", autouse=True)
def _short_retry_waits() -> Iterator[None]:
    with short_retry_waits():
        yield


@pytest.fixture(scope="package")
def emulator(boto_session: Any) -> Iterator[Emulator]:
    """moto with the Step Functions executor on, entered once for the package (clients and connections reused)."""
    with running_emulator(boto_session, config={"stepfunctions": {"execute_state_machine": True}}) as running:
        yield running


@pytest.fixture
def pipeline(emulator: Emulator, request: pytest.FixtureRequest) -> Iterator[Pipeline]:
    """Fresh tables and bucket, the pipeline deployed as the local runner does (a new state machine), a file server."""
    from chalice.test import Client

    from app import app
    from infra.local import pipeline as local_pipeline

    session = emulator.session
    sfn = session.client("stepfunctions", region_name="us-east-1")
    s3 = session.client("s3", region_name="us-east-1")
    with file_server() as web:
        settings = emulator.fresh(request, allowed_hosts=frozenset({"127.0.0.1"}), allowed_ports=ALLOWED_PORTS)
        arn = local_pipeline.deploy(settings, session, app)
        settings = settings.with_values(import_state_machine_arn=arn)
        built = emulator.container(settings)
        wiring.override(built)
        try:
            with Client(app) as client:
                yield Pipeline(built, client, sfn, s3, arn, web)
        finally:
            wiring.reset()
            sfn.delete_state_machine(stateMachineArn=arn)  # the next test's executions are its own
