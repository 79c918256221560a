"""The synthesized stack wires every resource the code expects, from the code's own definitions."""
from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.adapters.dynamo_models import TABLE_MODELS, table_schema
from chalicelib.config import STATE_MACHINE_ENV, Settings
from infra.stacks.service_stack import logical_id
from infra.stacks.tables import table_env_var
from tests.infra.conftest import Synth

STEPS = ("import_begin", "import_hash", "import_fetch", "import_verify", "import_activate", "import_succeed",
         "import_fail")
FUNCTIONS = ("api_handler", "authorizer", "scrub_images", "import_trigger", *STEPS)


def _props(synth: Synth, logical: str) -> dict[str, Any]:
    return synth.template.to_json()["Resources"][logical]["Properties"]


@pytest.mark.parametrize("role", sorted(TABLE_MODELS))
def test_each_table_has_exactly_the_models_keys_and_indexes(synth: Synth, role: str) -> None:
    # Given the PynamoDB model's CreateTable shape
    schema = table_schema(TABLE_MODELS[role])
    # When the stack's table for that role is read from the template
    props = _props(synth, synth.logical_id(synth.stack.tables.tables[role]))
    # Then keys, attribute definitions and GSIs are the model's, nothing more or less
    assert props["KeySchema"] == schema["key_schema"]
    assert props["AttributeDefinitions"] == schema["attribute_definitions"]
    expected = [{"IndexName": g["index_name"], "KeySchema": g["key_schema"], "Projection": g["projection"]}
                for g in schema["global_secondary_indexes"]]
    assert props.get("GlobalSecondaryIndexes", []) == expected
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    # Only the tasks table expires rows (finished tasks, on their TTLAttribute)
    if role == "tasks":
        assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in props


def test_the_tasks_table_lists_by_owner_everyone_image_and_status(synth: Synth) -> None:
    props = _props(synth, synth.logical_id(synth.stack.tables.tables["tasks"]))
    keys = {g["IndexName"]: [k["AttributeName"] for k in g["KeySchema"]] for g in props["GlobalSecondaryIndexes"]}
    assert keys == {
        "owner-created_at": ["owner", "s_created"],
        "all-created_at": ["everyone", "s_created"],
        "image-created_at": ["image_id", "s_created"],
        "owner-status": ["owner", "s_status"],
        "all-status": ["everyone", "s_status"],
    }


def test_the_images_table_carries_every_listing_index(synth: Synth) -> None:
    props = _props(synth, synth.logical_id(synth.stack.tables.tables["images"]))
    names = {g["IndexName"] for g in props["GlobalSecondaryIndexes"]}
    assert "pending-delete" in names and "owner-created_at" in names and len(names) == 17


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_function_environment_names_the_real_resources(synth: Synth, name: str) -> None:
    # Given a function of the Chalice app in the template
    env = _props(synth, logical_id(name))["Environment"]["Variables"]
    # Then each table variable is a Ref to that role's table, the bucket variable a Ref to the bucket
    for role, table in synth.stack.tables.tables.items():
        assert env[table_env_var(role)] == {"Ref": synth.logical_id(table)}
    assert env["IMAGES_BUCKET"] == {"Ref": synth.logical_id(synth.stack.bucket.node.default_child)}
    assert env["IMAGES_AUTH_MODE"] == "cloud"
    # And Settings.from_env accepts it as the function will (AWS_REGION comes from Lambda itself)
    concrete = {k: (v.get("Ref") or json.dumps(v) if isinstance(v, dict) else v) for k, v in env.items()}
    settings = Settings.from_env({**concrete, "AWS_REGION": "eu-west-1"})
    assert settings.resources.images_table == synth.logical_id(synth.stack.tables.tables["images"])
    assert settings.identity.stage == "test"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_function_uses_its_own_role_and_lambda_tracing(synth: Synth, name: str) -> None:
    props = _props(synth, logical_id(name))
    assert props["Role"] == {"Fn::GetAtt": [synth.logical_id(synth.stack.roles[name].node.default_child), "Arn"]}
    assert props["Tracing"] == "Active"


