"""One in-process synth of the whole app per test session (cdk-nag runs as part of it)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.webserver import free_port

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
# The machine's node 20 works; its end-of-life banner is noise in test output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

CLOUD_JWT = {
    "stage": "test",
    "auth_mode": "cloud",
    "auth_provider": "jwt",
    "jwt_issuer": "https://issuer.example",
    "jwt_audience": "glance",
    "jwt_jwks_url": "https://issuer.example/jwks.json",
    # Offline: the package holds the app without its third-party packages (same template).
    "app_only_package": True,
    # Not the defaults, so a test can tell they come from context.
    "api_throttle_rate": 37,
    "api_throttle_burst": 74,
}
# The same stack with the data plane on, behind HTTPS.
DATA_PLANE = {**CLOUD_JWT, "data_plane": "on", "region": "us-east-1",
              "data_plane_certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/data-plane-test"}


@dataclass
class Synth:
    stack: Any
    template: Any  # aws_cdk.assertions.Template
    template_path: Path
    outdir: Path
    web_port: int  # the functions may fetch from 127.0.0.1 at this port (the rehearsal's task import)

    def logical_id(self, element: Any) -> str:
        return str(self.stack.resolve(self.stack.get_logical_id(element)))

    def resources(self, type_: str) -> dict[str, Any]:
        return dict(self.template.find_resources(type_))


_SYNTHS: list[Synth] = []


def synthesize(work: Path) -> Synth:
    """The default stack (CLOUD_JWT, a private mirror allowed) synthesized under ``work``; once per process, then the
    same one: the infra tests and the IAM check at the session's end (tests/iam/plugin.py) share it."""
    if not _SYNTHS:
        port = free_port()  # the rehearsal's file server takes it later
        # As an operator allows a private mirror (-c app_env=...): the rehearsal's task import fetches from 127.0.0.1.
        mirror = {"IMPORT_ALLOWED_HOSTS": "127.0.0.1", "IMPORT_ALLOWED_PORTS": f"80,443,{port}"}
        _SYNTHS.append(_synth(work, {**CLOUD_JWT, "app_env": mirror}, port))
    return _SYNTHS[0]


def _synth(work: Path, context: dict[str, Any], web_port: int = 0) -> Synth:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.cdk_app import build

    cwd = os.getcwd()
    os.chdir(work)  # chalice's construct writes chalice.out/ into the working directory
    try:
        app = cdk.App(outdir=str(work / "cdk.out"), context=context)
        stack = build(app)
        assembly = app.synth()
    finally:
        os.chdir(cwd)
    artifact = assembly.get_stack_by_name(stack.stack_name)
    return Synth(stack, Template.from_stack(stack), Path(artifact.template_full_path), work / "cdk.out", web_port)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """One synth per run, shared with the IAM check at the session's end (tests/iam/plugin.py)."""
    return synthesize(tmp_path_factory.mktemp("cdk"))


@pytest.fixture(scope="session")
def data_plane_synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    yield _synth(tmp_path_factory.mktemp("cdk"), DATA_PLANE)


@pytest.fixture(scope="session")
def expanded(synth: Synth) -> dict[str, Any]:
    """The default template's resources after SAM's transform, as CloudFormation will create them."""
    from tests.infra.rehearsal.deploy import expand

    resources: dict[str, Any] = expand(synth.template.to_json())["Resources"]
    return resources

