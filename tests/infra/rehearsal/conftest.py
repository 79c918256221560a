"""The deploy rehearsal's stack, created once for the package on moto in-process (issue 17 item 2).

The service is configured only from what the stack made: the function environments as the
emulator's CloudFormation resolved them (physical table, bucket and machine names) and the
stack's outputs. Requests enter through the API handler's entry point (the template's
``Handler``) with the context API Gateway's authorizer would add; the state machine the
stack created runs its Lambda steps in-process (infra/local/lambda_hook.py); the bucket's
EventBridge events go through the stack's rule to its target function. What the emulator
cannot create or drops is listed in deploy.py, and checked to be a real gap.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest

from chalicelib import config as app_config
from chalicelib import wiring
from chalicelib.domain.data import UPLOAD_PREFIX
from infra.local import lambda_hook
from tests.infra.conftest import Synth
from tests.infra.rehearsal import deploy

# What the TOKEN authorizer hands API Gateway for a member of proj-a (chalicelib/api/authorizer.py).
ALICE = {"user_id": "alice", "project_id": "proj-a", "roles": "member,reader"}
FUNCTION_TYPE = "AWS::Lambda::Function"


@dataclass
class Rehearsal:
    stack: deploy.Deployed
    expanded: dict[str, Any]  # the template after the SAM transform
    assets: list[str]  # s3:// locations published
    # What the emulator had made of what the rehearsal emulates, before it did:
    ttl_before: dict[str, str]  # table logical id -> TTL status
    events_before: list[Any]  # the rule deliveries an upload raised
    executor_before: set[str]  # the executing backend's machines
    machines: dict[str, dict[str, Any]]  # ARN -> the stack's machine, as described
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (Lambda target ARN, event) from rules


@pytest.fixture(scope="package")
def deployed(synth: Synth, boto_session: Any) -> Iterator[Rehearsal]:
    from moto import mock_aws

    expanded = deploy.expand(json.loads(synth.template_path.read_text()))
    template, skipped = deploy.for_emulator(expanded)
    # The executor off while the stack is created (CloudFormation's backend; another test may have switched it on)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": False}}):
        account = boto_session.client("sts").get_caller_identity()["Account"]
        assets = deploy.publish_assets(boto_session, synth.outdir / f"{synth.stack.stack_name}.assets.json",
                                       account, "us-east-1")
        stack = deploy.create_stack(boto_session, synth.stack.stack_name, template, skipped)
        events: list[tuple[str, dict[str, Any]]] = []
        with deploy.lambda_targets_in_process(lambda arn, event: events.append((arn, event))):
            events_before = _probe_upload(stack, events)
            ttl_before = deploy.apply_dropped_properties(stack)
            machines, executor_before = deploy.move_machines_to_executor(stack)
            yield Rehearsal(stack, expanded, assets, ttl_before, events_before, executor_before, machines, events)


def _probe_upload(stack: deploy.Deployed, events: list[Any]) -> list[Any]:
    """The rule deliveries a PUT under the upload prefix raises in the bucket as the emulator made it (then removed)."""
    [bucket] = [stack.physical(k) for k, r in stack.template["Resources"].items()
                if r["Type"] == "AWS::S3::Bucket" and "NotificationConfiguration" in r["Properties"]]
    s3 = stack.client("s3")
    s3.put_object(Bucket=bucket, Key=f"{UPLOAD_PREFIX}probe", Body=b"x")
    s3.delete_object(Bucket=bucket, Key=f"{UPLOAD_PREFIX}probe")
    seen = list(events)
    events.clear()
    return seen


def _stage_name(r: Rehearsal) -> str:
    """The API Gateway stage the template deploys (a skipped type: read from the template)."""
    [stage] = [v["Properties"]["StageName"] for v in r.expanded["Resources"].values()
               if v["Type"] == "AWS::ApiGateway::Stage"]
    return str(stage)


@pytest.fixture
def service(deployed: Rehearsal, monkeypatch: pytest.MonkeyPatch) -> Iterator[deploy.Gateway]:
    """The process as a Lambda of the stack sees it: only the function's environment, no container yet."""
    import app as app_module

    env = deployed.stack.env("APIHandler")
    for name in set(app_config.ENV) - set(env):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    functions = deployed.stack.of_type(FUNCTION_TYPE)
    lambda_hook.install({physical: deployed.stack.handler(logical) for logical, physical in functions.items()})
    wiring.reset()  # the first request builds the container from that environment, as a cold start does
    try:
        yield deploy.Gateway(deployed.stack.handler("APIHandler"), app_module.app, ALICE, _stage_name(deployed))
    finally:
        wiring.reset()
