"""The import pipeline on the emulator: the same ASL, Lambda functions run in-process, S3 -> EventBridge wiring.

What the CDK stack builds in AWS, built here from the same sources: each
``${import_*}`` placeholder of ``stepfunctions/*.asl.json`` becomes a moto
Lambda function of that Chalice name (run in-process by lambda_hook), the
state machine is created with the placeholders substituted, and the bucket
notifies ``import_trigger`` of objects created under the upload prefix.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from chalicelib.config import Settings
from chalicelib.domain.data import UPLOAD_PREFIX
from infra.local import lambda_hook
from infra.stacks import workflows

ROOT = Path(__file__).resolve().parents[2]
MACHINE = "import_image"
TRIGGER = "import_trigger"
ROLE = "glance-local-pipeline"


def enable_executor() -> None:
    """Switch moto's Step Functions backend to executing definitions (process-wide, for the embedded emulator)."""
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = {"execute_state_machine": True}


def _role(iam: Any) -> str:
    try:
        return str(iam.get_role(RoleName=ROLE)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                       "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]}}]}
        return str(iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(doc))["Role"]["Arn"])


def _function(client: Any, name: str, role: str, env: dict[str, str]) -> str:
    try:
        return str(client.get_function(FunctionName=name)["Configuration"]["FunctionArn"])
    except client.exceptions.ResourceNotFoundException:
        pass
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "# runs in-process: infra/local/lambda_hook.py\n")
    return str(client.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler=f"app.{name}",
                                      Code={"ZipFile": code.getvalue()}, Timeout=900,
                                      Environment={"Variables": env})["FunctionArn"])


def deploy(settings: Settings, session: Any, app: Any) -> str:
    """Create (or find) the functions, the state machine and the S3 trigger; returns the machine's ARN."""
    handlers = lambda_hook.chalice_handlers(app)
    lambda_hook.install(handlers)
    kw = dict(region_name=settings.resources.region, endpoint_url=settings.resources.endpoint_url)
    iam, lam, sfn = session.client("iam", **kw), session.client("lambda", **kw), session.client("stepfunctions", **kw)
    role = _role(iam)
    definition = workflows.load_definitions(ROOT / "stepfunctions")[MACHINE]
    arns = {name: _function(lam, name, role, {}) for name in workflows.placeholders(definition) if name in handlers}
    subs, _ = workflows.substitutions(MACHINE, definition, _Arns(arns), {})
    for key, value in subs.items():
        definition = definition.replace("${" + key + "}", value)
    machine = _machine(sfn, definition, role)
    _trigger(session, settings, _function(lam, TRIGGER, role, {}))
    return machine


class _Arns(dict):  # type: ignore[type-arg]
    """Function ARNs shaped as workflows.substitutions expects (``.function_arn``)."""

    def __init__(self, arns: dict[str, str]) -> None:
        super().__init__({name: type("Fn", (), {"function_arn": arn})() for name, arn in arns.items()})


def _machine(sfn: Any, definition: str, role: str) -> str:
    for machine in sfn.list_state_machines()["stateMachines"]:
        if machine["name"] == MACHINE:
            sfn.update_state_machine(stateMachineArn=machine["stateMachineArn"], definition=definition)
            return str(machine["stateMachineArn"])
    return str(sfn.create_state_machine(name=MACHINE, definition=definition, roleArn=role)["stateMachineArn"])


def _trigger(session: Any, settings: Settings, function_arn: str) -> None:
    # In AWS the bucket's events reach import_trigger through EventBridge (the CDK stack's rule);
    # moto's EventBridge cannot invoke Lambda targets, so here the bucket notifies the function
    # directly. The handler reads both event shapes (chalicelib/pipeline/steps.object_created).
    s3 = session.client("s3", region_name=settings.resources.region, endpoint_url=settings.resources.endpoint_url)
    s3.put_bucket_notification_configuration(Bucket=settings.resources.bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{
            "Id": "import-trigger", "LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": UPLOAD_PREFIX}]}},
        }]})


def resume(settings: Settings, session: Any, machine_arn: str) -> list[str]:
    """Start again the executions of the tasks a stop left unfinished; returns their ids.

    moto keeps no executions across a restart (infra/local/state.py keeps the tables only), so a task
    that was ``pending`` or ``processing`` would wait forever. Its execution, named by the task id,
    runs the same idempotent steps again and ends the task either way. A Scan, once, at start-up.
    """
    kw = dict(region_name=settings.resources.region, endpoint_url=settings.resources.endpoint_url)
    dynamodb, sfn = session.client("dynamodb", **kw), session.client("stepfunctions", **kw)
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=settings.resources.table_names()["tasks"], ProjectionExpression="id",
        FilterExpression="#s IN (:pending, :processing)", ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":pending": {"S": "pending"}, ":processing": {"S": "processing"}})
    resumed = []
    for page in pages:
        for item in page["Items"]:
            task_id = item["id"]["S"]
            sfn.start_execution(stateMachineArn=machine_arn, name=task_id, input=json.dumps({"task_id": task_id}))
            resumed.append(task_id)
    return resumed
