"""aws_errors: each AWS fault gets one domain answer, and no upstream text reaches a message."""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from pynamodb.exceptions import (
    DeleteError,
    DoesNotExist,
    GetError,
    PutError,
    QueryError,
    TransactWriteError,
    UpdateError,
    VerboseClientError,
)

from chalicelib.adapters import aws_errors
from chalicelib.adapters.aws_errors import translate, translated, translated_iter
from chalicelib.api.errors import status_for
from chalicelib.domain.errors import (
    BackendFailure, ConcurrentUpdate, DomainError, Duplicate, InvalidInput, NotFound, QuotaExceeded, TransientFault,
)

# What an emulator or proxy may answer: none of it may reach a message.
UPSTREAM = "<html><body>upstream secret table images-prod request 42</body></html>"


def client_error(code: str, status: int = 400, message: str = UPSTREAM, reasons: Sequence[str] | None = None,
                 operation: str = "PutItem") -> ClientError:
    """A botocore ClientError shaped as botocore parses a DynamoDB/S3 error answer."""
    response: dict[str, Any] = {"Error": {"Code": code, "Message": message},
                                "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": r, "Message": UPSTREAM} if r != "None" else {"Code": r}
                                           for r in reasons]
    return ClientError(response, operation)


def dynamo_error(kind: type[Exception], code: str, status: int = 400, message: str = UPSTREAM,
                 reasons: Sequence[str] | None = None) -> Any:
    """A PynamoDB exception as PynamoDB builds it: a VerboseClientError (Error only) chained to the ClientError."""
    raw = client_error(code, status, message, reasons)
    verbose = VerboseClientError({"Error": raw.response["Error"]}, "PutItem", {"table_name": "images-prod"},
                                 cancellation_reasons=[None if r == "None" else _reason(r) for r in reasons or ()])
    verbose.__cause__ = raw
    return kind(f"Failed: {verbose}", verbose)


def _reason(code: str) -> Any:
    from pynamodb.exceptions import CancellationReason

    return CancellationReason(code=code, message=UPSTREAM)


def assert_clean(error: DomainError) -> None:
    assert "secret" not in error.message and "<html>" not in error.message and "images-prod" not in error.message
    assert "secret" not in str(error)


# -- conditions: the caller's conflict ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", [PutError, UpdateError, DeleteError])
def test_a_failed_condition_is_the_callers_error(kind: type[Exception]) -> None:
    exc = dynamo_error(kind, "ConditionalCheckFailedException")
    result = translate(exc, on_condition=Duplicate(image_id="i-1"))
    assert isinstance(result, Duplicate) and result.message == "Image with identifier i-1 already exists!"


def test_a_failed_transaction_condition_names_the_failed_items() -> None:
    exc = dynamo_error(TransactWriteError, "TransactionCanceledException", reasons=["None", "ConditionalCheckFailed"])
    seen: list[tuple[int, ...]] = []

    def refused(failed: tuple[int, ...]) -> DomainError:
        seen.append(failed)
        return QuotaExceeded(what="image storage", limit=1)

    assert isinstance(translate(exc, on_condition=refused), QuotaExceeded)
    assert seen == [(1,)] and aws_errors.condition_failures(exc) == (1,)


def test_a_condition_wins_over_a_conflict_in_the_same_transaction() -> None:
    exc = dynamo_error(TransactWriteError, "TransactionCanceledException",
                       reasons=["ConditionalCheckFailed", "TransactionConflict"])
    assert isinstance(translate(exc, on_condition=ConcurrentUpdate(image_id="i")), ConcurrentUpdate)


def test_an_unexpected_failed_condition_is_a_backend_failure() -> None:
    assert isinstance(translate(dynamo_error(PutError, "ConditionalCheckFailedException")), BackendFailure)


# -- transient: retry me ------------------------------------------------------------------------------------------

TRANSIENT = [
    ("ThrottlingException", 400, "throttled"),
    ("ProvisionedThroughputExceededException", 400, "throttled"),
    ("RequestLimitExceeded", 400, "throttled"),
    ("TransactionConflictException", 400, "transaction conflict"),
    ("InternalServerError", 500, "backend error 500"),
    ("ServiceUnavailable", 503, "backend error 503"),
    ("SlowDown", 503, "throttled"),
    ("InternalError", 500, "backend error 500"),
    ("500", 500, "backend error 500"),  # an HTML page: botocore names the error by its status
    ("SomethingNew", 502, "backend error 502"),
]


@pytest.mark.parametrize(("code", "status", "detail"), TRANSIENT)
def test_transient_dynamo_faults_are_transient(code: str, status: int, detail: str) -> None:
    result = translate(dynamo_error(PutError, code, status), on_condition=Duplicate(image_id="i"))
    assert isinstance(result, TransientFault) and result.kwargs["detail"] == detail
    assert status_for(result) == 503
    assert_clean(result)


