"""The IAM check itself (tests/iam): it denies what a role lacks, and sees a call the code newly makes.

The check of the whole suite's calls runs at the session's end (tests/iam/plugin.py); these tests show
it can fail: a template with one action removed, a function making a call its role does not grant.
"""
from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import pytest

from chalicelib import wiring
from infra.stacks.service_stack import logical_id
from tests.iam.check import check, stack_functions
from tests.iam.plugin import judge, merge, worker_output
from tests.iam.policy import StackPolicies, allowed
from tests.iam.recorder import Call, Recording, recording_into
from tests.infra.conftest import Synth

GET_IMAGE = Call("api_handler", "dynamodb", "GetItem", (("TableName", "${IMAGES_TABLE}"),))
START_IMPORT = Call("api_handler", "stepfunctions", "StartExecution",
                    (("stateMachineArn", "${IMAGES_IMPORT_IMAGE_STATE_MACHINE_ARN}"),))


def _policies(synth: Synth, template: dict[str, Any] | None = None) -> StackPolicies:
    return StackPolicies(template or synth.template.to_json(), synth.stack.stack_name)


def _without(template: dict[str, Any], role: str, action: str) -> dict[str, Any]:
    """``template`` with ``action`` taken out of every statement of the policies attached to ``role``."""
    mutated = copy.deepcopy(template)
    for resource in mutated["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"]["Roles"]:
            for s in resource["Properties"]["PolicyDocument"]["Statement"]:
                actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
                s["Action"] = [a for a in actions if a != action] or ["none:Removed"]
    return mutated


def test_the_api_role_allows_reading_an_image_and_starting_an_import(synth: Synth) -> None:
    report = check(_policies(synth), Counter([GET_IMAGE, START_IMPORT]), stack_functions())
    assert report.denied == [] and report.checked == 2


def test_a_grant_no_call_used_is_listed_and_fails_a_whole_run(synth: Synth) -> None:
    report = check(_policies(synth), Counter([GET_IMAGE]), stack_functions())
    assert "api_handler: states:StartExecution on ${IMAGES_IMPORT_IMAGE_STATE_MACHINE_ARN}" in report.unexercised
    assert "import_succeed: dynamodb:PutItem on ${IMAGES_TASKS_TABLE}" in report.unexercised
    assert not report.failed(completeness=False) and report.failed(completeness=True)
    # A reason given for a grant that does not exist is stale, and listed too
    stale = check(_policies(synth), Counter([GET_IMAGE]), stack_functions(), {"api_handler: s3:PutBucketAcl on x": "?"})
    assert "api_handler: s3:PutBucketAcl on x is named in UNTESTED but not granted: remove it" in stale.unexercised


def test_removing_one_action_from_a_role_denies_the_call_that_needs_it(synth: Synth) -> None:
    # Given the API handler's role without dynamodb:GetItem
    policies = _policies(synth)
    role = policies.role_of(logical_id("api_handler"))
    mutated = _policies(synth, _without(synth.template.to_json(), role, "dynamodb:GetItem"))
    # When the call the API makes to show an image is judged
    report = check(mutated, Counter([GET_IMAGE, START_IMPORT]), stack_functions())
    # Then exactly that call is denied, on the images table's ARN
    table = synth.logical_id(synth.stack.tables.tables["images"])
    assert report.denied == [f"APIHandler: dynamodb:GetItem on arn:aws:dynamodb:us-east-1:123456789012:table/{table}"]
    assert report.failed(completeness=False)


def test_an_import_step_may_not_do_what_only_the_api_does(synth: Synth) -> None:
    # Starting an import is the API's; the steps run inside the execution and never start one
    step = Call("import_begin", START_IMPORT.service, START_IMPORT.operation, START_IMPORT.params)
    report = check(_policies(synth), Counter([step]), stack_functions())
    assert [d.split(" on ")[0] for d in report.denied] == ["ImportBegin: states:StartExecution"]


