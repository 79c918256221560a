"""moto's Step Functions executor waits each ASL ``Retry`` interval in real time; tests wait a hundredth of it.

The ASL keeps its real Retry (IntervalSeconds 1, BackoffRate 2, MaxAttempts 3): every retry still
happens, in the same order, with the same errors matched. Only the wall time between attempts
shrinks (1 s, 2 s, 4 s become 10, 20, 40 ms), which no test observes: an import whose step is
retried to exhaustion paid 7 s. moto is pinned (requirements-dev.txt); if the wait moves, this
fails loudly instead of silently going slow again.
"""
from __future__ import annotations

import inspect
import time
from contextlib import contextmanager
from typing import Any, Iterator

SCALE = 0.01
_WAIT = "time.sleep(interval_seconds)"


class _ScaledTime:
    """The ``time`` module as the retrier sees it: everything real except a shorter ``sleep``."""

    def __init__(self, real: Any, scale: float) -> None:
        self._real, self._scale = real, scale

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def sleep(self, seconds: float) -> None:
        self._real.sleep(seconds * self._scale)


@contextmanager
def short_retry_waits(scale: float = SCALE) -> Iterator[None]:
    """While inside, moto's executor waits ``scale`` times each Retry interval (process-wide, all threads)."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    source = inspect.getsource(retrier_decl.RetrierDecl._eval_body)
    before = getattr(retrier_decl, "time", None)  # already scaled when nested (e2e's session, then pipeline's)
    if (before._real if isinstance(before, _ScaledTime) else before) is not time or _WAIT not in source:
        raise RuntimeError(f"moto's RetrierDecl no longer waits with {_WAIT}: update tests/sfn_waits.py")
    setattr(retrier_decl, "time", _ScaledTime(time, scale))
    try:
        yield
    finally:
        setattr(retrier_decl, "time", before)


def finished_execution(sfn: Any, machine_arn: str, name: str, timeout: float) -> dict[str, Any]:
    """The description of ``machine_arn``'s execution ``name`` once it stopped running (fails after ``timeout``)."""
    arn = machine_arn.replace(":stateMachine:", ":execution:") + ":" + name
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"execution {name} still running after {timeout} s"
        time.sleep(0.05)
    return dict(described)
