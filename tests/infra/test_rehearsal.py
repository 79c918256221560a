"""Deploy rehearsal (issue 17): the synthesized stack created by the emulator's CloudFormation, then used.

The service is configured only from what the stack made: the function environments as the
emulator's CloudFormation resolved them (physical table, bucket and machine names) and the
stack's outputs. Requests enter through the API handler's entry point (the template's
``Handler``) with the context API Gateway's authorizer would add; the state machine the
stack created runs its Lambda steps in-process (infra/local/lambda_hook.py); the bucket's
EventBridge events go through the stack's rule to its target function. What the emulator
cannot create or drops is listed in tests/infra/rehearsal.py, and checked to be a real gap.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest

from chalicelib import config as app_config
from chalicelib import wiring
from chalicelib.adapters.dynamo_models import TABLE_MODELS, table_schema, ttl_attribute
from chalicelib.domain.data import UPLOAD_PREFIX
from tests.images import qcow2
from tests.infra import rehearsal
from infra.local import lambda_hook
from infra.local.server import GatewayRouteMatcher
from tests.infra.conftest import Synth

pytestmark = pytest.mark.moto
# What the TOKEN authorizer hands API Gateway for a member of proj-a (chalicelib/api/authorizer.py).
ALICE = {"user_id": "alice", "project_id": "proj-a", "roles": "member,reader"}
FUNCTION_TYPE = "AWS::Lambda::Function"


@dataclass
class Rehearsal:
    stack: rehearsal.Deployed
    expanded: dict[str, Any]  # the template after the SAM transform
    assets: list[str]  # s3:// locations published
    # What the emulator had made of what the rehearsal emulates, before it did:
    ttl_before: dict[str, str]  # table logical id -> TTL status
    events_before: list[Any]  # the rule deliveries an upload raised
    executor_before: set[str]  # the executing backend's machines
    machines: dict[str, dict[str, Any]]  # ARN -> the stack's machine, as described
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (Lambda target ARN, event) from rules


@pytest.fixture(scope="module")
def deployed(synth: Synth, boto_session: Any) -> Iterator[Rehearsal]:
    from moto import mock_aws

    expanded = rehearsal.expand(json.loads(synth.template_path.read_text()))
    template, skipped = rehearsal.for_emulator(expanded)
    with mock_aws():
        account = boto_session.client("sts").get_caller_identity()["Account"]
        assets = rehearsal.publish_assets(boto_session, synth.outdir / f"{synth.stack.stack_name}.assets.json",
                                          account, "us-east-1")
        stack = rehearsal.create_stack(boto_session, synth.stack.stack_name, template, skipped)
        events: list[tuple[str, dict[str, Any]]] = []
        with rehearsal.lambda_targets_in_process(lambda arn, event: events.append((arn, event))):
            events_before = _probe_upload(stack, events)
            ttl_before = rehearsal.apply_dropped_properties(stack)
            machines, executor_before = rehearsal.move_machines_to_executor(stack)
            yield Rehearsal(stack, expanded, assets, ttl_before, events_before, executor_before, machines, events)


def _probe_upload(stack: rehearsal.Deployed, events: list[Any]) -> list[Any]:
    """The rule deliveries a PUT under the upload prefix raises in the bucket as the emulator made it (then removed)."""
    [bucket] = [stack.physical(k) for k, r in stack.template["Resources"].items()
                if r["Type"] == "AWS::S3::Bucket" and "NotificationConfiguration" in r["Properties"]]
    s3 = stack.client("s3")
    s3.put_object(Bucket=bucket, Key=f"{UPLOAD_PREFIX}probe", Body=b"x")
    s3.delete_object(Bucket=bucket, Key=f"{UPLOAD_PREFIX}probe")
    seen = list(events)
    events.clear()
    return seen


def _env(r: Rehearsal, logical: str) -> dict[str, str]:
    """A function's environment as Lambda gives it: the deployed variables plus the region Lambda sets."""
    variables = r.stack.function_config(logical).get("Environment", {}).get("Variables", {})
    return {**variables, "AWS_REGION": r.stack.region}


def _handler(r: Rehearsal, logical: str) -> Any:
    module, name = r.stack.function_config(logical)["Handler"].split(".")
    return getattr(importlib.import_module(module), name)


