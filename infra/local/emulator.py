"""The embedded AWS emulator: moto's server app behind two WSGI layers of our own.

* **Serialised DynamoDB.** moto's DynamoDB backend is plain dicts with no locking: a query
  iterating a table while a put inserts raises "dictionary changed size during iteration"
  (a 500), and a TransactWriteItems is only atomic if nothing else runs meanwhile. Every
  DynamoDB request therefore holds one lock; they are short (infra/local/moto_fixes.py keeps
  a transaction O(items), not O(table)). Other services run concurrently: an S3 PUT runs the
  import trigger in-process, and the trigger's own S3 and DynamoDB calls must get through.
* **Faults at a set rate** (``LOCAL_FAULT_RATE``, seedable): DynamoDB answers
  TransactionConflict, ThrottlingException or InternalServerError (500), S3 503 SlowDown, as
  AWS does under contention, instead of moto's never-failing answers. A fault is answered
  before the request reaches moto, so nothing was applied (as for throttling and conflicts
  in AWS). Only data-plane operations fail, and only once ``FaultPlan.enable`` is called
  (after the runner created its resources). One more kind, ``landed``, is off unless asked
  for: a DynamoDB write is applied and then answered 500, as AWS warns an InternalServerError
  may be (the client's own retry then meets its own write).
* **Request bodies freed when answered**, not when the cyclic collector gets to them (``_Released``,
  and Flask's debug mode off in moto's backend apps).
* **Large objects read a MiB at a time** (infra/local/s3_reads.py), not whole into memory as moto's GET does.
* **State on disk** (``state``: infra/local/state.py): each DynamoDB write moto applied is
  journaled, and each S3 object a request created or removed is recorded, before the answer
  leaves the emulator.

moto's server pieces (DomainDispatcherApplication, create_backend_app, MotoRequestHandler)
are the ones ``moto.server`` exports for its own ``moto_server`` command.
"""
from __future__ import annotations

import io
import json
import random
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from infra.local.s3_reads import path_style, streamed_gets

if TYPE_CHECKING:
    from infra.local.state import LocalState

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]

DYNAMO_TARGET = "DynamoDB_20120810."
DYNAMO_DATA_OPS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                             "BatchWriteItem", "TransactWriteItems", "TransactGetItems"})
DYNAMO_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})
KINDS = ("conflict", "throttle", "internal", "landed")  # DynamoDB's; S3 has one, slowdown
DEFAULT_KINDS = frozenset(KINDS) - {"landed"}


@dataclass
class FaultPlan:
    """Which requests fail: each data-plane request with probability ``rate``, drawn from ``seed``'s RNG."""

    rate: float = 0.0
    seed: int | None = None
    kinds: frozenset[str] = DEFAULT_KINDS
    s3: bool = True
    enabled: bool = False
    injected: Counter[str] = field(default_factory=Counter)
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"a fault rate is between 0 and 1, not {self.rate}")
        self._rng = random.Random(self.seed)

    def enable(self, rate: float | None = None, *, seed: int | None = None, kinds: Iterable[str] | None = None,
               s3: bool | None = None) -> None:
        """Start failing requests (optionally with a new rate, seed, DynamoDB kinds or S3 switch)."""
        with self._lock:
            if rate is not None:
                self.rate = rate
            if seed is not None:
                self._rng = random.Random(seed)
            if kinds is not None:
                unknown = set(kinds) - set(KINDS)
                if unknown:
                    raise ValueError(f"unknown fault kinds {sorted(unknown)}; choose from {KINDS}")
                self.kinds = frozenset(kinds)
            if s3 is not None:
                self.s3 = s3
            self.enabled = True

    def disable(self) -> None:
        """Let every request through again."""
        self.enabled = False

    def dynamo(self, operation: str) -> str | None:
        """The fault kind for this DynamoDB operation, or None to let it through."""
        if operation not in DYNAMO_DATA_OPS:
            return None
        kinds = sorted(self.kinds if operation in DYNAMO_WRITES else self.kinds - {"conflict", "landed"})
        return self._draw(kinds, f"dynamodb.{operation}")

    def s3_slowdown(self) -> bool:
        """True if this S3 request is answered 503 SlowDown."""
        return self.s3 and self._draw(["slowdown"], "s3") is not None

    def _draw(self, kinds: list[str], where: str) -> str | None:
        if not self.enabled or not kinds or self.rate <= 0:
            return None
        with self._lock:
            if self._rng.random() >= self.rate:
                return None
            kind = kinds[self._rng.randrange(len(kinds))]
            self.injected[f"{where} {kind}"] += 1
            return kind


