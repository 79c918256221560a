"""``make test``'s xdist schedule: tests spread one by one over the workers, tests/infra kept together.

tests/infra synthesizes the CDK app four ways (default, data plane, stores, the rehearsal's deploy): each
synth is cached per process (tests/infra/conftest.py), so split over two workers most of them would run
twice. Here that directory is one work unit (one worker runs it all, in order); every other test is a
unit of its own, as ``--dist load`` would spread them. Groups are paths, not ``xdist_group`` marks:
pytest-xdist 3.8 names a marked test's group by rewriting ``item._nodeid``, which pytest 9 no longer reads.
"""
from __future__ import annotations

from xdist.scheduler import LoadGroupScheduling

GROUPED = ("tests/infra/",)  # each prefix: one work unit


class PathGroupScheduling(LoadGroupScheduling):
    def _split_scope(self, nodeid: str) -> str:
        for prefix in GROUPED:
            if nodeid.startswith(prefix):
                return prefix
        return super()._split_scope(nodeid)
