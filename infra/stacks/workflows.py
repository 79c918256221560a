"""State machines from ``stepfunctions/*.asl.json``, with ``${Placeholder}`` substitutions.

The convention (DESIGN.md 4, STYLE.md 8): a placeholder names either

- a Chalice function, as written in ``@app.lambda_function(name=...)`` (``${import_fetch}``):
  it becomes that function's ARN, and the state machine may invoke it; or
- a resource variable of the Lambda environment (``${IMAGES_TABLE}``, ``${IMAGES_BUCKET}``):
  it becomes the same value the functions get, for direct service integrations.

Any other placeholder fails the synth, so a typo cannot deploy.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from chalicelib import config as app_config

if TYPE_CHECKING:  # the local runner reads definitions without loading the CDK
    from aws_cdk import aws_lambda as lambda_

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
ASL_SUFFIX = ".asl.json"


def load_definitions(directory: Path) -> dict[str, str]:
    """Machine name (file name without ``.asl.json``) -> ASL text, for every file in ``directory``."""
    if not directory.is_dir():
        return {}
    return {p.name[: -len(ASL_SUFFIX)]: p.read_text() for p in sorted(directory.glob(f"*{ASL_SUFFIX}"))}


def placeholders(definition: str) -> list[str]:
    """The distinct ``${Name}`` placeholders of an ASL text, in order of first use."""
    return list(dict.fromkeys(PLACEHOLDER.findall(definition)))


def substitutions(
    name: str, definition: str, functions: Mapping[str, "lambda_.IFunction"], values: Mapping[str, str]
) -> tuple[dict[str, str], list["lambda_.IFunction"]]:
    """The substitutions of ``definition`` and the functions it invokes; raises ValueError for an unknown name."""
    subs: dict[str, str] = {}
    invoked: list["lambda_.IFunction"] = []
    for key in placeholders(definition):
        if key in functions:
            subs[key] = functions[key].function_arn
            invoked.append(functions[key])
        elif key in values:
            subs[key] = values[key]
        else:
            raise ValueError(f"{name}{ASL_SUFFIX}: ${{{key}}} names no Chalice function and no resource variable")
    return subs, invoked


def env_var(machine: str) -> str:
    """The Lambda environment variable carrying the ARN of state machine ``machine`` (declared in chalicelib.config)."""
    return app_config.STATE_MACHINE_ENV[machine]
