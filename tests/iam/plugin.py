"""The IAM completeness check as a pytest plugin (tests/conftest.py loads it).

Every run: the calls recorded while the tests ran (tests/iam/recorder.py) are judged against the roles
of the synthesized stack at the session's end; a denied call fails the session with a report listed
among the failures ("iam: recorded AWS calls"). Only when the whole suite ran and passed (no path or
``-k``/``-m`` selection, no stop on a failure) is the other half judged too: a granted action that no
test's call used fails the run, so each function's role stays what its code calls.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.iam import recorder

# Set it to a path to get every function's (action, resource) needs and its unused grants written there.
NEEDS_FILE = "IAM_NEEDS_FILE"
NODE_ID = "tests/iam: recorded AWS calls against the roles"
_run: dict[str, Any] = {"deselected": 0, "finished": set()}

recorder.install()  # at import, before any test (or fixture) makes a botocore session


def pytest_deselected(items: list[pytest.Item]) -> None:
    _run["deselected"] += len(items)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "teardown":
        _run["finished"].add(report.nodeid)


def whole_suite_ran(session: pytest.Session) -> bool:
    """The default test paths, nothing deselected, every collected test run to its end, none failed."""
    config = session.config
    return (config.args_source == pytest.Config.ArgsSource.TESTPATHS and not _run["deselected"]
            and not config.option.keyword and not config.option.markexpr
            and session.testsfailed == 0 and not session.shouldstop and not session.shouldfail
            and len(_run["finished"]) == len(session.items) > 0)


def judge(calls: Any, completeness: bool) -> tuple[bool, str]:
    """(failed, report text) for ``calls`` against the stack the tests synthesize."""
    from tests.infra.conftest import synthesize  # first: it quiets jsii's banner before the CDK loads
    from tests.iam.check import UNTESTED, check, stack_functions
    from tests.iam.policy import StackPolicies

    with tempfile.TemporaryDirectory(prefix="iam-synth-") as work:
        synth = synthesize(Path(work))
    policies = StackPolicies(synth.template.to_json(), synth.stack.stack_name)
    report = check(policies, calls, stack_functions(), UNTESTED)
    if os.environ.get(NEEDS_FILE):  # what each function was seen to need, for writing its grants
        unused = [f"granted, unused: {grant}" for grant in sorted(set(report.unexercised))]
        Path(os.environ[NEEDS_FILE]).write_text("\n".join([*report.needs, *unused]) + "\n")
    functions = len({c.function for c in calls})
    summary = (f"{len(calls)} distinct calls by {functions} functions, {report.checked} (action, resource) "
               f"needs judged; completeness {'judged' if completeness else 'not judged (a subset ran)'}; "
               f"{report.further_stores} calls on further stores' buckets left to tests/infra/test_stack_stores.py")
    return report.failed(completeness), "\n".join(filter(None, [summary, report.text(completeness)]))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    calls = recorder.RECORDING.calls
    if not calls:
        return
    completeness = whole_suite_ran(session)
    failed, text = judge(calls, completeness)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if not failed:
        if reporter is not None:
            reporter.write_line(f"iam: {text}")
        return
    report = pytest.TestReport(NODE_ID, ("tests/iam/plugin.py", None, NODE_ID), {}, "failed", text, "call")
    session.config.hook.pytest_runtest_logreport(report=report)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
