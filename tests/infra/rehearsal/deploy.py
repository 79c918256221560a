"""Deploy rehearsal: the synthesized template, SAM-expanded, created by the emulator's CloudFormation (moto).

What ``cdk deploy`` does, done against moto in-process: publish the file assets to the
bootstrap bucket, expand the SAM transform (aws-sam-translator, as CloudFormation and
cfn-lint do), create the stack. The emulator's CloudFormation cannot create every resource
type, and drops some properties of those it does create; both lists are below, each with
its reason, and the rehearsal test checks each entry is still a real gap (a moto upgrade
that closes one fails the test until the entry goes). Everything else must come up.
"""
from __future__ import annotations

import importlib
import inspect
import json
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from tests.sfn_waits import finished_execution

# Resource types the emulator's CloudFormation cannot create: left out of the stack, with why.
SKIPPED_TYPES = {
    "AWS::CloudWatch::Alarm": "moto's CloudFormation has no CloudWatch alarm resource",
    "AWS::S3::BucketPolicy": "moto's CloudFormation has no bucket policy resource (the TLS-only policies)",
    "AWS::ApiGateway::Stage": "moto's CloudFormation has no API Gateway stage resource",
    "AWS::ApiGateway::Deployment": "moto refuses to deploy a REST API without methods, and the RestApi it "
                                   "creates has none (see RestApi.Body below)",
}
# Properties or behaviour the emulator's CloudFormation drops from resources it creates: made up as noted.
EMULATED = {
    "AWS::ApiGateway::RestApi.Body": "ignored (moto imports only OpenAPI 3; Chalice writes Swagger 2), and Name "
                                     "is required: the API is created empty, named by the Body's title; the "
                                     "routes run in-process through the API handler's entry point (the Body's "
                                     "authorizer, binary media types and gateway responses: tests/infra/test_*)",
    "AWS::StepFunctions::StateMachine.DefinitionSubstitutions": "ignored: substituted into DefinitionString "
                                                                "(an Fn::Join) before the stack is created",
    "AWS::StepFunctions::StateMachine backend": "created in moto's non-executing Step Functions backend: "
                                                "re-created with the same name, definition and role in the "
                                                "executing one (as infra/local/pipeline.py creates its machine)",
    "AWS::DynamoDB::Table.TimeToLiveSpecification": "ignored: applied with UpdateTimeToLive",
    "AWS::S3::Bucket.NotificationConfiguration": "ignored: applied with PutBucketNotificationConfiguration",
    "AWS::S3::Bucket.LifecycleConfiguration": "ignored and not applied (the emulator expires nothing): the "
                                              "template's rules are checked against the keys the code writes",
    "AWS::Events::Rule Lambda targets": "moto's EventBridge cannot invoke a Lambda target (and matches a schedule "
                                        "rule to every event): a matching rule's Lambda targets run in-process",
    "AWS::Lambda::Function invocation": "moto runs code in Docker: an invocation runs the function's Handler "
                                        "(app.<name>) in-process, in a process holding the deployed environment "
                                        "(the same for every function, checked)",
    "AWS::IAM::Role policies": "created, not enforced (moto allows every call): issue 17's IAM check covers them",
}
BOOTSTRAP_VERSION = "/cdk-bootstrap/hnb659fds/version"  # the SSM parameter `cdk bootstrap` writes
_PLACEHOLDER = re.compile(r"(\$\{[A-Za-z0-9_]+\})")


def expand(template: dict[str, Any]) -> dict[str, Any]:
    """The template after its SAM transform, as CloudFormation runs it (no managed policies are looked up)."""
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # samtranslator spells ARNs for a region
    expanded: dict[str, Any] = transform(json.loads(json.dumps(template)), {}, NoManagedPolicies())
    return expanded