# -- the stack --------------------------------------------------------------------------------
def test_the_stack_comes_up_with_every_resource_but_the_listed_types(deployed: Rehearsal) -> None:
    from moto.cloudformation.parsing import get_model_map

    stack = deployed.stack
    assert stack.status == "CREATE_COMPLETE"
    # The functions' code is the asset published to the bootstrap bucket
    codes = {r["Properties"]["Code"]["S3Key"] for r in stack.template["Resources"].values() if r["Type"] == FUNCTION_TYPE}
    assert len(codes) == 1 and {f"/{key}" for key in codes} <= {a[a.rindex("/"):] for a in deployed.assets}
    # Every resource the emulator was given exists, and nothing was left out but the listed types
    assert set(stack.resources) == set(stack.template["Resources"])
    assert {r["ResourceStatus"] for r in stack.resources.values()} == {"CREATE_COMPLETE"}
    assert set(stack.template["Resources"]) | set(stack.skipped) == set(deployed.expanded["Resources"])
    assert set(stack.skipped.values()) == set(rehearsal.SKIPPED_TYPES)  # each listed type is in the template
    # Each listed type is still a gap: no moto model (or, for a Deployment, moto refuses it)
    models = get_model_map()
    assert [t for t in rehearsal.SKIPPED_TYPES if t in models] == ["AWS::ApiGateway::Deployment"]
    api = stack.client("apigateway")
    with pytest.raises(api.exceptions.BadRequestException, match="doesn't contain any methods"):
        api.create_deployment(restApiId=stack.physical("RestAPI"), stageName="api")
    # The outputs name what was made
    assert stack.outputs["APIHandlerName"] == stack.physical("APIHandler")
    assert stack.outputs["APIHandlerArn"].endswith(":function:" + stack.physical("APIHandler"))
    assert stack.outputs["RestAPIId"] == stack.physical("RestAPI")
    assert stack.outputs["EndpointURL"].startswith(f"https://{stack.physical('RestAPI')}.execute-api.")


def test_what_the_rehearsal_emulates_is_really_missing_from_the_emulator(deployed: Rehearsal) -> None:
    stack = deployed.stack
    assert deployed.ttl_before and set(deployed.ttl_before.values()) == {"DISABLED"}
    assert deployed.events_before == []  # no EventBridge notification until applied
    paths = {r["path"] for r in stack.client("apigateway").get_resources(restApiId=stack.physical("RestAPI"))["items"]}
    assert paths == {"/"}  # the REST API came up without the Swagger body's routes
    assert deployed.machines and not set(deployed.machines) & deployed.executor_before
    assert rehearsal.substitutions_ignored()


# -- what the stack made is what the code expects -------------------------------------------------
def test_every_function_gets_one_environment_that_settings_accepts(deployed: Rehearsal) -> None:
    functions = deployed.stack.of_type(FUNCTION_TYPE)
    envs = {logical: _env(deployed, logical) for logical in functions}
    # Every variable is one Settings declares (a misspelt name would be silently ignored)
    for logical, env in envs.items():
        assert set(env) - set(app_config.ENV) == set(), logical
        settings = app_config.Settings.from_env(env)
        assert settings.identity.auth_mode == "cloud" and settings.resources.endpoint_url is None
    assert len({json.dumps(env, sort_keys=True) for env in envs.values()}) == 1
    # Each function's log group (retention set by the stack) is the one Lambda writes to
    logs = deployed.stack.client("logs")
    groups = {g["logGroupName"]: g.get("retentionInDays") for g in logs.describe_log_groups(limit=50)["logGroups"]}
    for physical in functions.values():
        assert groups.get(f"/aws/lambda/{physical}") == 30, physical
    # And each Handler names the Chalice function of that logical id
    for logical in functions:
        assert callable(_handler(deployed, logical)), logical