@pytest.mark.parametrize(("code", "status", "detail"), TRANSIENT)
def test_transient_botocore_faults_are_transient(code: str, status: int, detail: str) -> None:
    result = translate(client_error(code, status, operation="PutObject"))
    assert isinstance(result, TransientFault) and result.kwargs["detail"] == detail
    assert_clean(result)


@pytest.mark.parametrize(("reason", "detail"), [("TransactionConflict", "transaction conflict"),
                                                ("ThrottlingError", "throttled")])
def test_transient_cancellation_reasons_are_transient(reason: str, detail: str) -> None:
    exc = dynamo_error(TransactWriteError, "TransactionCanceledException", reasons=[reason, "None"])
    result = translate(exc, on_condition=ConcurrentUpdate(image_id="i"))
    assert isinstance(result, TransientFault) and result.kwargs["detail"] == detail
    assert_clean(result)


CONNECTION = [
    EndpointConnectionError(endpoint_url="http://secret:8000"),
    ConnectionClosedError(endpoint_url="http://secret:8000"),
    ReadTimeoutError(endpoint_url="http://secret:8000"),
    ConnectTimeoutError(endpoint_url="http://secret:8000"),
]


@pytest.mark.parametrize("fault", CONNECTION, ids=lambda f: type(f).__name__)
def test_connection_faults_are_transient_raw_or_wrapped(fault: Exception) -> None:
    for exc in (fault, PutError(f"Failed to put item: {fault}", fault), QueryError(f"Failed: {fault}", fault)):
        result = translate(exc)
        assert isinstance(result, TransientFault)
        assert result.kwargs["detail"] in ("connection failed", "timed out")
        assert_clean(result)


# -- refused for its shape: the caller's input ---------------------------------------------------------------------

def test_an_item_too_large_is_invalid_input_naming_the_limit() -> None:
    exc = dynamo_error(PutError, "ValidationException", message="Item size has exceeded the maximum allowed size")
    result = translate(exc, what="The task", on_condition=Duplicate(image_id="i"))
    assert isinstance(result, InvalidInput)
    assert result.message == "The task is too large to store (DynamoDB items are limited to 400 KB)."


def test_another_validation_refusal_is_invalid_input_without_upstream_text() -> None:
    result = translate(dynamo_error(PutError, "ValidationException"), what="The image metadata")
    assert isinstance(result, InvalidInput)
    assert result.message == "The image metadata cannot be stored: it breaks a storage limit."
    assert_clean(result)


def test_a_validation_error_in_a_transaction_is_invalid_input() -> None:
    exc = dynamo_error(TransactWriteError, "TransactionCanceledException", reasons=["ValidationError", "None"])
    assert isinstance(translate(exc, on_condition=Duplicate(image_id="i")), InvalidInput)


# -- everything else: a 500 with a neutral message -----------------------------------------------------------------

@pytest.mark.parametrize("exc", [
    dynamo_error(PutError, "AccessDeniedException"),
    dynamo_error(GetError, "ResourceNotFoundException"),
    dynamo_error(UpdateError, "UnknownThing"),
    client_error("AccessDenied", 403, operation="GetObject"),
    NoCredentialsError(),
    PutError("Failed", NoCredentialsError()),
], ids=["denied", "no-table", "unknown", "s3-denied", "no-credentials", "wrapped-no-credentials"])
def test_other_faults_are_a_neutral_backend_failure(exc: Exception) -> None:
    result = translate(exc, on_condition=Duplicate(image_id="i"))
    assert type(result) is BackendFailure and status_for(result) == 500
    assert result.message == "The image service could not complete the request."


def test_does_not_exist_stays_not_found() -> None:
    assert isinstance(translate(DoesNotExist()), NotFound)


# -- the wrappers ----------------------------------------------------------------------------------------------------

def test_translated_raises_the_domain_error_and_keeps_the_cause() -> None:
    fault = dynamo_error(PutError, "ThrottlingException")
    with pytest.raises(TransientFault) as caught:
        with translated("The task"):
            raise fault
    assert caught.value.__cause__ is fault


def test_translated_leaves_domain_errors_alone() -> None:
    with pytest.raises(Duplicate):
        with translated("The task"):
            raise Duplicate(image_id="i")


def test_a_query_failing_mid_iteration_is_translated() -> None:
    def pages() -> Iterator[int]:
        yield 1
        yield 2
        raise dynamo_error(QueryError, "ProvisionedThroughputExceededException")

    seen: list[int] = []
    with pytest.raises(TransientFault):
        for item in translated_iter(pages(), "The image listing"):
            seen.append(item)
    assert seen == [1, 2]


def test_a_consumers_own_error_is_not_translated() -> None:
    stream = translated_iter(iter([1, 2]), "The image listing")
    with pytest.raises(KeyError):
        for _ in stream:
            raise KeyError("mine")