def for_emulator(expanded: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(the template the emulator is given, logical id -> type of each resource left out)."""
    template = json.loads(json.dumps(expanded))
    resources = template["Resources"]
    skipped = {k: v["Type"] for k, v in resources.items() if v["Type"] in SKIPPED_TYPES}
    for logical in skipped:
        del resources[logical]
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::ApiGateway::RestApi" and "Body" in props:
            props["Name"] = props.pop("Body")["info"]["title"]
        if resource["Type"] == "AWS::StepFunctions::StateMachine" and "DefinitionSubstitutions" in props:
            subs = props.pop("DefinitionSubstitutions")
            parts = [subs.get(piece[2:-1], piece) if _PLACEHOLDER.fullmatch(piece) else piece
                     for piece in _PLACEHOLDER.split(props["DefinitionString"])]
            props["DefinitionString"] = {"Fn::Join": ["", [p for p in parts if p != ""]]}
    return template, skipped


def publish_assets(session: Any, assets_manifest: Path, account: str, region: str) -> list[str]:
    """Upload each file asset to its destination, as ``cdk deploy`` does; the bootstrap bucket and version too."""
    session.client("ssm", region_name=region).put_parameter(Name=BOOTSTRAP_VERSION, Value="21", Type="String")
    s3 = session.client("s3", region_name=region)
    published = []
    for asset in json.loads(assets_manifest.read_text())["files"].values():
        for dest in asset["destinations"].values():
            bucket = dest["bucketName"].replace("${AWS::AccountId}", account).replace("${AWS::Region}", region)
            if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
                s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key=dest["objectKey"],
                          Body=(assets_manifest.parent / asset["source"]["path"]).read_bytes())
            published.append(f"s3://{bucket}/{dest['objectKey']}")
    return published


@dataclass
class Deployed:
    """A stack as the emulator's CloudFormation created it."""

    session: Any
    name: str
    region: str
    template: dict[str, Any]  # what the emulator was given
    skipped: dict[str, str]
    status: str
    outputs: dict[str, str]
    resources: dict[str, dict[str, Any]]  # logical id -> DescribeStackResources entry

    def client(self, service: str) -> Any:
        return self.session.client(service, region_name=self.region)

    def physical(self, logical: str) -> str:
        return str(self.resources[logical]["PhysicalResourceId"])

    def of_type(self, type_: str) -> dict[str, str]:
        """Logical id -> physical id of every created resource of ``type_``."""
        return {k: str(r["PhysicalResourceId"]) for k, r in self.resources.items() if r["ResourceType"] == type_}

    def function_config(self, logical: str) -> dict[str, Any]:
        """The deployed function's configuration (its environment as the emulator resolved it)."""
        config: dict[str, Any] = self.client("lambda").get_function(FunctionName=self.physical(logical))["Configuration"]
        return config

    def env(self, logical: str) -> dict[str, str]:
        """A function's environment as Lambda gives it: the deployed variables plus the region Lambda sets."""
        variables = self.function_config(logical).get("Environment", {}).get("Variables", {})
        return {**variables, "AWS_REGION": self.region}

    def handler(self, logical: str) -> Any:
        """The callable the function's ``Handler`` (module.attribute) names."""
        module, name = self.function_config(logical)["Handler"].split(".")
        return getattr(importlib.import_module(module), name)

    def wait(self, machine: str, execution: str, timeout: float = 20.0) -> dict[str, Any]:
        """The description of execution ``execution`` of ``machine`` once it stopped running."""
        return finished_execution(self.client("stepfunctions"), machine, execution, timeout)


class Gateway:
    """Requests into the API handler's entry point as API Gateway sends them, after the authorizer allowed them."""

    def __init__(self, handler: Any, app: Any, claims: dict[str, str], stage: str) -> None:
        from chalice.local import LambdaEventConverter

        from chalicelib.api.routing import GatewayRouteMatcher

        self._handler, self._claims, self._stage = handler, claims, stage
        # API Gateway's route matching, as the local runner has it
        self._events = LambdaEventConverter(GatewayRouteMatcher(list(app.routes)), app.api.binary_types)

    def __call__(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                 claims: dict[str, str] | None = None) -> Any:
        from chalice.local import LambdaContext
        from chalice.test import HTTPResponse

        raw = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
        sent = {"Accept": "application/json", "Content-Type": "application/json", **(headers or {})}
        event = self._events.create_lambda_event(method=method, path=path, headers=sent, body=raw)
        event["requestContext"].update(authorizer=dict(claims or self._claims), stage=self._stage)
        return HTTPResponse.create_from_dict(self._handler(event, LambdaContext("api_handler", 1024)))


def create_stack(session: Any, name: str, template: dict[str, Any], skipped: dict[str, str]) -> Deployed:
    """Create ``template`` as stack ``name`` (moto creates it within the call); the test judges the outcome."""
    cfn = session.client("cloudformation")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template),
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"])
    [stack] = cfn.describe_stacks(StackName=name)["Stacks"]
    resources = {r["LogicalResourceId"]: r for r in cfn.describe_stack_resources(StackName=name)["StackResources"]}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return Deployed(session, name, cfn.meta.region_name, template, skipped, stack["StackStatus"], outputs, resources)


