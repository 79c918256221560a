"""Inject AWS faults at the botocore level, under moto or anywhere a real client is used.

A ``before-call`` handler that returns ``(http_response, parsed)`` replaces the
HTTP call (and botocore's own retries), and botocore raises the ClientError
named in ``parsed`` exactly as it would for a real answer. So the adapter under
test sees real exceptions, wrapped by PynamoDB as in production::

    client = dynamo_client(ImageRecord)
    with inject(client, "dynamodb.TransactWriteItems", code="TransactionCanceledException",
                reasons=["TransactionConflict", "None"], times=2) as fault:
        repo.save(...)          # the first two TransactWriteItems fail, the third reaches moto
    assert fault.fired == 2
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Sequence

from botocore.awsrequest import AWSResponse

_ids = itertools.count()


def dynamo_client(model: Any) -> Any:
    """The botocore client behind a PynamoDB model (its connection's, built on first use and then kept)."""
    return model._get_connection().connection.client  # noqa: SLF001 - the one way to reach PynamoDB's client


@dataclass
class Fault:
    """One registered fault; ``fired`` counts the calls it failed. A context manager that removes it on exit."""

    client: Any
    event: str
    code: str | None
    message: str
    status: int
    reasons: Sequence[str] | None
    times: int | None
    exception: BaseException | None
    after: int = 0
    calls: int = 0
    fired: int = 0
    unique_id: str = field(default_factory=lambda: f"fault-{next(_ids)}")

    def __call__(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        self.calls += 1
        if self.calls <= self.after or (self.times is not None and self.fired >= self.times):
            return None  # not yet, or spent: the call goes through
        self.fired += 1
        if self.exception is not None:
            raise self.exception
        parsed: dict[str, Any] = {
            "Error": {"Code": self.code, "Message": self.message},
            "ResponseMetadata": {"HTTPStatusCode": self.status, "HTTPHeaders": {}, "RetryAttempts": 0},
        }
        if self.reasons is not None:
            parsed["CancellationReasons"] = [{"Code": r} if r == "None" else {"Code": r, "Message": r}
                                             for r in self.reasons]
        return AWSResponse("https://fault.invalid/", self.status, {}, None), parsed

    def remove(self) -> None:
        """Unregister: later calls reach the service again."""
        self.client.meta.events.unregister(self.event, unique_id=self.unique_id)

    def __enter__(self) -> "Fault":
        return self

    def __exit__(self, *_: object) -> None:
        self.remove()


def inject(
    client: Any, operation: str, *, code: str | None = None, message: str = "injected fault", status: int = 400,
    reasons: Sequence[str] | None = None, times: int | None = None, exception: BaseException | None = None,
    after: int = 0,
) -> Fault:
    """Fail ``operation`` ("dynamodb.PutItem", "s3.HeadObject") on ``client``: ``times`` times (None: always),
    once ``after`` calls went through. ``calls`` counts every call seen, ``fired`` the failed ones.

    The answer is the error ``code`` with ``message`` and HTTP ``status``; ``reasons`` gives a
    TransactionCanceledException its per-item CancellationReasons ("None" for an item that was fine).
    ``exception`` raises a botocore exception instead (EndpointConnectionError, ReadTimeoutError...).
    """
    if code is None and exception is None:
        raise ValueError("inject needs an error code or an exception")
    service, _, name = operation.partition(".")
    fault = Fault(client, f"before-call.{service}.{name}", code, message, status, reasons, times, exception, after)
    client.meta.events.register(fault.event, fault, unique_id=fault.unique_id)
    return fault
