"""What IAM asks of each recorded call: the (action, resource ARN) pairs its role must allow.

The service authorization reference's rules for the operations the code uses; an operation not
listed here needs ``<prefix>:<Operation>`` on the resource its parameters name, which is IAM's rule
for most operations (and fails loudly against the roles when it is not).
"""
from __future__ import annotations

from typing import Any, Callable

from tests.iam.recorder import Call

Arn = Callable[[str], str]  # "${IMAGES_TABLE}" (a recorded resource) -> its ARN in the stack
Needs = list[tuple[str, str]]

PREFIX = {"dynamodb": "dynamodb", "s3": "s3", "stepfunctions": "states", "secretsmanager": "secretsmanager"}
S3_OBJECT = {
    "GetObject": "s3:GetObject", "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject", "CreateMultipartUpload": "s3:PutObject", "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject", "DeleteObject": "s3:DeleteObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload", "ListParts": "s3:ListMultipartUploadParts",
}
S3_BUCKET = {"ListObjectsV2": "s3:ListBucket", "ListObjects": "s3:ListBucket", "HeadBucket": "s3:ListBucket",
             "ListMultipartUploads": "s3:ListBucketMultipartUploads"}
TRANSACT = {"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem", "Delete": "dynamodb:DeleteItem",
            "ConditionCheck": "dynamodb:ConditionCheckItem", "Get": "dynamodb:GetItem"}


def needs(call: Call, arn: Arn) -> Needs:
    """The (action, ARN) pairs ``call`` needs, its resources resolved by ``arn``."""
    params = dict(call.params)
    return {"dynamodb": _dynamodb, "s3": _s3, "stepfunctions": _states}.get(call.service, _named)(call, params, arn)


def _dynamodb(call: Call, params: dict[str, Any], arn: Arn) -> Needs:
    op = call.operation
    if op in ("TransactWriteItems", "TransactGetItems"):
        return [(TRANSACT[kind], arn(dict(body)["TableName"])) for item in params["TransactItems"]
                for kind, body in item]
    if op in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{op}", arn(table)) for table in params["RequestItems"]]
    table = arn(params["TableName"])
    if params.get("IndexName"):
        table += f"/index/{params['IndexName']}"
    return [(f"dynamodb:{op}", table)]


def _s3(call: Call, params: dict[str, Any], arn: Arn) -> Needs:
    op, bucket = call.operation, arn(params["Bucket"])
    if op in S3_BUCKET:
        return [(S3_BUCKET[op], bucket)]
    if op == "DeleteObjects":
        return [("s3:DeleteObject", f"{bucket}/{key}") for key in params["Delete"]]
    if op in ("CopyObject", "UploadPartCopy"):
        return [("s3:GetObject", _copy_source(params["CopySource"], arn)), ("s3:PutObject", f"{bucket}/{params['Key']}")]
    action = S3_OBJECT.get(op, f"s3:{op}")
    return [(action, f"{bucket}/{params['Key']}" if "Key" in params else bucket)]


def _copy_source(source: Any, arn: Arn) -> str:
    if isinstance(source, tuple):  # {"Bucket": ..., "Key": ...}, recorded as sorted pairs
        parts = dict(source)
        return f"{arn(parts['Bucket'])}/{parts['Key']}"
    bucket, _, key = str(source).lstrip("/").partition("/")
    return f"{arn(bucket)}/{key}"


def _states(call: Call, params: dict[str, Any], arn: Arn) -> Needs:
    if "executionArn" in params:  # (the machine, the execution's name)
        machine, name = params["executionArn"]
        return [(f"states:{call.operation}", _execution(arn(machine), name))]
    return [(f"states:{call.operation}", arn(params["stateMachineArn"]))]


def _execution(machine_arn: str, name: str) -> str:
    return f"{machine_arn.replace(':stateMachine:', ':execution:')}:{name}"


def _named(call: Call, params: dict[str, Any], arn: Arn) -> Needs:
    named = [v for v in params.values() if isinstance(v, str)]
    return [(f"{PREFIX.get(call.service, call.service)}:{call.operation}", arn(named[0]) if named else "*")]
