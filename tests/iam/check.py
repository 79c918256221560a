"""Recorded calls against the synthesized roles: what is denied, and what is granted but never used."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Mapping

from tests.iam.actions import needs
from tests.iam.policy import StackPolicies, allowed
from tests.iam.recorder import FURTHER_STORES, Call

# Actions the Lambda service and runtime use with the function's role (its logs, its X-Ray traces), not the code.
RUNTIME_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
# Grants no test exercises through a function, each with the reason it is kept (the whole suite's run
# fails on any other unexercised grant): "<function>: <action> on <resource as ${VARIABLE}/rest>".
_ABORT = ("the abort of a multipart upload that failed: the same S3ObjectStore code the API runs for images/ "
          "(tests/api/test_data_api.py aborts one); without the grant the failure would become AccessDenied, parts left")
UNTESTED: dict[str, str] = {
    "api_handler: s3:AbortMultipartUpload on ${IMAGES_BUCKET}/staging/*": _ABORT,
    "import_fetch: s3:AbortMultipartUpload on ${IMAGES_BUCKET}/staging/*": _ABORT,
    "import_activate: s3:AbortMultipartUpload on ${IMAGES_BUCKET}/images/*": _ABORT + " (boto3's managed copy of > 8 MB)",
}
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}")
FURTHER = "${" + FURTHER_STORES + "}"  # how the recorder names a further store's bucket
_SYMBOL = re.compile(r"^\$\{([A-Z0-9_]+)\}(.*)$", re.S)


@dataclass
class Report:
    denied: list[str] = field(default_factory=list)
    unexercised: list[str] = field(default_factory=list)
    checked: int = 0  # distinct (function, action, resource) needs judged
    further_stores: int = 0  # distinct calls on further stores' buckets, judged by the stores synth's test
    needs: list[str] = field(default_factory=list)  # each function's needs, ids shown as *

    def text(self, completeness: bool) -> str:
        lines = []
        if self.denied:
            lines += ["Calls the function's role does not allow (AccessDenied in AWS):", *sorted(set(self.denied))]
        if completeness and self.unexercised:
            lines += ["Granted but no test made such a call (remove the grant, or test the call):",
                      *sorted(set(self.unexercised))]
        return "\n".join(f"  {line}" if i else line for i, line in enumerate(lines))

    def failed(self, completeness: bool) -> bool:
        return bool(self.denied or (completeness and self.unexercised))


def shown(arn: str) -> str:
    """An ARN for a report: image ids and hex suffixes as ``*``."""
    return _ID.sub("*", arn)


def stack_functions() -> dict[str, str]:
    """Every Lambda function of app.py by Chalice name -> its logical id in the template."""
    from app import app
    from infra.stacks.service_stack import chalice_function_names, logical_id

    return {name: logical_id(name) for name in chalice_function_names(app)}


def check(policies: StackPolicies, calls: Counter[Call], functions: Mapping[str, str],
          untested: Mapping[str, str] | None = None) -> Report:
    """Judge every recorded call by its function's role; list each function's grants no call used.

    ``functions``: Chalice name -> logical id. ``untested``: grants ("<function>: <action> on <resource>",
    resources as ``${VARIABLE}/rest``) known to be unexercised, with the reason; they are not reported.
    """
    report = Report()
    granted: set[str] = set()
    used: dict[str, set[tuple[str, str]]] = {name: set() for name in functions}
    for call in calls:
        if call.function not in used:
            report.denied.append(f"{call.function}: not a function of the stack ({call.service}.{call.operation})")
            continue
        if any(FURTHER in str(value) for value in call.params):
            # A further store's bucket: the default stack the suite judges against has none, so these are
            # judged on the stores synth instead (tests/infra/test_stack_stores.py: each function's store grants).
            report.further_stores += 1
            continue
        env = policies.environment(functions[call.function])
        used[call.function].update(needs(call, lambda symbol: _arn(symbol, env)))
    for name, pairs in used.items():
        logical = functions[name]
        statements = policies.statements(policies.role_of(logical))
        for action, arn in sorted(pairs):
            report.checked += 1
            report.needs.append(f"{name}: {action} on {shown(arn)}")
            if not allowed(statements, action, arn):
                report.denied.append(f"{logical}: {action} on {shown(arn)}")
        named = _symbols(policies.environment(logical))
        for s in statements:
            if s.effect != "Allow":
                continue
            for action in s.actions:
                for resource in s.resources:
                    one = type(s)(s.effect, (action,), (resource,), s.where)
                    grant = f"{name}: {action} on {named(resource)}"
                    granted.add(grant)
                    if action in RUNTIME_ACTIONS or grant in (untested or {}):
                        continue
                    if not any(one.matches(a, r) for a, r in pairs):
                        report.unexercised.append(grant)
    report.unexercised += [f"{grant} is named in UNTESTED but not granted: remove it" for grant in untested or {}
                           if grant not in granted]
    report.needs = sorted(set(report.needs))
    return report


def _symbols(env: Mapping[str, str]) -> Callable[[str], str]:
    """An ARN as ``${VARIABLE}rest`` when the function's environment names its resource."""
    arns = sorted(((arn, var) for var, arn in env.items() if arn.startswith("arn:")), key=lambda p: -len(p[0]))

    def named(resource: str) -> str:
        for arn, var in arns:
            if resource == arn or resource.startswith(arn + "/"):
                return "${" + var + "}" + resource[len(arn):]
        return resource

    return named


def _arn(symbol: str, env: dict[str, str]) -> str:
    """``${VARIABLE}rest`` -> the ARN the function's environment gives VARIABLE, plus rest."""
    found = _SYMBOL.match(symbol) if isinstance(symbol, str) else None
    if found is None:
        return f"<a resource the function's environment does not name: {symbol}>"
    variable, rest = found.groups()
    if variable not in env:
        return f"<${{{variable}}}: not in the function's environment>{rest}"
    return env[variable] + rest
