"""cdk-nag AwsSolutions findings this design accepts, each acknowledged with its reason.

cdk-nag v3 reports through CDK's policy validation: an unacknowledged finding fails the synth.
"""
from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations

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


def acknowledge_scoped_wildcards(stack: Stack, table_ids: list[str], bucket_id: str) -> None:
    """Acknowledge the per-resource wildcards: all GSIs of each table, all objects of the bucket."""
    for table in table_ids:
        Validations.of(stack).acknowledge(Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::<{table}.Arn>/index/*]",
            reason="Query on every GSI of this one table: the listing indexes are generated from the model"))
    Validations.of(stack).acknowledge(Acknowledgment(
        id=f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]",
        reason="Objects of this one bucket; keys are image ids (images/<id>, staging/<id>) not known at deploy"))


def acknowledge_store_wildcards(stack: Stack, bucket_ids: list[str], bucket_names: list[str]) -> None:
    """The same for each further store's bucket: made by the stack (logical ids) or existing (names)."""
    reason = "Objects of this one store bucket; keys are image ids (images/<id>) not known at deploy"
    for bucket in bucket_ids:
        Validations.of(stack).acknowledge(Acknowledgment(id=f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/*]",
                                                         reason=reason))
    for name in bucket_names:
        Validations.of(stack).acknowledge(Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{name}/*]", reason=reason))
