"""cdk-nag AwsSolutions findings this design accepts, each acknowledged with its reason.

cdk-nag v3 reports through CDK's policy validation: an unacknowledged finding fails the synth.
"""
from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations

from infra.stacks.grants import DATA

# finding id -> why it is acceptable here
STACK_ACKNOWLEDGED: dict[str, str] = {
    "AwsSolutions-IAM5[Resource::*]": (
        "X-Ray's PutTraceSegments/PutTelemetryRecords (Lambda and Step Functions tracing) and Step "
        "Functions' vended-log delivery actions accept no resource but '*'."
    ),
}



def suppress_justified(stack: Stack) -> None:
    """Acknowledge the justified findings on ``stack``; anything else cdk-nag reports fails the synth."""
    for finding, reason in STACK_ACKNOWLEDGED.items():
        Validations.of(stack).acknowledge(Acknowledgment(id=finding, reason=reason))


def acknowledge_scoped_wildcards(stack: Stack, table_ids: list[str], bucket_id: str, prefixes: list[str]) -> None:
    """Acknowledge the per-resource wildcards: all GSIs of each table, the objects under each key prefix."""
    for table in table_ids:
        Validations.of(stack).acknowledge(Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::<{table}.Arn>/index/*]",
            reason="Query on every GSI of this one table: the listing indexes are generated from the model"))
    for prefix in prefixes:
        Validations.of(stack).acknowledge(Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{prefix}*]",
            reason=f"Objects under {prefix or 'every prefix'} of this one bucket; keys end in image ids, "
                   "not known at deploy"))


def acknowledge_store_wildcards(stack: Stack, made: list[tuple[str, str]], existing: list[tuple[str, str]]) -> None:
    """The same for each further store's data: (logical id, key prefix) of a bucket the stack makes, (name, key
    prefix) of an existing one; the grants end in ``<prefix>images/*``."""
    reason = f"Objects under {DATA} of this one store bucket; keys end in image ids, not known at deploy"
    for bucket, prefix in made:
        Validations.of(stack).acknowledge(Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/{prefix}{DATA}*]", reason=reason))
    for name, prefix in existing:
        Validations.of(stack).acknowledge(Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{name}/{prefix}{DATA}*]", reason=reason))