def _dynamo_error(kind: str, operation: str, body: bytes) -> tuple[str, dict[str, Any]]:
    prefix = "com.amazonaws.dynamodb.v20120810#"
    if kind in ("internal", "landed"):
        return "500 Internal Server Error", {"__type": prefix + "InternalServerError",
                                             "message": "Internal server error (injected)"}
    if kind == "throttle":
        return "400 Bad Request", {"__type": prefix + "ThrottlingException",
                                   "message": "Rate of requests exceeds the allowed throughput (injected)."}
    if operation != "TransactWriteItems":
        return "400 Bad Request", {"__type": prefix + "TransactionConflictException",
                                   "message": "Transaction is ongoing for the item (injected)"}
    try:
        count = len(json.loads(body or b"{}").get("TransactItems") or []) or 1
    except ValueError:
        count = 1
    reasons: list[dict[str, str]] = [{"Code": "None"} for _ in range(count)]
    reasons[0] = {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item (injected)"}
    codes = ", ".join(r["Code"] for r in reasons)
    return "400 Bad Request", {"__type": prefix + "TransactionCanceledException",
                               "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
                               "CancellationReasons": reasons}


def _is_s3(environ: Environ) -> bool:
    auth = environ.get("HTTP_AUTHORIZATION", "") + environ.get("QUERY_STRING", "")
    return "/s3/aws4_request" in auth or "%2Fs3%2Faws4_request" in auth


def _read_body(environ: Environ) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _recording(start_response: StartResponse, statuses: list[str]) -> StartResponse:
    """``start_response`` that also notes each status line in ``statuses``."""
    def started(status: str, headers: Any, *exc_info: Any) -> Any:
        statuses.append(status)
        return start_response(status, headers, *exc_info)

    return started


def _region(environ: Environ) -> str:
    """The region of a SigV4 request's credential scope (``Credential=key/date/region/service/aws4_request``)."""
    try:
        return str(environ.get("HTTP_AUTHORIZATION", "").split("Credential=", 1)[1].split("/")[2])
    except IndexError:
        return "us-east-1"


def _record_s3(state: "LocalState", environ: Environ) -> None:
    """After an answered S3 write: record what it left at the key it named (path-style addressing)."""
    method = environ.get("REQUEST_METHOD")
    if method not in ("PUT", "POST", "DELETE"):
        return
    bucket, key, query = path_style(environ)
    if "delete" in query and method == "POST":
        state.objects.sync_bucket(bucket)
    elif key and "uploads" not in query and not (method == "PUT" and "uploadId" in query):
        state.objects.sync(bucket, key)  # a PUT, copy, multipart completion or delete of bucket/key


def guarded(app: WsgiApp, faults: FaultPlan, dynamo_lock: threading.Lock | None = None,
            state: "LocalState | None" = None) -> WsgiApp:
    """``app`` with DynamoDB requests serialised, ``faults`` answered in front of it, and ``state`` recorded."""
    dynamo_lock = dynamo_lock or threading.Lock()

    def applied(environ: Environ, operation: str, statuses: list[str], request: bytes) -> None:
        if state is not None and operation in DYNAMO_WRITES and statuses and statuses[0].startswith("200"):
            state.dynamo_applied(_region(environ), operation, request)

    def serve(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith(DYNAMO_TARGET):
            operation = target[len(DYNAMO_TARGET):]
            kind = faults.dynamo(operation)
            # Read ahead (and handed on to moto from memory) when the journal needs the items it names once moto
            # applied it, or a fault answers it: the landed kind hands it on to moto first.
            journaled = state is not None and operation in DYNAMO_WRITES
            request = _read_body(environ) if journaled or kind is not None else b""
            if kind is not None:
                if kind == "landed":
                    with dynamo_lock:
                        statuses: list[str] = []
                        answer = app(environ, _recording(lambda *_: None, statuses))
                        b"".join(answer)
                        getattr(answer, "close", lambda: None)()
                        applied(environ, operation, statuses, request)
                status, payload = _dynamo_error(kind, operation, request)
                body = json.dumps(payload).encode()
                start_response(status, [("Content-Type", "application/x-amz-json-1.0"),
                                        ("Content-Length", str(len(body))), ("x-amzn-RequestId", str(uuid.uuid4()))])
                return [body]
            with dynamo_lock:
                # The whole answer is produced under the lock: moto builds it from live objects.
                seen: list[str] = []
                answer = app(environ, _recording(start_response, seen))
                try:
                    body = b"".join(answer)
                finally:
                    getattr(answer, "close", lambda: None)()
                applied(environ, operation, seen, request)
                return [body]
        if _is_s3(environ) and faults.s3_slowdown():
            body = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
                    b"<Message>Please reduce your request rate. (injected)</Message>"
                    b"<RequestId>injected</RequestId></Error>")
            if environ.get("REQUEST_METHOD") == "HEAD":
                body = b""
            start_response("503 Slow Down", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
            return [body]
        if state is None or not _is_s3(environ):
            return _Released(app(environ, start_response), environ)
        codes: list[str] = []
        answer = app(environ, _recording(start_response, codes))  # moto has applied the request once its app returns
        if codes and codes[0][:1] == "2":
            _record_s3(state, environ)
        return _Released(answer, environ)

    return serve


class _Released:
    """moto's answer, and on close the request object dropped from ``environ``.

    werkzeug's Request (moto's Flask one) puts itself in ``environ["werkzeug.request"]``: a cycle,
    freed only by the cyclic collector, which runs rarely when few objects are made. Each upload part
    (8 MiB) lived on in its cycle meanwhile: a 0.5 GiB upload held ~150 MiB of them (bench/upload.py).
    """

    def __init__(self, answer: Iterable[bytes], environ: Environ) -> None:
        self._answer, self._environ = answer, environ

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._answer)

    def close(self) -> None:
        try:
            getattr(self._answer, "close", lambda: None)()
        finally:
            self._environ.pop("werkzeug.request", None)


class Emulator:
    """moto's server on host:port (0: a free one) in a daemon thread, guarded as above."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, faults: FaultPlan | None = None,
                 state: "LocalState | None" = None, public_host: str | None = None, also_loopback: bool = False) -> None:
        self.host, self.port = host, port
        self.faults = faults or FaultPlan()
        self.state = state
        self.public_host = public_host  # the address clients are given when ``host`` is a wildcard
        self.also_loopback = also_loopback  # a second listener on 127.0.0.1, same port
        self.dynamo_lock = threading.Lock()
        self._servers: list[Any] = []
        self._threads: list[threading.Thread] = []

    @property
    def _server(self) -> Any:
        return self._servers[0]

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{self.public_host or host}:{port}"

    def start(self) -> "Emulator":
        """Serve until ``stop``; the moto fixes (infra/local/moto_fixes.py) are installed first."""
        from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        from infra.local import moto_fixes

        moto_fixes.install()

        def backend(service: str) -> Any:
            made = create_backend_app(service)
            # moto turns Flask's debug mode on, whose form helper ties each request into a class of its own:
            # a cycle holding the request body (an 8 MiB upload part) until the cyclic collector runs.
            made.debug = False
            return made

        app = guarded(streamed_gets(DomainDispatcherApplication(backend)), self.faults, self.dynamo_lock, self.state)
        self._servers = [make_server(self.host, self.port, app, threaded=True, request_handler=MotoRequestHandler)]
        if self.also_loopback:
            port = self._servers[0].server_address[1]
            self._servers.append(make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler))
        self._threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in self._servers]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (moto's state stays in this process)."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join()
