"""Create the service's tables and bucket on an AWS endpoint (the emulator, or any you point at).

Tables come from the PynamoDB models' own schema, the same definitions the
code and the CDK stack use; existing resources are left alone.
"""
from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamo_models import BILLING_MODE, TABLE_MODELS, table_schema, ttl_attribute
from chalicelib.config import Settings


def _create_table_args(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    gsis = [
        {"IndexName": g["index_name"], "KeySchema": g["key_schema"], "Projection": g["projection"]}
        for g in schema["global_secondary_indexes"]
    ]
    args: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": schema["attribute_definitions"],
        "KeySchema": schema["key_schema"],
        "BillingMode": BILLING_MODE,
    }
    if gsis:
        args["GlobalSecondaryIndexes"] = gsis
    return args


def ensure_resources(settings: Settings, session: Any) -> list[str]:
    """Create missing tables and buckets (the image bucket and every store's, each in its region); returns what
    was created."""
    dynamodb = session.client("dynamodb", region_name=settings.resources.region, endpoint_url=settings.resources.endpoint_url)
    s3 = session.client("s3", region_name=settings.resources.region, endpoint_url=settings.resources.endpoint_url)
    existing = set(dynamodb.list_tables()["TableNames"])
    created = []
    names = settings.resources.table_names()
    for role, model in TABLE_MODELS.items():
        if names[role] not in existing:
            dynamodb.create_table(**_create_table_args(names[role], table_schema(model)))
            dynamodb.get_waiter("table_exists").wait(TableName=names[role])
            ttl = ttl_attribute(model)
            if ttl is not None:  # as the CDK stack does: finished tasks expire
                dynamodb.update_time_to_live(TableName=names[role],
                                             TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl})
            created.append(names[role])
    buckets = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    wanted = {settings.resources.bucket: settings.resources.region}
    for store in settings.catalog().s3():
        wanted.setdefault(store.bucket, store.region or settings.resources.region)
    for bucket, region in wanted.items():
        if bucket not in buckets:
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            session.client("s3", region_name=region, endpoint_url=settings.resources.endpoint_url).create_bucket(**kwargs)
            created.append(bucket)
    return created
