"""The import trigger reads EventBridge's "Object Created" (AWS) and S3's own notification (local) alike."""
from __future__ import annotations

from chalicelib.pipeline.steps import created_objects


def test_eventbridge_object_created() -> None:
    event = {"source": "aws.s3", "detail-type": "Object Created", "detail": {
        "bucket": {"name": "b"}, "object": {"key": "staging/imports/abc", "eTag": "e1", "sequencer": "s1"}}}
    assert created_objects(event) == [("staging/imports/abc", "e1", "s1")]


def test_s3_notification_keys_are_url_decoded() -> None:
    event = {"Records": [{"s3": {"object": {"key": "staging/imports/a+b%2Bc", "eTag": "e", "sequencer": "q"}}},
                         {"s3": {"object": {"key": "staging/imports/d", "eTag": "f"}}}]}
    assert created_objects(event) == [("staging/imports/a b+c", "e", "q"), ("staging/imports/d", "f", "")]


def test_an_event_of_another_shape_reports_nothing() -> None:
    assert created_objects({"something": "else"}) == []


def test_eventbridge_object_created_by_a_completed_multipart_upload() -> None:
    # A presigned multipart upload's completion: the same event, with detail.reason saying how it was made.
    event = {"source": "aws.s3", "detail-type": "Object Created", "detail": {
        "bucket": {"name": "b"}, "reason": "CompleteMultipartUpload",
        "object": {"key": "staging/imports/abc", "size": 12582912, "eTag": "9b2cf535f27731c974343645a3985328-3",
                   "sequencer": "s2"}}}
    assert created_objects(event) == [("staging/imports/abc", "9b2cf535f27731c974343645a3985328-3", "s2")]
