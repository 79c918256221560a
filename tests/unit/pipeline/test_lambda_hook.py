"""The local runner's one private moto hook: it must exist with the shape relied on, or fail loudly."""
from __future__ import annotations

import json

import pytest

from infra.local import lambda_hook


def test_the_hooked_moto_method_still_exists_with_its_signature() -> None:
    owner = lambda_hook._target()
    assert owner.__name__ == "LambdaFunction" and callable(getattr(owner, lambda_hook.HOOK_NAME))


def test_a_moved_hook_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.awslambda.models import LambdaFunction

    monkeypatch.delattr(LambdaFunction, lambda_hook.HOOK_NAME)
    with pytest.raises(RuntimeError, match="moto changed"):
        lambda_hook.install({})


def test_a_reshaped_hook_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.awslambda.models import LambdaFunction

    monkeypatch.setattr(LambdaFunction, lambda_hook.HOOK_NAME, lambda self, payload, extra: None)
    with pytest.raises(RuntimeError, match="changed shape"):
        lambda_hook.install({})


class Unreachable(Exception):
    pass


def test_results_and_errors_come_back_as_lambda_reports_them(monkeypatch: pytest.MonkeyPatch) -> None:
    def ok(event: dict, context: object) -> dict:
        return {"seen": event["x"]}

    def bad(event: dict, context: object) -> dict:
        raise Unreachable("no route to source")

    monkeypatch.setitem(lambda_hook._handlers, "ok", ok)
    monkeypatch.setitem(lambda_hook._handlers, "bad", bad)
    assert lambda_hook.run_in_process("ok", '{"x": 1}') == ('{"seen": 1}', False, "")
    payload, errored, _ = lambda_hook.run_in_process("bad", {"x": 1})
    assert errored and json.loads(payload)["errorType"] == "Unreachable"
    assert json.loads(payload)["errorMessage"] == "no route to source"