def test_the_import_machine_substitutions_resolve_to_the_chalice_functions(synth: Synth) -> None:
    # Given stepfunctions/import_image.asl.json naming ${import_begin} ... ${import_fail}
    [(logical, machine)] = synth.resources("AWS::StepFunctions::StateMachine").items()
    subs = machine["Properties"]["DefinitionSubstitutions"]
    # Then each resolves to the ARN of the Chalice function of that name, and nothing else is substituted
    assert subs == {name: {"Fn::GetAtt": [logical_id(name), "Arn"]} for name in STEPS}
    # And logging and tracing are on
    assert machine["Properties"]["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["Properties"]["TracingConfiguration"] == {"Enabled": True}
    # And the functions get its ARN under the variable Settings reads
    env = _props(synth, "APIHandler")["Environment"]["Variables"]
    assert STATE_MACHINE_ENV["import_image"] in env


def test_the_import_machine_may_invoke_exactly_its_steps(synth: Synth) -> None:
    policies = [p for p in synth.resources("AWS::IAM::Policy").values()
                if any("lambda:InvokeFunction" in json.dumps(s) for s in p["Properties"]["PolicyDocument"]["Statement"])]
    [policy] = policies
    text = json.dumps(policy)
    assert all(logical_id(name) in text for name in STEPS)
    assert "APIHandler" not in text and "Authorizer" not in text and "ImportTrigger" not in text


def test_objects_created_under_the_upload_prefix_go_to_the_import_trigger(synth: Synth) -> None:
    [rule] = synth.resources("AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "staging/imports/"}]
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": ["ImportTrigger", "Arn"]}


def _statements(synth: Synth) -> list[dict[str, Any]]:
    out = []
    for kind in ("AWS::IAM::Policy", "AWS::IAM::Role"):
        for res in synth.resources(kind).values():
            docs = [res["Properties"].get("PolicyDocument")] + [p["PolicyDocument"] for p in res["Properties"].get("Policies", [])]
            out += [s for d in docs if d for s in d["Statement"]]
    return out


# The only actions AWS accepts with no resource but "*".
UNNAMEABLE = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
              "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
              "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
              "logs:DescribeLogGroups"}


def test_no_iam_statement_allows_every_action_or_a_nameable_resource_as_star(synth: Synth) -> None:
    statements = _statements(synth)
    assert statements
    for s in statements:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        resources = s.get("Resource", [])
        resources = resources if isinstance(resources, list) else [resources]
        assert not any(a == "*" or a.endswith(":*") for a in actions), s
        if "*" in resources:
            assert set(actions) <= UNNAMEABLE, s


def _role_policy(synth: Synth, name: str) -> str:
    role_id = synth.logical_id(synth.stack.roles[name].node.default_child)
    return json.dumps([p for p in synth.resources("AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]])


def test_the_api_role_reads_and_writes_only_its_tables_and_bucket(synth: Synth) -> None:
    text = _role_policy(synth, "api_handler")
    for table in synth.stack.tables.tables.values():
        assert synth.logical_id(table) in text
    assert "dynamodb:Scan" not in text and "s3:PutBucketPolicy" not in text


@pytest.mark.parametrize("name", STEPS)
def test_no_import_step_may_start_an_import_or_touch_metadefs(synth: Synth, name: str) -> None:
    text = _role_policy(synth, name)
    assert "states:StartExecution" not in text
    assert synth.logical_id(synth.stack.tables.tables["metadefs"]) not in text


def test_buckets_block_public_access_and_require_tls(synth: Synth) -> None:
    buckets = synth.resources("AWS::S3::Bucket")
    assert len(buckets) == 2  # images and its access logs
    for props in (b["Properties"] for b in buckets.values()):
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    for policy in synth.resources("AWS::S3::BucketPolicy").values():
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_images_bucket_expires_staging_and_notifies_eventbridge(synth: Synth) -> None:
    props = _props(synth, synth.logical_id(synth.stack.bucket.node.default_child))
    rules = {r.get("Id"): r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["staging"]["Prefix"] == "staging/" and rules["staging"]["ExpirationInDays"] > 0
    assert props["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}


def test_cloud_mode_puts_the_token_authorizer_on_every_route(synth: Synth) -> None:
    auth = _props(synth, "RestAPI")["Auth"]
    authorizer = auth["Authorizers"][auth["DefaultAuthorizer"]]
    assert authorizer["FunctionArn"] == {"Fn::GetAtt": ["Authorizer", "Arn"]}
    assert authorizer["Identity"]["Header"] == "X-Auth-Token"


def test_after_the_sam_transform_every_api_method_requires_the_token_authorizer(expanded: dict[str, Any]) -> None:
    # SAM, not CDK, expands Chalice's API: run its transform as CloudFormation will.
    resources = expanded
    [api] = [r for r in resources.values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    operations = [(path, method, op) for path, methods in api["Properties"]["Body"]["paths"].items()
                  for method, op in methods.items() if isinstance(op, dict)]
    assert len(operations) > 100
    assert [(p, m) for p, m, op in operations if op.get("security") != [{"KeystoneOrJwt": []}]] == []
    permissions = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"]
    assert any(p["FunctionName"] == {"Fn::GetAtt": ["Authorizer", "Arn"]} and p["Principal"] == "apigateway.amazonaws.com"
               for p in permissions)


def test_alarms_cover_function_errors_and_failed_executions(synth: Synth) -> None:
    alarms = synth.resources("AWS::CloudWatch::Alarm").values()
    watched = {(a["Properties"]["MetricName"], json.dumps(a["Properties"].get("Dimensions"))) for a in alarms}
    for name in ("api_handler", "scrub_images"):
        assert ("Errors", json.dumps([{"Name": "FunctionName", "Value": {"Ref": logical_id(name)}}])) in watched
    assert any(metric == "ExecutionsFailed" for metric, _ in watched)


def test_the_code_asset_ships_every_module_with_bytecode_lambda_will_use(synth: Synth) -> None:
    import importlib.util
    import zipfile

    [asset] = [p for p in synth.outdir.glob("asset.*.zip")]
    with zipfile.ZipFile(asset) as archive:
        names = set(archive.namelist())
        sources = [n for n in names if n.endswith(".py")]
        assert "app.py" in sources and "chalicelib/wiring.py" in sources
        tag = importlib.util.cache_from_source("x.py").split("/")[-1][len("x."):]  # cpython-311.pyc
        for source in sources:
            folder, _, file = source.rpartition("/")
            compiled = f"{folder}/__pycache__/{file[:-3]}.{tag}".lstrip("/")
            assert compiled in names, source
            header = archive.read(compiled)[:8]
            # PEP 552: the magic of this interpreter, flags 0b01 (hash-based, not checked against the source)
            assert header[:4] == importlib.util.MAGIC_NUMBER and int.from_bytes(header[4:8], "little") == 1, source
