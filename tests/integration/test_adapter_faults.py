"""Every adapter over moto, with AWS faults injected at botocore: each leaves as the one domain translation."""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from chalicelib.adapters.dynamo_images import DynamoImageRepository
from chalicelib.adapters.dynamo_members import DynamoMemberRepository
from chalicelib.adapters.dynamo_metadefs import DynamoMetadefRepository
from chalicelib.adapters.dynamo_models import ImageRecord, MemberRecord, MetadefRecord, TaskRecord
from chalicelib.adapters.dynamo_tasks import DynamoTaskRepository
from chalicelib.adapters.sfn_launcher import StepFunctionsLauncher
from chalicelib.domain.errors import (
    BackendFailure, ConcurrentUpdate, Duplicate, InvalidInput, NotFound, ServiceUnavailable, TransientFault,
)
from chalicelib.domain.images import Image, ImageStatus
from chalicelib.domain.members import Member, MemberNotFound
from chalicelib.domain.tasks import Task
from tests.faults import dynamo_client, inject

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
UPSTREAM = "<html>upstream secret</html>"


def image(**kw: Any) -> Image:
    base: dict[str, Any] = dict(id=str(uuid.uuid4()), owner="p", created_at=T0, updated_at=T0)
    base.update(kw)
    return Image(**base)


def task(**kw: Any) -> Task:
    base: dict[str, Any] = dict(id=str(uuid.uuid4()), type="import", owner="p", created_at=T0, updated_at=T0)
    base.update(kw)
    return Task(**base)


def clean(exc: pytest.ExceptionInfo[Any]) -> bool:
    return "secret" not in exc.value.message and "<html>" not in exc.value.message


# -- the injector itself ------------------------------------------------------------------------------------------

def test_the_injector_fails_only_the_calls_it_was_given(aws: Any) -> None:
    repo, first = DynamoImageRepository(), image(owner=None)
    with inject(dynamo_client(ImageRecord), "dynamodb.PutItem", code="ThrottlingException", times=1) as fault:
        with pytest.raises(TransientFault):
            repo.add(first)
        repo.add(first)  # spent: the second call reaches moto
    assert (fault.calls, fault.fired) == (2, 1)
    assert repo.get(first.id) == first


def test_a_removed_fault_no_longer_fires(aws: Any) -> None:
    fault = inject(dynamo_client(ImageRecord), "dynamodb.GetItem", code="ThrottlingException")
    fault.remove()
    with pytest.raises(NotFound):
        DynamoImageRepository().get("nope")
    assert fault.fired == 0


# -- images ---------------------------------------------------------------------------------------------------------

def test_images_a_throttled_put_is_transient(aws: Any) -> None:
    client = dynamo_client(ImageRecord)
    with inject(client, "dynamodb.PutItem", code="ThrottlingException", message=UPSTREAM) as fault:
        with pytest.raises(TransientFault, match="throttled") as caught:
            DynamoImageRepository().add(image(owner=None))
    assert fault.fired == 1 and clean(caught)


def test_images_a_conflicting_usage_transaction_is_transient_and_passes_on_retry(aws: Any) -> None:
    repo = DynamoImageRepository()
    stored = repo.add(image())
    client = dynamo_client(ImageRecord)
    with inject(client, "dynamodb.TransactWriteItems", code="TransactionCanceledException",
                reasons=["TransactionConflict", "None"], times=2) as fault:
        for _ in range(2):
            with pytest.raises(TransientFault, match="transaction conflict"):
                repo.save(replace(stored, size=5), expected=stored, usage_delta={"image_bytes": 5})
        saved = repo.save(replace(stored, size=5), expected=stored, usage_delta={"image_bytes": 5})
    assert fault.fired == 2 and saved.version == stored.version + 1
    assert repo.usage("p")["image_bytes"] == 5


def test_images_a_failed_condition_in_the_transaction_is_still_the_domain_conflict(aws: Any) -> None:
    repo = DynamoImageRepository()
    stored = repo.add(image())
    with inject(dynamo_client(ImageRecord), "dynamodb.TransactWriteItems", code="TransactionCanceledException",
                reasons=["ConditionalCheckFailed", "None"]):
        with pytest.raises(ConcurrentUpdate):
            repo.save(replace(stored, size=5), expected=stored, usage_delta={"image_bytes": 5})


