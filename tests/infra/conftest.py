"""One in-process synth of the whole app per test session (cdk-nag runs as part of it)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

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

    def logical_id(self, element: Any) -> str:
        return str(self.stack.resolve(self.stack.get_logical_id(element)))

    def resources(self, type_: str) -> dict[str, Any]:
        return dict(self.template.find_resources(type_))


def _synth(tmp_path_factory: pytest.TempPathFactory, context: dict[str, Any]) -> Synth:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.cdk_app import build

    work = tmp_path_factory.mktemp("cdk")
    cwd = os.getcwd()
    os.chdir(work)  # chalice's construct writes chalice.out/ into the working directory
    try:
        app = cdk.App(outdir=str(work / "cdk.out"), context=context)
        stack = build(app)
        assembly = app.synth()
    finally:
        os.chdir(cwd)
    artifact = assembly.get_stack_by_name(stack.stack_name)
    return Synth(stack, Template.from_stack(stack), Path(artifact.template_full_path), work / "cdk.out")


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    yield _synth(tmp_path_factory, CLOUD_JWT)


@pytest.fixture(scope="session")
def data_plane_synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    yield _synth(tmp_path_factory, DATA_PLANE)


@pytest.fixture(scope="session")
def expanded(synth: Synth) -> dict[str, Any]:
    """The default template's resources after SAM's transform, as CloudFormation will create them."""
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    resources: dict[str, Any] = transform(synth.template.to_json(), {}, NoManagedPolicies())["Resources"]
    return resources
