"""make run's own settings: declared once in RunnerSettings, read from the environment, listed in the README."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from chalicelib.config import ConfigError
from infra.local.run import RunnerSettings

README = Path(__file__).resolve().parents[3] / "README.md"


def test_defaults_serve_glances_port_without_faults() -> None:
    assert RunnerSettings.from_env({}) == RunnerSettings(host="127.0.0.1", port=9292, emulator_port=0,
                                                         endpoint_url=None, fault_rate=0.0, fault_seed=None)


def test_values_are_parsed_by_type() -> None:
    read = RunnerSettings.from_env({"PORT": "0", "LOCAL_FAULT_RATE": "0.1", "LOCAL_FAULT_SEED": "13",
                                    "AWS_ENDPOINT_URL": "http://127.0.0.1:4566"})
    assert (read.port, read.fault_rate, read.fault_seed, read.endpoint_url) == (0, 0.1, 13, "http://127.0.0.1:4566")


@pytest.mark.parametrize("env", [{"LOCAL_FAULT_RATE": "often"}, {"LOCAL_FAULT_RATE": "1.5"}, {"PORT": "http"},
                                 {"LOCAL_RESET": "maybe"}])
def test_a_malformed_value_is_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        RunnerSettings.from_env(env)


def test_every_runner_setting_is_in_the_readme() -> None:
    text = README.read_text()
    missing = [f.metadata["setting"].env for f in dataclasses.fields(RunnerSettings)
               if f"`{f.metadata['setting'].env}`" not in text]
    assert missing == []
