"""The import state machine's structure: every target exists, every state is reachable, every step is caught."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.stacks import workflows

ROOT = Path(__file__).resolve().parents[3]
ASL = workflows.load_definitions(ROOT / "stepfunctions")["import_image"]
STATES: dict[str, Any] = json.loads(ASL)["States"]
START = json.loads(ASL)["StartAt"]


def _targets(state: dict[str, Any]) -> list[str]:
    following = [state["Next"]] if "Next" in state else []
    choices = [c["Next"] for c in state.get("Choices", [])] + ([state["Default"]] if "Default" in state else [])
    return following + choices + [c["Next"] for c in state.get("Catch", [])]


def test_every_next_and_catch_names_a_state() -> None:
    for name, state in STATES.items():
        for target in _targets(state):
            assert target in STATES, f"{name} -> {target}"


def test_every_state_is_reachable_from_the_start() -> None:
    seen, todo = set(), [START]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += _targets(STATES[name])
    assert seen == set(STATES)


def test_every_placeholder_is_a_lambda_function_of_the_app() -> None:
    from app import app

    functions = {f.name for f in app.pure_lambda_functions}
    assert workflows.placeholders(ASL) and set(workflows.placeholders(ASL)) <= functions


@pytest.mark.parametrize("name", [n for n, s in STATES.items() if s["Type"] == "Task" and n != "RecordFailure"])
def test_every_step_retries_transient_faults_and_catches_everything_into_record_failure(name: str) -> None:
    state = STATES[name]
    assert state["Retry"] and "SourceUnavailable" in state["Retry"][0]["ErrorEquals"]
    assert state["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFailure"}]


def test_activate_loops_over_the_stores_then_records_success() -> None:
    # One ActivateImage per target store (Glance's _ImportToStore), while the step says there are more.
    assert STATES["ActivateImage"]["Next"] == "MoreStores"
    assert STATES["MoreStores"]["Choices"] == [{"Variable": "$.more", "BooleanEquals": True, "Next": "ActivateImage"}]
    assert STATES["MoreStores"]["Default"] == "RecordSuccess"


def test_the_failure_handler_ends_the_execution_failed() -> None:
    assert STATES[STATES["RecordFailure"]["Next"]]["Type"] == "Fail"
    # It retries whatever stops it (it must record the failure); the steps retry only transient faults,
    # never permanent ones (bad data, refused URLs).
    assert STATES["RecordFailure"]["Retry"][0]["ErrorEquals"] == ["States.ALL"]
    steps = [s for n, s in STATES.items() if n != "RecordFailure"]
    retried = {e for s in steps for r in s.get("Retry", []) for e in r["ErrorEquals"]}
    assert not retried & {"States.ALL", "ImportSourceError", "InvalidInput", "UnsafeImage", "ImageFormatMismatch"}