def test_images_an_oversized_item_is_invalid_input_of_our_own(aws: Any) -> None:
    with inject(dynamo_client(ImageRecord), "dynamodb.PutItem", code="ValidationException",
                message="Item size has exceeded the maximum allowed size " + UPSTREAM):
        with pytest.raises(InvalidInput, match="too large to store") as caught:
            DynamoImageRepository().add(image(owner=None))
    assert clean(caught)


def test_images_a_read_that_cannot_connect_is_transient(aws: Any) -> None:
    with inject(dynamo_client(ImageRecord), "dynamodb.GetItem",
                exception=EndpointConnectionError(endpoint_url="http://secret:8000")):
        with pytest.raises(TransientFault, match="connection failed"):
            DynamoImageRepository().get("any")


def test_images_a_failing_listing_query_is_translated_when_iterated(aws: Any) -> None:
    repo = DynamoImageRepository()
    for n in range(3):
        gone = image(owner=None, status=ImageStatus.PENDING_DELETE, updated_at=T0 + timedelta(seconds=n))
        repo.add(gone)
    records = repo.iter_pending_delete(T0 + timedelta(days=1))
    with inject(dynamo_client(ImageRecord), "dynamodb.Query", code="AccessDeniedException", message=UPSTREAM):
        with pytest.raises(BackendFailure) as caught:
            next(records)
    assert caught.value.message == "The image service could not complete the request."


def test_images_usage_read_at_500_is_transient(aws: Any) -> None:
    from chalicelib.adapters.dynamo_models import UsageRecord

    with inject(dynamo_client(UsageRecord), "dynamodb.BatchGetItem", code="InternalServerError", status=500):
        with pytest.raises(TransientFault, match="backend error 500"):
            DynamoImageRepository().usage("p")


# -- members --------------------------------------------------------------------------------------------------------

def member(image_id: str) -> Member:
    return Member(image_id, "proj-b", "pending", T0, T0)


def test_members_a_denied_put_is_a_backend_failure(aws: Any) -> None:
    with inject(dynamo_client(MemberRecord), "dynamodb.PutItem", code="AccessDeniedException", status=400):
        with pytest.raises(BackendFailure):
            DynamoMemberRepository().add(member("i-1"))


def test_members_conditions_keep_their_domain_errors(aws: Any) -> None:
    repo = DynamoMemberRepository()
    repo.add(member("i-2"))
    with pytest.raises(Duplicate):
        repo.add(member("i-2"))
    with pytest.raises(MemberNotFound):
        repo.remove("i-2", "proj-c")


def test_members_throttled_listing_and_delete_are_transient(aws: Any) -> None:
    repo = DynamoMemberRepository()
    repo.add(member("i-3"))
    client = dynamo_client(MemberRecord)
    with inject(client, "dynamodb.Query", code="ProvisionedThroughputExceededException"):
        with pytest.raises(TransientFault):
            repo.list_for_image("i-3")
        with pytest.raises(TransientFault):
            repo.refresh_listing(image(id="i-3", visibility="shared"))
    with inject(client, "dynamodb.DeleteItem", code="ThrottlingException"):
        with pytest.raises(TransientFault):
            repo.remove("i-3", "proj-b")


def test_members_a_refresh_whose_update_fails_is_translated(aws: Any) -> None:
    repo = DynamoMemberRepository()
    repo.add(member("i-4"))
    with inject(dynamo_client(MemberRecord), "dynamodb.UpdateItem", code="ResourceNotFoundException"):
        with pytest.raises(BackendFailure):
            repo.refresh_listing(image(id="i-4", visibility="shared", version=3))


# -- metadefs -------------------------------------------------------------------------------------------------------

def test_metadefs_faults_are_translated_and_conditions_kept(aws: Any) -> None:
    repo = DynamoMetadefRepository()
    repo.put("ns", "namespace", "ns", {"namespace": "ns"}, create=True)
    with pytest.raises(Duplicate):
        repo.put("ns", "namespace", "ns", {"namespace": "ns"}, create=True)
    client = dynamo_client(MetadefRecord)
    with inject(client, "dynamodb.PutItem", code="ThrottlingException"):
        with pytest.raises(TransientFault):
            repo.put("ns", "property", "p", {"name": "p"}, create=True)
    with inject(client, "dynamodb.Query", code="InternalServerError", status=500):
        with pytest.raises(TransientFault):
            repo.namespace_items("ns")
        with pytest.raises(TransientFault):
            repo.delete_all("ns")
    with inject(client, "dynamodb.DeleteItem", code="AccessDeniedException"):
        with pytest.raises(BackendFailure):
            repo.delete("ns", "namespace", "ns")
    assert [kind for kind, _, _ in repo.namespace_items("ns")] == ["namespace"]


