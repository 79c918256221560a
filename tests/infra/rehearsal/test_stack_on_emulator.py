"""What the emulator's CloudFormation made of the template: everything but the listed types, wired as the code expects."""
from __future__ import annotations

import io
import json
import zipfile

import pytest

from chalicelib import config as app_config
from chalicelib.adapters.dynamo_models import TABLE_MODELS, table_schema, ttl_attribute
from tests.infra.conftest import ROOT
from tests.infra.rehearsal import deploy
from tests.infra.rehearsal.conftest import FUNCTION_TYPE, Rehearsal

pytestmark = pytest.mark.moto
API_GATEWAY_TIMEOUT = 29  # seconds: API Gateway's default integration timeout


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
    assert set(stack.skipped.values()) == set(deploy.SKIPPED_TYPES)  # each listed type is in the template
    # Each listed type is still a gap: no moto model (or, for a Deployment, moto refuses it)
    models = get_model_map()
    assert [t for t in deploy.SKIPPED_TYPES if t in models] == ["AWS::ApiGateway::Deployment"]
    api = stack.client("apigateway")
    with pytest.raises(api.exceptions.BadRequestException, match="doesn't contain any methods"):
        api.create_deployment(restApiId=stack.physical("RestAPI"), stageName="api")
    # The outputs name what was made
    assert stack.outputs["APIHandlerName"] == stack.physical("APIHandler")
    assert stack.outputs["LoadMetadefsName"] == stack.physical("LoadMetadefs")
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
    assert deploy.substitutions_ignored()


def test_the_code_asset_holds_every_handler_module_and_every_file_of_the_app(deployed: Rehearsal) -> None:
    # What Lambda unpacks: the published zip, read back from the bootstrap bucket
    [location] = [a for a in deployed.assets if a.endswith(".zip")]
    bucket, key = location[len("s3://"):].split("/", 1)
    body = deployed.stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    names = set(zipfile.ZipFile(io.BytesIO(body)).namelist())
    handlers = {deployed.stack.function_config(k)["Handler"] for k in deployed.stack.of_type(FUNCTION_TYPE)}
    assert {h.split(".")[0] + ".py" for h in handlers} <= names
    app_files = {str(p.relative_to(ROOT)) for p in (ROOT / "chalicelib").rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    assert app_files - names == set()  # data files too (the metadefs JSON the loader reads)


# -- what the stack made is what the code expects -------------------------------------------------
def test_every_function_gets_one_environment_that_settings_accepts(deployed: Rehearsal) -> None:
    functions = deployed.stack.of_type(FUNCTION_TYPE)
    envs = {logical: deployed.stack.env(logical) for logical in functions}
    # Every variable is one Settings declares (a misspelt name would be silently ignored)
    for logical, env in envs.items():
        assert set(env) - set(app_config.ENV) == set(), logical
        settings = app_config.Settings.from_env(env)
        assert settings.identity.auth_mode == "cloud" and settings.resources.endpoint_url is None
    assert len({json.dumps(env, sort_keys=True) for env in envs.values()}) == 1
    app_config.AuthSettings.from_env(envs["Authorizer"])  # the authorizer's provider has what it needs
    # Each function's log group (retention set by the stack) is the one Lambda writes to
    logs = deployed.stack.client("logs")
    groups = {g["logGroupName"]: g.get("retentionInDays") for g in logs.describe_log_groups(limit=50)["logGroups"]}
    for physical in functions.values():
        assert groups.get(f"/aws/lambda/{physical}") == 30, physical
    # And each Handler names the Chalice function of that logical id
    for logical in functions:
        assert callable(deployed.stack.handler(logical)), logical


def test_tables_indexes_and_ttl_are_the_models(deployed: Rehearsal) -> None:
    settings = app_config.Settings.from_env(deployed.stack.env("APIHandler"))
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
    settings = app_config.Settings.from_env(deployed.stack.env("APIHandler"))
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
                                                ("begin", "hash", "fetch", "verify", "activate", "succeed", "fail")}


def test_the_bucket_lifecycle_expires_staged_data_and_never_image_data(deployed: Rehearsal) -> None:
    # The emulator drops LifecycleConfiguration (nothing expires there): the template's rules against the code's keys
    from chalicelib.domain.data import data_key, staging_key, upload_key

    stack = deployed.stack
    settings = app_config.Settings.from_env(deployed.stack.env("APIHandler"))
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
    settings = app_config.Settings.from_env(deployed.stack.env("ImportFetch"))
    # A web-download or task import's GET must end (and fail the import) before Lambda kills the step
    assert settings.locations.fetch_deadline_ms / 1000 < deployed.stack.function_config("ImportFetch")["Timeout"]
    # A location's HEAD probe runs inside a request: within the function's timeout and API Gateway's 29 s
    api_timeout = deployed.stack.function_config("APIHandler")["Timeout"]
    assert settings.locations.probe_deadline_ms / 1000 < min(api_timeout, API_GATEWAY_TIMEOUT)
