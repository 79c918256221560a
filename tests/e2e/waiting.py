"""Waiting for what the service finishes in the background (an import, a task, a hashing task)."""
from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def until(fetch: Callable[[], T], done: Callable[[T], bool], timeout: float = 60, interval: float = 0.2,
          meanwhile: Callable[[T], bool] = lambda _: True) -> T:
    """``fetch()`` again every ``interval`` until ``done`` says so; its last value. Fails, showing that value,
    after ``timeout`` or as soon as one not yet done is not as ``meanwhile`` allows."""
    deadline = time.monotonic() + timeout
    while not done(value := fetch()):
        assert meanwhile(value) and time.monotonic() < deadline, value
        time.sleep(interval)
    return value
