"""A small evaluator of a synthesized template's IAM: which role each function runs as, what it allows.

Intrinsics are resolved to the stack's own resources (``Ref``/``Fn::GetAtt``/``Fn::Join``/``Fn::Sub``,
pseudo parameters fixed below), so a table's ARN in a policy and the ARN of the table a function's
environment names come out as the same string. Statements are judged as IAM does for identity
policies: an explicit Deny wins, else any matching Allow; ``*`` and ``?`` are wildcards, actions are
case-insensitive. NotAction, NotResource and Condition are not modelled: a role using them fails.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
          "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": ""}
_ARNS = {  # resource type -> its Fn::GetAtt Arn, from the name its Ref gives
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:us-east-1:123456789012:table/{}",
    "AWS::S3::Bucket": "arn:aws:s3:::{}",
    "AWS::Serverless::Function": "arn:aws:lambda:us-east-1:123456789012:function:{}",
    "AWS::Lambda::Function": "arn:aws:lambda:us-east-1:123456789012:function:{}",
    "AWS::Logs::LogGroup": "arn:aws:logs:us-east-1:123456789012:log-group:{}:*",
    "AWS::IAM::Role": "arn:aws:iam::123456789012:role/{}",
    "AWS::StepFunctions::StateMachine": "{}",  # its Ref is the ARN already
}
_NAME_PROPERTY = {"AWS::Logs::LogGroup": "LogGroupName", "AWS::StepFunctions::StateMachine": "StateMachineName"}
UNMODELLED = ("NotAction", "NotResource", "NotPrincipal", "Condition")
TASK_DEFINITION = "AWS::ECS::TaskDefinition"  # its task role is judged as a function's role is


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    where: str  # the policy's logical id, for reports

    def matches(self, action: str, arn: str) -> bool:
        return (any(_wildcard(a, action, ignore_case=True) for a in self.actions)
                and any(_wildcard(r, arn) for r in self.resources))


def _wildcard(pattern: str, value: str, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class StackPolicies:
    """The roles, policies and function environments of one template (its JSON)."""

    def __init__(self, template: dict[str, Any], stack_name: str = "Stack") -> None:
        self.resources: dict[str, Any] = template["Resources"]
        self.pseudo = {**PSEUDO, "AWS::StackName": stack_name, "AWS::StackId": f"stack/{stack_name}"}

    # -- intrinsics ------------------------------------------------------------------------
    def resolve(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and len(value) == 1:
            [(fn, arg)] = value.items()
            if fn == "Ref":
                return self.ref(arg)
            if fn == "Fn::GetAtt":
                logical, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical, attr)
            if fn == "Fn::Join":
                return str(arg[0]).join(self.resolve(v) for v in arg[1])
            if fn == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                return re.sub(r"\$\{([^}!]+)\}", lambda m: self._sub(m.group(1), variables), text)
            if fn == "Fn::Select":
                return self.resolve(_listed(arg[1])[int(arg[0])])
        raise ValueError(f"cannot resolve {value!r}")

    def _sub(self, name: str, variables: dict[str, Any]) -> str:
        if name in variables:
            return self.resolve(variables[name])
        if "." in name and name.split(".", 1)[0] in self.resources:
            logical, attr = name.split(".", 1)
            return self.get_att(logical, attr)
        return self.ref(name)

    def ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        resource = self.resources[name]
        prop = _NAME_PROPERTY.get(resource["Type"])
        own = resource.get("Properties", {}).get(prop) if prop else None
        base = self.resolve(own) if own is not None else name
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            return f"arn:aws:states:us-east-1:123456789012:stateMachine:{base}"
        return base

    def get_att(self, logical: str, attr: str) -> str:
        kind = self.resources[logical]["Type"]
        if attr != "Arn" or kind not in _ARNS:
            raise ValueError(f"cannot resolve {logical}.{attr} ({kind})")
        return _ARNS[kind].format(self.ref(logical))

    def arn(self, value: Any) -> str:
        """The ARN of what ``value`` names: a Ref to a resource gives that resource's ARN."""
        if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in self.resources:
            kind = self.resources[value["Ref"]]["Type"]
            if kind in _ARNS:
                return _ARNS[kind].format(self.ref(value["Ref"]))
        return self.resolve(value)

    # -- functions and their roles -----------------------------------------------------------
    def functions(self) -> list[str]:
        return sorted(k for k, r in self.resources.items()
                      if r["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function"))

    def role_of(self, function: str) -> str:
        """The role a function (or an ECS task definition's task: the data plane's container) runs as."""
        props = self.resources[function]["Properties"]
        role = props["TaskRoleArn"] if self.resources[function]["Type"] == TASK_DEFINITION else props["Role"]
        if not (isinstance(role, dict) and "Fn::GetAtt" in role):
            raise ValueError(f"{function}: its Role is not a role of this stack: {role!r}")
        return str(role["Fn::GetAtt"][0])

    def environment(self, function: str) -> dict[str, str]:
        """Variable -> the ARN (for a Ref to a resource) or the value, as the function (or the task's one
        container) gets it."""
        props = self.resources[function]["Properties"]
        if self.resources[function]["Type"] == TASK_DEFINITION:
            [container] = props["ContainerDefinitions"]
            variables = {v["Name"]: v["Value"] for v in container.get("Environment", [])}
        else:
            variables = props.get("Environment", {}).get("Variables", {})
        return {k: self.arn(v) for k, v in variables.items()}

    def statements(self, role: str) -> list[Statement]:
        """Every statement of the role's inline policies and of the AWS::IAM::Policy resources attached to it."""
        props = self.resources[role]["Properties"]
        if props.get("ManagedPolicyArns"):
            raise ValueError(f"{role}: managed policies are not evaluated: {props['ManagedPolicyArns']}")
        docs = [(f"{role}.{p.get('PolicyName')}", p["PolicyDocument"]) for p in props.get("Policies", [])]
        docs += [(k, r["Properties"]["PolicyDocument"]) for k, r in self.resources.items()
                 if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"].get("Roles", [])]
        return [self._statement(where, s) for where, doc in docs for s in doc["Statement"]]

    def _statement(self, where: str, raw: dict[str, Any]) -> Statement:
        unmodelled = [k for k in UNMODELLED if k in raw]
        if unmodelled:
            raise ValueError(f"{where}: {unmodelled} are not evaluated: {raw}")
        return Statement(raw["Effect"], tuple(_listed(raw["Action"])),
                         tuple(self.resolve(r) for r in _listed(raw["Resource"])), where)


def allowed(statements: Iterable[Statement], action: str, arn: str) -> bool:
    """IAM's decision for an identity policy: no Deny matches and some Allow does."""
    matching = [s for s in statements if s.matches(action, arn)]
    return bool(matching) and all(s.effect == "Allow" for s in matching)