def test_tables_indexes_and_ttl_are_the_models(deployed: Rehearsal) -> None:
    settings = app_config.Settings.from_env(_env(deployed, "APIHandler"))
    ddb = deployed.stack.client("dynamodb")
    names = settings.resources.table_names()
    assert set(names.values()) == set(deployed.stack.of_type("AWS::DynamoDB::Table").values())
    for role, model in TABLE_MODELS.items():
        table = ddb.describe_table(TableName=names[role])["Table"]
        schema = table_schema(model)
        assert table["KeySchema"] == schema["key_schema"], role
        assert sorted(table["AttributeDefinitions"], key=str) == sorted(schema["attribute_definitions"], key=str)
        made = {g["IndexName"]: (g["KeySchema"], g["Projection"]) for g in table.get("GlobalSecondaryIndexes", [])}
        assert made == {g["index_name"]: (g["key_schema"], g["projection"]) for g in schema["global_secondary_indexes"]}
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        ttl = ddb.describe_time_to_live(TableName=names[role])["TimeToLiveDescription"]
        expected = ttl_attribute(model)
        assert (ttl.get("AttributeName"), ttl["TimeToLiveStatus"]) == (
            (expected, "ENABLED") if expected else (None, "DISABLED")), role


def test_bucket_rule_and_machine_are_wired_to_the_functions(deployed: Rehearsal) -> None:
    stack = deployed.stack
    settings = app_config.Settings.from_env(_env(deployed, "APIHandler"))
    # The import rule matches the bucket's own name and targets the import trigger
    events = stack.client("events")
    rule = events.describe_rule(Name=stack.physical("ImportOnObjectCreated10AA0CA1"))
    pattern = json.loads(rule["EventPattern"])
    assert pattern["detail"]["bucket"]["name"] == [settings.resources.bucket]
    [target] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == stack.function_config("ImportTrigger")["FunctionArn"]
    assert stack.function_config("ImportTrigger")["Handler"] == "app.import_trigger"
    # The machine the functions start is the stack's, and its tasks are the step functions
    machine = settings.resources.import_state_machine_arn
    assert machine in deployed.machines
    sfn = stack.client("stepfunctions")
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=machine)["definition"])
    step_arns = {s["Resource"] for s in definition["States"].values() if s["Type"] == "Task"}
    handlers = {stack.function_config(k)["FunctionArn"]: stack.function_config(k)["Handler"]
                for k in stack.of_type(FUNCTION_TYPE)}
    assert {handlers[a] for a in step_arns} == {f"app.import_{s}" for s in
                                                ("begin", "fetch", "verify", "activate", "succeed", "fail")}


def test_the_bucket_lifecycle_expires_staged_data_and_never_image_data(deployed: Rehearsal) -> None:
    # The emulator drops LifecycleConfiguration (nothing expires there): the template's rules against the code's keys
    from chalicelib.domain.data import data_key, staging_key, upload_key

    stack = deployed.stack
    settings = app_config.Settings.from_env(_env(deployed, "APIHandler"))
    [logical] = [k for k, v in stack.of_type("AWS::S3::Bucket").items() if v == settings.resources.bucket]
    rules = stack.template["Resources"][logical]["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = [r.get("Prefix", "") for r in rules if r.get("ExpirationInDays") and r["Status"] == "Enabled"]
    with pytest.raises(stack.client("s3").exceptions.ClientError, match="NoSuchLifecycleConfiguration"):
        stack.client("s3").get_bucket_lifecycle_configuration(Bucket=settings.resources.bucket)
    image_id = "0b6f1c3e-9a4d-4c1b-8f2e-3d5a6b7c8d9e"
    assert not any(data_key(image_id).startswith(prefix) for prefix in expiring)
    assert all(any(key.startswith(p) for p in expiring) for key in (staging_key(image_id), upload_key(image_id)))


def _invokers(r: Rehearsal, logical: str) -> set[tuple[str, str]]:
    """(service principal, source ARN pattern) of each statement of the function's resource policy."""
    policy = json.loads(r.stack.client("lambda").get_policy(FunctionName=r.stack.physical(logical))["Policy"])
    return {(s["Principal"]["Service"], s["Condition"]["ArnLike"]["AWS:SourceArn"]) for s in policy["Statement"]}


def test_each_wired_caller_may_invoke_its_function(deployed: Rehearsal) -> None:
    stack = deployed.stack
    events = stack.client("events")
    functions = {stack.function_config(k)["FunctionArn"]: k for k in stack.of_type(FUNCTION_TYPE)}
    for rule in events.list_rules()["Rules"]:
        for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]:
            assert ("events.amazonaws.com", rule["Arn"]) in _invokers(deployed, functions[target["Arn"]])
    api = stack.outputs["RestAPIId"]
    assert {p for p, arn in _invokers(deployed, "APIHandler") if f":{api}/" in arn} == {"apigateway.amazonaws.com"}
    assert {p for p, arn in _invokers(deployed, "Authorizer") if f":{api}/authorizers/" in arn} == {
        "apigateway.amazonaws.com"}


