"""cfn-lint and cdk-nag both pass on the synthesized template, and cdk-nag really can fail it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import ROOT, Synth


def test_cfn_lint_passes_on_the_synthesized_template(synth: Synth) -> None:
    # The template as CloudFormation receives it; what SAM expands is checked in test_stack.
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    done = subprocess.run([str(cfn_lint), str(synth.template_path)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_service_stack_synthesizes_under_cdk_nag(synth: Synth) -> None:
    # The session synth ran with the AwsSolutions plugin; it raises on any unacknowledged finding.
    assert synth.template_path.is_file()


def test_cdk_nag_fails_the_synth_of_a_non_compliant_stack(tmp_path: Path) -> None:
    # Given the same checks on an app whose bucket allows plain HTTP and keeps no access logs
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3

    from infra.cdk_app import add_checks

    app = cdk.App(outdir=str(tmp_path))
    s3.Bucket(cdk.Stack(app, "Bad"), "Open")
    add_checks(app)
    # When it is synthesized, then AwsSolutions findings fail it
    with pytest.raises(RuntimeError, match=r"AwsSolutions-S1|AwsSolutions-S10"):
        app.synth()