@pytest.mark.moto
def test_a_call_the_code_newly_makes_is_recorded_and_denied(synth: Synth, aws: wiring.Container) -> None:
    # Given a Lambda function of the app's kind (a Chalice @lambda_function) that calls something new
    import boto3
    from botocore.exceptions import ClientError
    from chalice import Chalice

    new = Chalice(app_name="iam-probe")

    @new.lambda_function(name="import_verify")
    def verify(event: Any, context: Any) -> Any:
        s3 = boto3.client("s3", region_name="us-east-1")
        return s3.get_bucket_policy_status(Bucket=aws.settings.resources.bucket)["ResponseMetadata"]["HTTPStatusCode"]

    # When it runs while the calls are recorded
    with recording_into(Recording()) as seen:
        with pytest.raises(ClientError, match="NoSuchBucketPolicy"):  # the call was made: that is what counts
            verify({}, None)
    # Then the call is attributed to import_verify, with the bucket named by its variable
    assert list(seen.calls) == [Call("import_verify", "s3", "GetBucketPolicyStatus", (("Bucket", "${IMAGES_BUCKET}"),))]
    # And the check denies it on the stack's bucket
    report = check(_policies(synth), seen.calls, stack_functions())
    bucket = synth.logical_id(synth.stack.bucket.node.default_child)
    assert report.denied == [f"ImportVerify: s3:GetBucketPolicyStatus on arn:aws:s3:::{bucket}"]


def test_under_xdist_the_controller_judges_every_workers_calls_on_the_workers_synth(synth: Synth) -> None:
    # Given two workers' recordings: one made only allowed calls, the other also one its role denies
    step = Call("import_begin", START_IMPORT.service, START_IMPORT.operation, START_IMPORT.params)
    first, second = Recording(Counter([GET_IMAGE, GET_IMAGE])), Recording(Counter([GET_IMAGE, START_IMPORT, step]))
    second.unattributed[("s3", "CreateBucket")] += 1
    # When each sends its record at its end (the second ran the infra tests: it has the default synth)
    # and the controller merges them
    merged = Recording()
    assert merge(merged, worker_output(first, deselected=0))[0] == 0
    deselected, template = merge(merged, worker_output(second, deselected=3))
    # Then the controller holds the union, counts summed, and the synth's template as that worker made it
    assert merged.calls == Counter({GET_IMAGE: 3, START_IMPORT: 1, step: 1})
    assert merged.unattributed == Counter({("s3", "CreateBucket"): 1}) and deselected == 3
    assert template == (synth.template.to_json(), synth.stack.stack_name)
    # And judging the union fails on the second worker's denied call, and on unused grants when complete
    failed, text = judge(merged.calls, completeness=False, template=template)
    assert failed and "ImportBegin: states:StartExecution on" in text
    failed, text = judge(Counter([GET_IMAGE, START_IMPORT]), completeness=True, template=template)
    assert failed and "Granted but no test made such a call" in text
    assert judge(Counter([GET_IMAGE, START_IMPORT]), completeness=False, template=template)[0] is False


def test_every_function_has_a_role_of_its_own(synth: Synth) -> None:
    policies = _policies(synth)
    roles = {logical: policies.role_of(logical) for logical in policies.functions()}
    assert len(set(roles.values())) == len(roles) > 5, roles


def test_the_evaluator_follows_iam_wildcards_case_and_explicit_deny() -> None:
    template = {"Resources": {
        "T": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
        "R": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyName": "p", "PolicyDocument": {
            "Statement": [
                {"Effect": "Allow", "Action": "DynamoDB:Get*", "Resource": {"Fn::GetAtt": ["T", "Arn"]}},
                {"Effect": "Allow", "Action": ["s3:GetObject"],
                 "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::b/images/?a*"}},
                {"Effect": "Deny", "Action": "s3:*", "Resource": {"Fn::Join": ["", ["arn:aws:s3:::b/images/", "xa-no"]]}},
            ]}}]}},
    }}
    statements = StackPolicies(template).statements("R")
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/T"
    assert allowed(statements, "dynamodb:GetItem", table)
    assert not allowed(statements, "dynamodb:GetItem", table + "/index/i")
    assert not allowed(statements, "dynamodb:PutItem", table)
    assert allowed(statements, "s3:GetObject", "arn:aws:s3:::b/images/xa1")
    assert not allowed(statements, "s3:GetObject", "arn:aws:s3:::b/images/a1")  # ? is exactly one character
    assert not allowed(statements, "s3:GetObject", "arn:aws:s3:::b/images/xa-no")  # the Deny wins