def test_time_limits_of_the_settings_fit_the_functions_timeouts(deployed: Rehearsal) -> None:
    settings = app_config.Settings.from_env(_env(deployed, "ImportFetch"))
    # A web-download or task import's GET must end (and fail the import) before Lambda kills the step
    assert settings.locations.fetch_deadline_ms / 1000 < deployed.stack.function_config("ImportFetch")["Timeout"]
    api_timeout = deployed.stack.function_config("APIHandler")["Timeout"]
    assert settings.locations.probe_deadline_ms / 1000 < api_timeout


# -- the smoke test -------------------------------------------------------------------------------
class Gateway:
    """Requests into the API handler's entry point as API Gateway sends them, after the authorizer allowed them."""

    def __init__(self, handler: Any, app: Any, claims: dict[str, str]) -> None:
        from chalice.local import LambdaEventConverter

        self._handler, self._claims = handler, claims
        # API Gateway's route matching, as the local runner has it (infra/local/server.py)
        self._events = LambdaEventConverter(GatewayRouteMatcher(list(app.routes)), app.api.binary_types)

    def __call__(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        from chalice.local import LambdaContext
        from chalice.test import HTTPResponse

        raw = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
        sent = {"Accept": "application/json", "Content-Type": "application/json", **(headers or {})}
        event = self._events.create_lambda_event(method=method, path=path, headers=sent, body=raw)
        event["requestContext"]["authorizer"] = dict(self._claims)
        return HTTPResponse.create_from_dict(self._handler(event, LambdaContext("api_handler", 1024)))


def _wait(r: Rehearsal, machine: str, task_id: str, timeout: float = 20.0) -> dict[str, Any]:
    sfn = r.stack.client("stepfunctions")
    arn = machine.replace(":stateMachine:", ":execution:") + ":" + task_id
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"execution {task_id} still running"
        time.sleep(0.05)
    return dict(described)


@pytest.fixture
def service(deployed: Rehearsal, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    """The process as a Lambda of the stack sees it: only the function's environment, no container yet."""
    import app as app_module

    env = _env(deployed, "APIHandler")
    for name in set(app_config.ENV) - set(env):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    functions = deployed.stack.of_type(FUNCTION_TYPE)
    lambda_hook.install({physical: _handler(deployed, logical) for logical, physical in functions.items()})
    wiring.reset()  # the first request builds the container from that environment, as a cold start does
    try:
        yield Gateway(_handler(deployed, "APIHandler"), app_module.app, ALICE)
    finally:
        wiring.reset()


def test_smoke_create_upload_ranged_download_imports_and_delete(deployed: Rehearsal, service: Gateway) -> None:
    import requests

    stack = deployed.stack
    settings = app_config.Settings.from_env(_env(deployed, "APIHandler"))
    bucket, machine = settings.resources.bucket, str(settings.resources.import_state_machine_arn)
    s3, ddb = stack.client("s3"), stack.client("dynamodb")
    data = qcow2(padding=4096)
    octets = {"Content-Type": "application/octet-stream", "Accept": "*/*"}

    # Create and upload through the function
    made = service("POST", "/v2/images", {"name": "smoke", "disk_format": "qcow2", "container_format": "bare"})
    assert made.status_code == 201, made.body
    image = made.json_body
    assert service("PUT", f"/v2/images/{image['id']}/file", data, octets).status_code == 204
    assert wiring.container().settings == settings  # built from the function's environment alone
    shown = service("GET", f"/v2/images/{image['id']}").json_body
    assert shown["status"] == "active" and shown["checksum"] == hashlib.md5(data).hexdigest()
    assert s3.head_object(Bucket=bucket, Key=f"images/{image['id']}")["ContentLength"] == len(data)

    listed = service("GET", "/v2/images?sort_key=created_at").json_body["images"]  # a listing index of the table
    assert [i["id"] for i in listed] == [image["id"]]

    # A ranged download: redirected to the stack's bucket, which answers 206
    redirect = service("GET", f"/v2/images/{image['id']}/file", headers={"Accept": "*/*", "Range": "bytes=512-1023"})
    assert redirect.status_code == 302
    assert redirect.headers["Location"].startswith(f"https://{bucket}.s3.amazonaws.com/images/{image['id']}?")
    ranged = requests.get(redirect.headers["Location"], headers={"Range": "bytes=512-1023"}, timeout=10)
    assert ranged.status_code == 206 and ranged.content == data[512:1024]

    # glance-direct: staged data imported by the stack's state machine
    direct = service("POST", "/v2/images", {"name": "direct", "disk_format": "qcow2", "container_format": "bare"})
    direct_id = direct.json_body["id"]
    assert service("PUT", f"/v2/images/{direct_id}/stage", data, octets).status_code == 204
    assert service("POST", f"/v2/images/{direct_id}/import", {"method": {"name": "glance-direct"}}).status_code == 202
    [task] = service("GET", f"/v2/images/{direct_id}/tasks").json_body["tasks"]
    assert _wait(deployed, machine, task["id"])["status"] == "SUCCEEDED"
    assert service("GET", f"/v2/images/{direct_id}").json_body["status"] == "active"
    # The finished task carries the TTL attribute the table expires on (epoch seconds, in the future)
    ttl_name = ddb.describe_time_to_live(TableName=settings.resources.tasks_table)["TimeToLiveDescription"]["AttributeName"]
    item = ddb.get_item(TableName=settings.resources.tasks_table, Key={"id": {"S": task["id"]}})["Item"]
    assert int(item[ttl_name]["N"]) > time.time()

    # A presigned upload: S3 -> EventBridge (the stack's rule) -> import trigger -> the state machine
    uploaded = service("POST", "/v2/images", {"name": "upload", "disk_format": "qcow2", "container_format": "bare"})
    upload_id = uploaded.json_body["id"]
    ticket = service("POST", f"/v2/images/{upload_id}/upload-url", {}).json_body
    deployed.events.clear()
    put = requests.put(ticket["url"], data=data, headers=ticket["headers"], timeout=10)
    assert put.status_code == 200
    [(target, event)] = deployed.events  # the import rule matched; the schedule rule did not
    assert target == stack.function_config("ImportTrigger")["FunctionArn"]
    assert event["detail"]["bucket"]["name"] == bucket
    payload, errored, _ = lambda_hook.run_in_process(target.rsplit(":", 1)[-1], event)
    assert not errored, payload
    [upload_task] = service("GET", f"/v2/images/{upload_id}/tasks").json_body["tasks"]
    assert _wait(deployed, machine, upload_task["id"])["status"] == "SUCCEEDED"
    assert service("GET", f"/v2/images/{upload_id}").json_body["status"] == "active"

    # Delete: the record and its bytes go
    for image_id in (image["id"], direct_id, upload_id):
        assert service("DELETE", f"/v2/images/{image_id}").status_code == 204
        assert service("GET", f"/v2/images/{image_id}").status_code == 404
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_the_scheduled_scrubber_and_the_metadefs_loader_run_on_the_stack(deployed: Rehearsal, service: Gateway) -> None:
    stack = deployed.stack
    events = stack.client("events")
    [schedule] = [r for r in events.list_rules()["Rules"] if r.get("ScheduleExpression")]
    [target] = events.list_targets_by_rule(Rule=schedule["Name"])["Targets"]
    assert target["Arn"] == stack.function_config("ScrubImages")["FunctionArn"]
    scheduled = {"version": "0", "id": "5e1d0a3e-0000-4000-8000-000000000000", "detail-type": "Scheduled Event",
                 "source": "aws.events", "account": schedule["Arn"].split(":")[4], "time": "2026-01-01T00:00:00Z",
                 "region": stack.region, "resources": [schedule["Arn"]], "detail": {}}  # EventBridge's schedule event
    payload, errored, _ = lambda_hook.run_in_process(stack.physical("ScrubImages"), scheduled)
    assert not errored and json.loads(payload) == {"purged": []}, payload
    # load_metadefs (run once per deployment) fills the metadefs table the API then lists
    payload, errored, _ = lambda_hook.run_in_process(stack.physical("LoadMetadefs"), {})
    created = json.loads(payload)["created"]
    assert not errored and created, payload
    listed = service("GET", "/v2/metadefs/namespaces").json_body["namespaces"]
    assert {n["namespace"] for n in listed} >= set(created)
