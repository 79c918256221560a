"""What presigned multipart uploads need from the stack: the API role's S3 actions, the rule, the lifecycle rule."""
from __future__ import annotations

from typing import Any

from tests.infra.conftest import Synth

# CreateMultipartUpload, UploadPart (signed for the client) and CompleteMultipartUpload are s3:PutObject.
MULTIPART_OBJECT_ACTIONS = {"s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}


def _actions_on(statements: list[dict[str, Any]], resource: Any) -> set[str]:
    found: set[str] = set()
    for s in statements:
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        if s["Effect"] == "Allow" and resource in resources:
            found |= set(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    return found


def test_the_api_role_may_run_a_multipart_upload_of_the_bucket(synth: Synth) -> None:
    resources = synth.template.to_json()["Resources"]
    role_id = resources["APIHandler"]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [s for p in synth.resources("AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    bucket_id = synth.logical_id(synth.stack.bucket.node.default_child)
    objects = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]}
    assert MULTIPART_OBJECT_ACTIONS <= _actions_on(statements, objects)


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