# -- tasks ----------------------------------------------------------------------------------------------------------

def test_tasks_faults_are_translated(aws: Any) -> None:
    repo = DynamoTaskRepository()
    stored = repo.add(task())
    client = dynamo_client(TaskRecord)
    with inject(client, "dynamodb.PutItem", code="ProvisionedThroughputExceededException", message=UPSTREAM):
        with pytest.raises(TransientFault) as caught:
            repo.save(stored, expected=stored)
    assert clean(caught)
    with inject(client, "dynamodb.PutItem", code="ValidationException", message=UPSTREAM):
        with pytest.raises(InvalidInput, match="The task cannot be stored: it breaks a storage limit."):
            repo.add(task())
    with inject(client, "dynamodb.Query", code="ThrottlingException"):
        with pytest.raises(TransientFault):
            list(repo.iter_owner("p", None, "asc", 10))
    with inject(client, "dynamodb.GetItem", code="AccessDeniedException"):
        with pytest.raises(BackendFailure):
            repo.get(stored.id)


def test_tasks_a_second_listing_page_that_fails_is_translated_mid_iteration(aws: Any) -> None:
    repo = DynamoTaskRepository()
    for n in range(3):
        repo.add(task(created_at=T0 + timedelta(seconds=n)))
    seen = []
    with inject(dynamo_client(TaskRecord), "dynamodb.Query", code="ThrottlingException", after=1) as fault:
        with pytest.raises(TransientFault):
            for found in repo.iter_owner("p", None, "asc", 1):
                seen.append(found)
    assert len(seen) == 1 and (fault.calls, fault.fired) == (2, 1)


# -- S3 -------------------------------------------------------------------------------------------------------------

def test_s3_faults_are_translated_and_a_missing_object_is_kept(aws: Any) -> None:
    store = aws.data.store
    store.put_stream("k", [b"data"])
    with inject(store.client, "s3.PutObject", code="SlowDown", status=503, message=UPSTREAM):
        with pytest.raises(TransientFault, match="throttled") as caught:
            store.put_stream("k2", [b"data"])
    assert clean(caught)
    with inject(store.client, "s3.HeadObject", code="403", status=403):
        with pytest.raises(BackendFailure):
            store.size("k")
    with inject(store.client, "s3.GetObject", code="InternalError", status=500):
        with pytest.raises(TransientFault, match="backend error 500"):
            list(store.iter_object("k"))
        with pytest.raises(TransientFault):
            store.get_range("k", 0, 1)
    with inject(store.client, "s3.DeleteObject", exception=EndpointConnectionError(endpoint_url="http://s3")):
        with pytest.raises(TransientFault, match="connection failed"):
            store.delete("k")
    assert store.size("missing") is None
    with pytest.raises(NotFound):
        list(store.iter_object("missing"))
    assert b"".join(store.iter_object("k")) == b"data"


# -- Step Functions -------------------------------------------------------------------------------------------------

def test_the_launcher_reports_throttling_as_transient_and_a_refusal_as_unavailable(
    aws: Any, boto_session: Any
) -> None:
    launcher = StepFunctionsLauncher(lambda: boto_session.client("stepfunctions"),
                                     "arn:aws:states:us-east-1:123456789012:stateMachine:gone")
    launcher._client = boto_session.client("stepfunctions")  # noqa: SLF001 - to register the fault on it
    with inject(launcher._client, "sfn.StartExecution", code="ThrottlingException"):  # noqa: SLF001
        with pytest.raises(TransientFault):
            launcher.start("x", {"task_id": "x"})
    with pytest.raises(ServiceUnavailable, match="could not be started") as caught:
        launcher.start("x", {"task_id": "x"})
    assert not isinstance(caught.value, TransientFault)
