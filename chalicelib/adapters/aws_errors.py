"""The one translation of AWS faults (DynamoDB through PynamoDB, S3, Step Functions) into domain errors.

Every adapter sends its PynamoDB and botocore exceptions through ``translate``
(or the ``translated`` / ``translated_iter`` wrappers), so the same fault gets
the same answer whichever table or bucket it came from:

- a failed condition: the caller's own conflict (Duplicate, ConcurrentUpdate, ...);
- throttling, transaction conflicts, 5xx and connection faults: ``TransientFault``
  (503), the one error the write path may retry;
- ``ValidationException`` (item too large, key too long): ``InvalidInput`` (400);
- anything else (denied, missing table, unknown): ``BackendFailure`` (500).

Messages are our own: the upstream message (an emulator's HTML page, table
names, request ids) is never copied into them; it stays on ``__cause__`` and
in the log.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, TypeVar, Union

# botocore ships no type hints and botocore-stubs is not a dependency; this is the one module importing it.
from botocore.exceptions import (  # type: ignore[import-untyped]  # see above
    BotoCoreError,
    ClientError,
    ConnectionError as BotoConnectionError,
    HTTPClientError,
    ReadTimeoutError,
)
from pynamodb.exceptions import DoesNotExist, PynamoDBException

from chalicelib.domain.errors import BackendFailure, DomainError, InvalidInput, NotFound, TransientFault

T = TypeVar("T")
# Failed positions: the transaction items whose condition failed (0 for a single write).
ConditionHandler = Callable[[tuple[int, ...]], DomainError]
OnCondition = Union[DomainError, ConditionHandler]

# Everything an AWS call made by an adapter can raise.
AWS_FAULTS: tuple[type[Exception], ...] = (PynamoDBException, ClientError, BotoCoreError)

CONDITION_FAILED = "ConditionalCheckFailedException"
_CONDITION_REASON = "ConditionalCheckFailed"
_TRANSACTION_CANCELED = "TransactionCanceledException"
_VALIDATION = "ValidationException"
_VALIDATION_REASONS = frozenset({"ValidationError", "ItemCollectionSizeLimitExceeded"})
# Error codes (DynamoDB, S3, Step Functions) and cancellation reasons that may pass: code -> detail.
_TRANSIENT = {
    "TransactionConflictException": "transaction conflict",
    "TransactionConflict": "transaction conflict",
    "ThrottlingException": "throttled",
    "ThrottlingError": "throttled",
    "Throttling": "throttled",
    "ProvisionedThroughputExceededException": "throttled",
    "ProvisionedThroughputExceeded": "throttled",
    "RequestLimitExceeded": "throttled",
    "TooManyRequestsException": "throttled",
    "SlowDown": "throttled",
    "RequestTimeout": "timed out",
    "InternalServerError": "backend error",
    "InternalError": "backend error",
    "ServiceUnavailable": "backend error",
}
_MAX_ITEM = "(DynamoDB items are limited to 400 KB)"
_log = logging.getLogger(__name__)


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a PynamoDB or botocore exception (None for connection faults)."""
    cause = _client_error(exc)
    if cause is None:
        return None
    code = cause.response.get("Error", {}).get("Code")
    return None if code is None else str(code)


def condition_failures(exc: BaseException) -> tuple[int, ...]:
    """Positions whose condition failed: ``(0,)`` for a single write, the items' for a transaction, else ()."""
    code = error_code(exc)
    if code == CONDITION_FAILED:
        return (0,)
    if code != _TRANSACTION_CANCELED:
        return ()
    return tuple(i for i, reason in enumerate(_reasons(exc)) if reason == _CONDITION_REASON)


