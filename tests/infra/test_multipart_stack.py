"""What presigned multipart uploads need from the stack: the API role's S3 actions, the rule, the lifecycle rule."""
from __future__ import annotations

from chalicelib.domain.data import upload_key
from tests.infra.conftest import Synth

# CreateMultipartUpload, UploadPart (signed for the client) and CompleteMultipartUpload are s3:PutObject.
MULTIPART_OBJECT_ACTIONS = {"s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}


def test_the_api_role_may_run_a_multipart_upload_of_the_bucket(synth: Synth) -> None:
    """Judged by the IAM check's evaluator (tests/iam): the API function's role on an upload's key in staging/."""
    from tests.iam.policy import StackPolicies, allowed

    template = synth.template.to_json()
    policies = StackPolicies(template)
    statements = policies.statements(policies.role_of("APIHandler"))
    bucket = policies.arn({"Ref": synth.logical_id(synth.stack.bucket.node.default_child)})
    upload = f"arn:aws:s3:::{bucket.rsplit(':', 1)[-1]}/{upload_key('5b3c6f5e-1f7b-4a59-8f5f-0d7f9f3f2a11')}"
    assert all(allowed(statements, action, upload) for action in MULTIPART_OBJECT_ACTIONS), upload


def test_incomplete_multipart_uploads_are_aborted_by_the_bucket(synth: Synth) -> None:
    props = synth.template.to_json()["Resources"][synth.logical_id(synth.stack.bucket.node.default_child)]["Properties"]
    rules = props["LifecycleConfiguration"]["Rules"]
    aborting = [r for r in rules if r.get("Status") == "Enabled" and "AbortIncompleteMultipartUpload" in r]
    # Whole bucket (no prefix or filter): an upload whose image record never named it goes too.
    assert any("Prefix" not in r and "Filter" not in r for r in aborting), rules
    assert all(r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] <= 7 for r in aborting)


def test_a_completed_multipart_upload_reaches_the_trigger(synth: Synth) -> None:
    # S3 reports CompleteMultipartUpload as "Object Created" (detail.reason says which): the rule must not
    # narrow it to PutObject.
    [rule] = [r for logical, r in synth.resources("AWS::Events::Rule").items() if logical.startswith("ImportOnObjectCreated")]
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["Object Created"] and "reason" not in pattern["detail"]
