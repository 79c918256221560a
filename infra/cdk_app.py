"""The CDK app: ``cdk deploy`` (cdk.json runs this) or ``make synth`` (template in cdk.out/).

Not ``infra/app.py``: Chalice imports the module named ``app``. Settings come from CDK context
(cdk.json, or ``-c stage=prod -c jwt_issuer=...``); see infra/stacks/settings.py.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script by the CDK CLI

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

STACK_PREFIX = "GlanceServerless"


def build(app: cdk.App) -> cdk.Stack:
    """Add the service stack for the context's stage to ``app``, with cdk-nag's AwsSolutions checks."""
    from app import app as chalice_app
    from chalicelib.adapters.dynamo_models import TABLE_MODELS
    from infra.stacks.service_stack import GlanceServiceStack
    from infra.stacks.settings import DeployConfig

    # Access logs delivered under a bucket policy, not the deprecated LogDeliveryWrite ACL.
    app.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
    deploy = DeployConfig.from_context(app.node.try_get_context)
    stack = GlanceServiceStack(app, f"{STACK_PREFIX}-{deploy.stage}", deploy=deploy, chalice_app=chalice_app,
                               table_models=TABLE_MODELS, env=stack_env(deploy))
    add_checks(app)
    return stack


def stack_env(deploy: Any) -> cdk.Environment | None:
    """Region-bound with the data plane (ELB access logs are delivered per region), else environment-agnostic."""
    if not deploy.data_plane:
        return None
    region = deploy.region or os.environ.get("CDK_DEFAULT_REGION")
    if not region:
        from chalicelib.config import ConfigError

        raise ConfigError("data_plane needs the stack's region: -c region=... or the CLI's default region")
    return cdk.Environment(region=region)


def add_checks(app: cdk.App) -> None:
    """cdk-nag's AwsSolutions pack as a policy-validation plugin: any unacknowledged finding fails synth."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def main() -> None:
    # cdk.json's context as defaults, so `make synth` (no CDK CLI) sees it too; the CLI's wins.
    defaults = json.loads((ROOT / "cdk.json").read_text()).get("context", {})
    app = cdk.App(context=defaults)
    build(app)
    app.synth()


if __name__ == "__main__":
    main()