def translate(
    exc: BaseException, *, what: str = "The request", action: str = "stored", on_condition: OnCondition | None = None
) -> DomainError:
    """The domain error for an AWS fault; ``what``/``action`` word a storage-limit refusal ("The task", "stored").

    ``on_condition`` is the caller's answer to a failed condition: an error, or a
    function of the failed positions. TransientFault means "retry me".
    """
    if isinstance(exc, DoesNotExist):
        return NotFound("The requested item does not exist.")
    failed = condition_failures(exc)
    if failed and on_condition is not None:
        return on_condition if isinstance(on_condition, DomainError) else on_condition(failed)
    detail = transient_detail(exc)
    if detail is not None:
        return TransientFault(detail=detail)
    if error_code(exc) == _VALIDATION or _VALIDATION_REASONS.intersection(_reasons(exc)):
        if _mentions_size(exc):
            return InvalidInput(f"{what} is too large to store {_MAX_ITEM}.")
        return InvalidInput(f"{what} cannot be {action}: it breaks a storage limit.")
    _log.warning("AWS fault not retried: %s (%s)", type(exc).__name__, error_code(exc), exc_info=exc)
    return BackendFailure()


def transient_detail(exc: BaseException) -> str | None:
    """A short neutral word when the fault may pass (throttled, transaction conflict, 5xx, connection), else None."""
    cause = exc.cause if isinstance(exc, PynamoDBException) else exc
    if isinstance(cause, ReadTimeoutError):
        return "timed out"
    if isinstance(cause, (BotoConnectionError, HTTPClientError)):
        return "connection failed"
    code = error_code(exc)
    if code is None:
        return None
    if code in _TRANSIENT:
        return _with_status(_TRANSIENT[code], _status(exc))
    for reason in _reasons(exc):
        if reason in _TRANSIENT:
            return _TRANSIENT[reason]
    status = _status(exc)
    if status is None and code.isdigit():  # an HTML error page: botocore names the error by its status
        status = int(code)
    if status is not None and status >= 500:
        return f"backend error {status}"
    return None


@contextmanager
def translated(what: str, *, action: str = "stored", on_condition: OnCondition | None = None) -> Iterator[None]:
    """Run the block; any AWS fault in it is raised as ``translate``'s domain error."""
    try:
        yield
    except AWS_FAULTS as exc:
        raise translate(exc, what=what, action=action, on_condition=on_condition) from exc


def translated_iter(items: Iterable[T], what: str) -> Iterator[T]:
    """``items`` (a lazy Query or BatchGet) with the AWS faults of every page fetch translated."""
    with translated(what, action="read"):
        iterator = iter(items)
    while True:
        with translated(what, action="read"):
            try:
                item = next(iterator)
            except StopIteration:
                return
        yield item  # outside the wrapper: a consumer's own errors are not ours to translate


def _client_error(exc: BaseException) -> Any:
    cause = exc.cause if isinstance(exc, PynamoDBException) else exc
    return cause if isinstance(cause, ClientError) else None


def _reasons(exc: BaseException) -> list[str | None]:
    """Cancellation reason codes of a cancelled transaction, one per item (None: not a reason)."""
    cause = _client_error(exc)
    reasons = getattr(cause, "cancellation_reasons", None)
    if reasons is not None:  # PynamoDB's, with the "None" ones as None
        return [None if r is None else r.code for r in reasons]
    raw = [] if cause is None else cause.response.get("CancellationReasons", [])
    return [None if r.get("Code") in (None, "None") else str(r["Code"]) for r in raw]


def _status(exc: BaseException) -> int | None:
    """The HTTP status: PynamoDB's VerboseClientError keeps only ``Error``, the original is its ``__cause__``."""
    cause = _client_error(exc)
    while cause is not None:
        status = cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status is not None:
            return int(status)
        cause = cause.__cause__ if isinstance(cause.__cause__, ClientError) else None
    return None


def _with_status(detail: str, status: int | None) -> str:
    return f"{detail} {status}" if detail == "backend error" and status is not None else detail


def _mentions_size(exc: BaseException) -> bool:
    cause = _client_error(exc)
    texts = [str(cause.response.get("Error", {}).get("Message") or "")] if cause is not None else []
    texts += [str(r.message or "") for r in getattr(cause, "cancellation_reasons", None) or [] if r is not None]
    return any("item size" in t.lower() or "too large" in t.lower() for t in texts)
