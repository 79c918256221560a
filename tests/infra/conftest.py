"""One in-process synth of the whole app per test session (cdk-nag runs as part of it)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
}


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


_SYNTHS: list[Synth] = []


def synthesize(work: Path) -> Synth:
    """The stack synthesized under ``work`` (the CLOUD_JWT context); once per process, then the same one."""
    if _SYNTHS:
        return _SYNTHS[0]
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.cdk_app import build

    cwd = os.getcwd()
    os.chdir(work)  # chalice's construct writes chalice.out/ into the working directory
    try:
        app = cdk.App(outdir=str(work / "cdk.out"), context=CLOUD_JWT)
        stack = build(app)
        assembly = app.synth()
    finally:
        os.chdir(cwd)
    artifact = assembly.get_stack_by_name(stack.stack_name)
    _SYNTHS.append(Synth(stack, Template.from_stack(stack), Path(artifact.template_full_path), work / "cdk.out"))
    return _SYNTHS[0]


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """One synth per run, shared with the IAM check at the session's end (tests/iam/plugin.py)."""
    return synthesize(tmp_path_factory.mktemp("cdk"))
