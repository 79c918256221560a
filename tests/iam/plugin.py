"""The IAM completeness check as a pytest plugin (tests/conftest.py loads it).

Every run: the calls recorded while the tests ran (tests/iam/recorder.py) are judged against the roles
of the synthesized stack at the session's end; a denied call fails the session with a report listed
among the failures ("iam: recorded AWS calls"). Only when the whole suite ran and passed (no path or
``-k``/``-m`` selection, no stop on a failure) is the other half judged too: a granted action that no
test's call used fails the run, so each function's role stays what its code calls.

Under pytest-xdist (``make test`` runs ``-n 2``) each worker records its own tests' calls and sends them
to the controller at its end (its ``workeroutput``); the controller judges the union, as one process would:
every worker's calls, the whole suite's completeness (the ids the workers collected, each test's end as
reported to the controller, a worker that sent no record makes completeness unjudged and fails the run).
The template judged is the default synth a worker made for the infra tests (else the controller makes it).
"""
from __future__ import annotations

import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.iam import recorder

# Set it to a path to get every function's (action, resource) needs and its unused grants written there.
NEEDS_FILE = "IAM_NEEDS_FILE"
NODE_ID = "tests/iam: recorded AWS calls against the roles"
WORKER_OUTPUT = "iam_recording"  # the key of a worker's record in its xdist workeroutput
Template = tuple[dict[str, Any], str]  # a synthesized template's JSON and its stack's name
_run: dict[str, Any] = {"deselected": 0, "finished": set(), "collected": None, "lost": 0, "template": None}

recorder.install()  # at import, before any test (or fixture) makes a botocore session


def pytest_deselected(items: list[pytest.Item]) -> None:
    _run["deselected"] += len(items)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "teardown":
        _run["finished"].add(report.nodeid)


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")  # an xdist worker: its controller judges


def whole_suite_ran(session: pytest.Session) -> bool:
    """The default test paths, nothing deselected, every collected test run to its end, none failed."""
    config = session.config
    collected = len(session.items) if _run["collected"] is None else _run["collected"]  # xdist: the workers'
    return (config.args_source == pytest.Config.ArgsSource.TESTPATHS and not _run["deselected"]
            and not config.option.keyword and not config.option.markexpr and not _run["lost"]
            and session.testsfailed == 0 and not session.shouldstop and not session.shouldfail
            and len(_run["finished"]) == collected > 0)


def worker_output(recording: recorder.Recording, deselected: int) -> bytes:
    """What a worker sends its controller: its recording, its deselected count, the default synth's template."""
    infra = sys.modules.get("tests.infra.conftest")  # only if this worker ran infra tests: never synthesize here
    synths = getattr(infra, "_SYNTHS", [])
    template = (synths[0].template.to_json(), synths[0].stack.stack_name) if synths else None
    return pickle.dumps({"calls": recording.calls, "unattributed": recording.unattributed,
                         "deselected": deselected, "template": template})


def merge(recording: recorder.Recording, output: bytes) -> tuple[int, Template | None]:
    """Add a worker's record to ``recording``; (its deselected count, its template or None)."""
    sent = pickle.loads(output)  # noqa: S301 - our own worker's bytes, over xdist's channel
    recording.calls.update(sent["calls"])
    recording.unattributed.update(sent["unattributed"])
    return int(sent["deselected"]), sent["template"]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    _run["collected"] = len(ids)  # every worker collects the same ids (xdist checks), deselection applied


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    output = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT)
    if output is None:  # it crashed: its calls are unknown, so the union is not the suite's
        _run["lost"] += 1
        return
    deselected, template = merge(recorder.RECORDING, output)
    _run["deselected"] += deselected
    _run["template"] = _run["template"] or template


def judge(calls: Any, completeness: bool, template: Template | None = None) -> tuple[bool, str]:
    """(failed, report text) for ``calls`` against the stack the tests synthesize (``template``: that synth
    as a worker made it)."""
    from tests.infra.conftest import synthesize  # first: it quiets jsii's banner before the CDK loads
    from tests.iam.check import UNTESTED, check, stack_functions
    from tests.iam.policy import StackPolicies

    if template is None:
        with tempfile.TemporaryDirectory(prefix="iam-synth-") as work:
            synth = synthesize(Path(work))
        template = (synth.template.to_json(), synth.stack.stack_name)
    policies = StackPolicies(*template)
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
    if _is_worker(session.config):
        session.config.workeroutput[WORKER_OUTPUT] = worker_output(  # type: ignore[attr-defined]
            recorder.RECORDING, _run["deselected"])
        return
    if _run["lost"]:
        _fail(session, f"{_run['lost']} xdist worker(s) ended without sending their recorded calls: not judged")
    calls = recorder.RECORDING.calls
    if not calls:
        return
    completeness = whole_suite_ran(session)
    failed, text = judge(calls, completeness, _run["template"])
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if not failed:
        if reporter is not None:
            reporter.write_line(f"iam: {text}")
        return
    _fail(session, text)


def _fail(session: pytest.Session, text: str) -> None:
    """A failure listed among the tests' ("iam: recorded AWS calls"), and the session's exit status failed."""
    report = pytest.TestReport(NODE_ID, ("tests/iam/plugin.py", None, NODE_ID), {}, "failed", text, "call")
    session.config.hook.pytest_runtest_logreport(report=report)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
