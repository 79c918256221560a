"""The embedded emulator's guard: DynamoDB requests one at a time, and faults AWS's way at a seeded rate."""
from __future__ import annotations

import io
import threading
import time
from typing import Any, Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.adapters import aws_errors
from infra.local.emulator import Emulator, FaultPlan, guarded

NO_RETRIES = Config(retries={"mode": "standard", "max_attempts": 1})


def _draws(plan: FaultPlan, n: int = 400) -> list[str | None]:
    return [plan.dynamo("PutItem") for _ in range(n)]


def test_the_same_seed_fails_the_same_requests() -> None:
    first, second = FaultPlan(0.2, seed=7), FaultPlan(0.2, seed=7)
    first.enable()
    second.enable()
    assert _draws(first) == _draws(second)


def test_faults_come_at_about_the_rate_and_only_once_enabled() -> None:
    plan = FaultPlan(0.1, seed=3)
    assert set(_draws(plan)) == {None}  # not enabled yet: the runner still creates its resources
    plan.enable()
    fired = [d for d in _draws(plan, 4000) if d]
    assert 300 < len(fired) < 500 and set(fired) == {"conflict", "throttle", "internal"}  # "landed" only if asked
    assert sum(plan.injected.values()) == len(fired)


def test_reads_do_not_conflict_and_control_plane_calls_never_fail() -> None:
    plan = FaultPlan(1.0, seed=1)
    plan.enable()
    assert {plan.dynamo("GetItem") for _ in range(50)} <= {"throttle", "internal"}
    assert plan.dynamo("CreateTable") is None and plan.dynamo("DescribeTable") is None
    plan.enable(kinds={"conflict"})
    assert plan.dynamo("Query") is None and plan.dynamo("TransactWriteItems") == "conflict"


def test_a_rate_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError):
        FaultPlan(1.5)


def _environ(target: str = "", auth: str = "") -> dict[str, Any]:
    return {"HTTP_X_AMZ_TARGET": target, "HTTP_AUTHORIZATION": auth, "REQUEST_METHOD": "POST",
            "CONTENT_LENGTH": "0", "wsgi.input": io.BytesIO(b"")}


def test_dynamodb_requests_run_one_at_a_time_and_others_concurrently() -> None:
    running, peak = {"dynamo": 0, "s3": 0}, {"dynamo": 0, "s3": 0}
    lock = threading.Lock()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        kind = "dynamo" if environ["HTTP_X_AMZ_TARGET"] else "s3"
        with lock:
            running[kind] += 1
            peak[kind] = max(peak[kind], running[kind])
        time.sleep(0.02)
        with lock:
            running[kind] -= 1
        start_response("200 OK", [])
        return [b"{}"]

    serve = guarded(app, FaultPlan())
    calls = [_environ("DynamoDB_20120810.PutItem") for _ in range(8)]
    calls += [_environ(auth="Credential=x/20250101/us-east-1/s3/aws4_request") for _ in range(8)]
    workers = [threading.Thread(target=lambda e=e: list(serve(e, lambda *a: None))) for e in calls]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert peak == {"dynamo": 1, "s3": peak["s3"]} and peak["s3"] > 1


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    served = Emulator().start()
    kw = dict(region_name="us-east-1", endpoint_url=served.endpoint_url, aws_access_key_id="testing",
              aws_secret_access_key="testing")
    boto3.client("dynamodb", **kw).create_table(
        TableName="faults", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    boto3.client("s3", **kw).create_bucket(Bucket="faults-bucket")
    try:
        yield served
    finally:
        served.stop()


def _client(emulator: Emulator, service: str) -> Any:
    return boto3.client(service, region_name="us-east-1", endpoint_url=emulator.endpoint_url, config=NO_RETRIES,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _fails(emulator: Emulator, kind: str | None, call: Any, **enable: Any) -> ClientError:
    emulator.faults.enable(1.0, kinds=[kind] if kind else None, **enable)
    try:
        with pytest.raises(ClientError) as raised:
            call()
    finally:
        emulator.faults.disable()
    assert aws_errors.transient_detail(raised.value) is not None, "the service must take it for a transient fault"
    return raised.value


@pytest.mark.parametrize("kind,code,status", [("throttle", "ThrottlingException", 400),
                                              ("internal", "InternalServerError", 500),
                                              ("conflict", "TransactionConflictException", 400)])
def test_dynamodb_faults_reach_botocore_as_aws_sends_them(emulator: Emulator, kind: str, code: str, status: int) -> None:
    client = _client(emulator, "dynamodb")
    error = _fails(emulator, kind, lambda: client.put_item(TableName="faults", Item={"id": {"S": "x"}}))
    assert error.response["Error"]["Code"] == code
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert "Item" not in client.get_item(TableName="faults", Key={"id": {"S": "x"}})  # answered before moto


def test_a_landed_write_is_applied_and_still_answered_500(emulator: Emulator) -> None:
    client = _client(emulator, "dynamodb")
    error = _fails(emulator, "landed", lambda: client.put_item(TableName="faults", Item={"id": {"S": "landed"}}))
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert client.get_item(TableName="faults", Key={"id": {"S": "landed"}})["Item"] == {"id": {"S": "landed"}}


def test_a_conflicting_transaction_is_cancelled_with_a_reason_per_item(emulator: Emulator) -> None:
    client = _client(emulator, "dynamodb")
    items = [{"Put": {"TableName": "faults", "Item": {"id": {"S": k}}}} for k in ("a", "b")]
    error = _fails(emulator, "conflict", lambda: client.transact_write_items(TransactItems=items))
    assert error.response["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in error.response["CancellationReasons"]] == ["TransactionConflict", "None"]


def test_s3_slows_down_with_503(emulator: Emulator) -> None:
    client = _client(emulator, "s3")
    error = _fails(emulator, None, lambda: client.put_object(Bucket="faults-bucket", Key="k", Body=b"x"))
    assert error.response["Error"]["Code"] == "SlowDown"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 503
