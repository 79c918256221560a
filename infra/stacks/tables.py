"""DynamoDB tables generated from the PynamoDB models: one source of truth for keys, GSIs and TTL.

Every model in ``TABLE_MODELS`` becomes a table, so a model added there (the tasks table of
the import pipeline) is deployed, granted and named in the Lambda environment without an edit
here. A model with a ``TTLAttribute`` gets DynamoDB TTL on that attribute.
"""
from __future__ import annotations

from typing import Any, Mapping

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct
from pynamodb.models import Model

from chalicelib import config as app_config
from chalicelib.adapters.dynamo_models import BILLING_MODE, table_schema, ttl_attribute


def table_env_var(role: str) -> str:
    """The Settings variable naming the table of ``role`` (declared once, in chalicelib.config)."""
    return app_config.TABLE_ENV[role]


def table_properties(model: type[Model]) -> dict[str, Any]:
    """CloudFormation key schema, attribute definitions and GSIs of ``model``, exactly as PynamoDB creates them."""
    schema = table_schema(model)
    props: dict[str, Any] = {
        "KeySchema": schema["key_schema"],
        "AttributeDefinitions": schema["attribute_definitions"],
    }
    gsis = [{"IndexName": g["index_name"], "KeySchema": g["key_schema"], "Projection": g["projection"]}
            for g in schema["global_secondary_indexes"]]
    if gsis:
        props["GlobalSecondaryIndexes"] = gsis
    if schema.get("local_secondary_indexes"):
        raise ValueError(f"{model.__name__}: local secondary indexes are not supported by this stack")
    return props


def _keys(schema: list[dict[str, str]]) -> list[dynamodb.CfnTable.KeySchemaProperty]:
    return [dynamodb.CfnTable.KeySchemaProperty(attribute_name=k["AttributeName"], key_type=k["KeyType"])
            for k in schema]


class ServiceTables(Construct):
    """One encrypted, point-in-time-recoverable table per model; retained and protected in production."""

    def __init__(self, scope: Construct, id: str, models: Mapping[str, type[Model]], production: bool) -> None:
        super().__init__(scope, id)
        self.tables: dict[str, dynamodb.CfnTable] = {}
        for role, model in models.items():
            props = table_properties(model)
            ttl = ttl_attribute(model)
            table = dynamodb.CfnTable(
                self, role.title(),
                key_schema=_keys(props["KeySchema"]),
                attribute_definitions=[dynamodb.CfnTable.AttributeDefinitionProperty(
                    attribute_name=a["AttributeName"], attribute_type=a["AttributeType"])
                    for a in props["AttributeDefinitions"]],
                global_secondary_indexes=[dynamodb.CfnTable.GlobalSecondaryIndexProperty(
                    index_name=g["IndexName"], key_schema=_keys(g["KeySchema"]),
                    projection=dynamodb.CfnTable.ProjectionProperty(
                        projection_type=g["Projection"]["ProjectionType"],
                        non_key_attributes=g["Projection"].get("NonKeyAttributes")))
                    for g in props.get("GlobalSecondaryIndexes", [])] or None,
                billing_mode=BILLING_MODE,
                point_in_time_recovery_specification=dynamodb.CfnTable.PointInTimeRecoverySpecificationProperty(
                    point_in_time_recovery_enabled=True),
                sse_specification=dynamodb.CfnTable.SSESpecificationProperty(sse_enabled=True),
                deletion_protection_enabled=production,
                time_to_live_specification=dynamodb.CfnTable.TimeToLiveSpecificationProperty(
                    attribute_name=ttl, enabled=True) if ttl else None,
            )
            table.apply_removal_policy(cdk.RemovalPolicy.RETAIN if production else cdk.RemovalPolicy.DESTROY)
            self.tables[role] = table

    def imported(self, role: str) -> dynamodb.ITable:
        """An L2 view of the table (for grants covering the table and its indexes)."""
        table = self.tables[role]
        return dynamodb.Table.from_table_attributes(self, f"{role.title()}Ref", table_arn=table.attr_arn,
                                                    grant_index_permissions=True)