def apply_dropped_properties(stack: Deployed) -> dict[str, Any]:
    """Apply what the emulator dropped (TTL, bucket notifications) from the template; each table's TTL before.

    (moto's GetBucketNotificationConfiguration never reports EventBridge: the test probes the bucket instead.)
    """
    before: dict[str, Any] = {}
    ddb, s3 = stack.client("dynamodb"), stack.client("s3")
    for logical, resource in stack.template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::DynamoDB::Table" and "TimeToLiveSpecification" in props:
            table = stack.physical(logical)
            before[logical] = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]["TimeToLiveStatus"]
            spec = props["TimeToLiveSpecification"]
            ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={
                "Enabled": spec["Enabled"], "AttributeName": spec["AttributeName"]})
        if resource["Type"] == "AWS::S3::Bucket" and "NotificationConfiguration" in props:
            bucket = stack.physical(logical)
            wanted = props["NotificationConfiguration"]
            if set(wanted) - {"EventBridgeConfiguration"}:
                raise NotImplementedError(f"{logical}: only EventBridge notifications are applied, not {sorted(wanted)}")
            config = {"EventBridgeConfiguration": {}} if wanted.get("EventBridgeConfiguration", {}).get(
                "EventBridgeEnabled") else {}
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    return before


def move_machines_to_executor(stack: Deployed) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Re-create each state machine (same name, definition, role) where moto executes it.

    Returns each machine's description and the machines the executing backend listed before.
    """
    from moto.core.config import default_user_config

    from infra.local import pipeline

    if default_user_config.get("stepfunctions", {}).get("execute_state_machine"):
        raise RuntimeError("the executor must be off while the stack is created (CloudFormation's backend)")
    sfn = stack.client("stepfunctions")
    machines = {arn: sfn.describe_state_machine(stateMachineArn=arn)
                for arn in stack.of_type("AWS::StepFunctions::StateMachine").values()}
    pipeline.enable_executor()  # process-wide until mock_aws exits (it restores moto's config)
    listed = {m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
    for arn, described in machines.items():
        made = sfn.create_state_machine(name=described["name"], definition=described["definition"],
                                        roleArn=described["roleArn"])
        if made["stateMachineArn"] != arn:
            raise RuntimeError(f"re-created {described['name']} under another ARN: {made['stateMachineArn']}")
    return machines, listed


def substitutions_ignored() -> bool:
    """True while moto's CloudFormation StateMachine takes no DefinitionSubstitutions (so for_emulator applies them)."""
    from moto.stepfunctions.models import StateMachine

    return "DefinitionSubstitutions" not in inspect.getsource(StateMachine.create_from_cloudformation_json)


Deliver = Callable[[str, dict[str, Any]], None]


@contextmanager
def lambda_targets_in_process(deliver: Deliver) -> Iterator[None]:
    """While open, an event a rule matches goes to ``deliver(function_arn, event)`` for each Lambda target.

    moto's ``Rule.send_to_targets`` raises NotImplementedError on a Lambda target (S3's notifier
    swallows it) and a schedule rule has an empty pattern, which moto matches to every event.
    Test-only, restored on exit; fails loudly if moto's Rule changes shape (moto is pinned).
    """
    from moto.events.models import Rule

    original = Rule.send_to_targets
    shape = list(inspect.signature(original).parameters)
    init = inspect.getsource(Rule.__init__)
    if shape[:2] != ["self", "original_event"] or not all(
            f"self.{name} =" in init for name in ("scheduled_expression", "state", "event_pattern", "targets")):
        raise RuntimeError("moto.events.models.Rule changed shape: update tests/infra/rehearsal/deploy.py")

    def send(self: Any, event: dict[str, Any], transform_input: bool = True) -> None:
        if self.scheduled_expression or self.state != "ENABLED" or not self.event_pattern.matches_event(event):
            return
        for target in self.targets:  # other kinds of target are not delivered (the stack has none)
            if ":lambda:" in target["Arn"] and ":function:" in target["Arn"]:
                deliver(target["Arn"], json.loads(json.dumps(event)))

    Rule.send_to_targets = send  # type: ignore[method-assign]
    try:
        yield
    finally:
        Rule.send_to_targets = original  # type: ignore[method-assign]
