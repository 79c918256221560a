"""The generic parts, on their own: tables from any model (TTL included), ASL substitutions, stage rules."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from pynamodb.attributes import TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.config import ConfigError, Settings
from infra.stacks import workflows
from infra.stacks.settings import DeployConfig
from chalicelib.adapters.dynamo_models import ttl_attribute
from infra.stacks.tables import ServiceTables, table_env_var
from tests.infra.conftest import FIXTURES


class TaskRecord(Model):
    """Shaped like the import pipeline's future tasks table: TTL on its expiry."""

    class Meta:
        table_name = "tasks"

    id = UnicodeAttribute(hash_key=True)
    expires = TTLAttribute(attr_name="expires_at_epoch", null=True)


def _template(models: dict[str, type[Model]], production: bool) -> dict:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    stack = cdk.Stack(cdk.App(), "T")
    ServiceTables(stack, "Tables", models, production)
    return Template.from_stack(stack).to_json()


def test_a_model_with_a_ttl_attribute_gets_ttl_on_that_attribute() -> None:
    assert ttl_attribute(TaskRecord) == "expires_at_epoch"
    [table] = _template({"tasks": TaskRecord}, production=False)["Resources"].values()
    assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expires_at_epoch", "Enabled": True}
    assert table_env_var("tasks") == "IMAGES_TASKS_TABLE" and table_env_var("images") == "IMAGES_TABLE"


def test_production_tables_are_retained_and_protected_others_are_not() -> None:
    [prod] = _template({"tasks": TaskRecord}, production=True)["Resources"].values()
    [dev] = _template({"tasks": TaskRecord}, production=False)["Resources"].values()
    assert prod["DeletionPolicy"] == "Retain" and prod["Properties"]["DeletionProtectionEnabled"] is True
    assert dev["DeletionPolicy"] == "Delete" and dev["Properties"]["DeletionProtectionEnabled"] is False


def test_definitions_are_every_asl_file_by_machine_name(tmp_path: Path) -> None:
    assert list(workflows.load_definitions(FIXTURES / "stepfunctions")) == ["import_fixture"]
    assert workflows.load_definitions(tmp_path / "absent") == {}


def test_placeholders_resolve_to_functions_then_values_and_unknown_ones_fail() -> None:
    class Fn:
        function_arn = "arn:aws:lambda:r:1:function:x"

    asl = '{"a": "${import_fetch}", "b": "${IMAGES_TABLE}", "c": "${import_fetch}"}'
    subs, invoked = workflows.substitutions("m", asl, {"import_fetch": Fn()}, {"IMAGES_TABLE": "t"})  # type: ignore[dict-item]
    assert subs == {"import_fetch": Fn.function_arn, "IMAGES_TABLE": "t"} and len(invoked) == 1
    with pytest.raises(ValueError, match=r"\$\{import_verify\}"):
        workflows.substitutions("m", '{"a": "${import_verify}"}', {}, {})


def test_dev_mode_is_refused_in_production_at_synth_and_at_runtime() -> None:
    with pytest.raises(ConfigError, match="refused"):
        DeployConfig(stage="prod", auth_mode="dev").validate()
    env = {"AWS_REGION": "r", "IMAGES_TABLE": "t", "IMAGES_MEMBERS_TABLE": "m", "IMAGES_USAGE_TABLE": "u", "IMAGES_METADEFS_TABLE": "md", "IMAGES_TASKS_TABLE": "tk",
           "IMAGES_BUCKET": "b", "IMAGES_AUTH_MODE": "dev"}
    with pytest.raises(ConfigError, match="refused"):
        Settings.from_env({**env, "IMAGES_STAGE": "prod"})
    assert Settings.from_env({**env, "IMAGES_STAGE": "dev"}).identity.auth_mode == "dev"


def test_cloud_mode_needs_the_chosen_providers_settings() -> None:
    with pytest.raises(ConfigError, match="IMAGES_JWT_ISSUER"):
        DeployConfig(auth_mode="cloud", auth_provider="jwt").validate()
    with pytest.raises(ConfigError, match="IMAGES_KEYSTONE_SERVICE_SECRET"):
        DeployConfig(auth_mode="cloud", auth_provider="keystone", keystone_url="https://ks").validate()
    DeployConfig(auth_mode="cloud", auth_provider="keystone", keystone_url="https://ks",
                 keystone_service_secret_arn="arn:aws:secretsmanager:r:1:secret:s").validate()


def test_context_values_are_typed() -> None:
    ctx = {"stage": "prod", "auth_mode": "cloud", "auth_provider": "keystone", "keystone_url": "https://ks",
           "keystone_service_secret_arn": "arn:s", "app_only_package": "true", "authorizer_cache_seconds": "0",
           "app_env": '{"IMAGES_DELAYED_DELETE": "true"}'}
    deploy = DeployConfig.from_context(ctx.get)
    assert deploy.production and deploy.app_only_package is True and deploy.authorizer_cache_seconds == 0
    assert deploy.app_env == {"IMAGES_DELAYED_DELETE": "true"}


def test_the_import_rule_sends_object_created_under_the_prefix_to_the_trigger() -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk.assertions import Template

    from infra.stacks.service_stack import IMPORT_TRIGGER_PREFIX, import_rule

    stack = cdk.Stack(cdk.App(), "T")
    # An ARN in the stack's own account, as Chalice's get_function gives (Fn::GetAtt)
    arn = stack.format_arn(service="lambda", resource="function", resource_name="trig",
                           arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
    fn = lambda_.Function.from_function_arn(stack, "F", arn)
    import_rule(stack, "the-bucket", fn)
    resources = Template.from_stack(stack).to_json()["Resources"]
    [rule] = [r for r in resources.values() if r["Type"] == "AWS::Events::Rule"]
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.s3"], "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["the-bucket"]}, "object": {"key": [{"prefix": IMPORT_TRIGGER_PREFIX}]}}}
    assert "trig" in json.dumps(rule["Properties"]["Targets"][0]["Arn"])
    [permission] = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"]
    assert permission["Properties"]["Principal"] == "events.amazonaws.com"
    assert permission["Properties"]["SourceArn"] == {"Fn::GetAtt": [next(k for k, r in resources.items()
                                                                        if r["Type"] == "AWS::Events::Rule"), "Arn"]}
