"""The data plane's synth (``-c data_plane=on``): routes by method and path, the service, its exact role."""
from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chalicelib.config import ConfigError
from infra.stacks.data_plane import DOCKERFILE, FRONT
from infra.stacks.settings import DeployConfig
from tests.infra.conftest import DATA_PLANE, ROOT, Synth
from tests.iam.check import Report, check
from tests.iam.policy import TASK_DEFINITION, StackPolicies
from tests.iam.recorder import Call
from tests.infra.upload_calls import upload_flows

# (method, route) of the app that carry image data: these, and only these, reach the container.
DATA = {("PUT", "/v2/images/{image_id}/file"), ("PUT", "/v2/images/{image_id}/stage"),
        ("PUT", "/images/{image_id}/file"), ("PUT", "/images/{image_id}/stage"),
        ("PUT", "/v1/images/{image_id}"), ("POST", "/v1/images")}
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")


def _one(synth: Synth, kind: str) -> tuple[str, dict[str, Any]]:
    [(logical, resource)] = synth.resources(kind).items()
    return logical, resource["Properties"]


def _groups(synth: Synth) -> dict[str, str]:
    """Target group logical id -> "lambda" or "ip"."""
    return {k: v["Properties"]["TargetType"] for k, v in synth.resources("AWS::ElasticLoadBalancingV2::TargetGroup").items()}


def _alb_pattern(pattern: str) -> re.Pattern[str]:
    # ALB path patterns: case-sensitive, * is any run of characters (slashes too), ? one character.
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern) + r"\Z")


def _route_to(synth: Synth, method: str, path: str) -> str:
    """The target type the HTTPS listener sends ``method path`` to, evaluated as the ALB does."""
    https = [p for p in synth.resources("AWS::ElasticLoadBalancingV2::Listener").values() if p["Properties"]["Port"] == 443]
    rules = sorted((r["Properties"] for r in synth.resources("AWS::ElasticLoadBalancingV2::ListenerRule").values()),
                   key=lambda r: r["Priority"])
    for rule in rules:
        conditions = {c["Field"]: c for c in rule["Conditions"]}
        methods = conditions["http-request-method"]["HttpRequestMethodConfig"]["Values"]
        paths = conditions["path-pattern"]["PathPatternConfig"]["Values"]
        if method in methods and any(_alb_pattern(p).match(path) for p in paths):
            return _groups(synth)[rule["Actions"][0]["TargetGroupArn"]["Ref"]]
    [default] = https[0]["Properties"]["DefaultActions"]
    return _groups(synth)[default["TargetGroupArn"]["Ref"]]


def _path(route: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, route)


def test_the_load_balancer_sends_exactly_the_data_routes_to_the_container(data_plane_synth: Synth) -> None:
    from app import app

    # Every route of the app, every method, with parameters that look like the data routes' own words,
    # and each of its version aliases (/v2.1/..., /v2.17/..., /v1.1/...) as the route itself
    for route, views in app.routes.items():
        version, _, rest = route.lstrip("/").partition("/")
        aliases = {"v2": ["/v2.1/", "/v2.17/"], "v1": ["/v1.0/", "/v1.1/"]}.get(version, [])
        for method in METHODS:
            for value in ("0b6c9d1e-3f7a-4b8e-9c2d-5e6f7a8b9c0d", "file", "stage", "members"):
                expected = "ip" if (method, route) in DATA else "lambda"
                for path in [_path(route, value), *(alias + _path(rest, value) for alias in aliases)]:
                    assert _route_to(data_plane_synth, method, path) == expected, (method, route, path)


def test_rules_match_on_method_and_path_with_the_functions_first(data_plane_synth: Synth) -> None:
    rules = [r["Properties"] for r in data_plane_synth.resources("AWS::ElasticLoadBalancingV2::ListenerRule").values()]
    by_group = {t: sorted(r["Priority"] for r in rules if _groups(data_plane_synth)[r["Actions"][0]["TargetGroupArn"]["Ref"]] == t)
                for t in ("lambda", "ip")}
    assert max(by_group["lambda"]) < min(by_group["ip"])
    for rule in rules:  # an ALB rule holds at most five condition values
        assert {c["Field"] for c in rule["Conditions"]} == {"http-request-method", "path-pattern"}
        assert sum(len(c.get("HttpRequestMethodConfig", c.get("PathPatternConfig"))["Values"]) for c in rule["Conditions"]) <= 5


def test_the_default_action_is_the_api_function_with_multi_value_headers_and_its_permission(data_plane_synth: Synth) -> None:
    [(logical, group)] = [(k, v) for k, v in data_plane_synth.resources("AWS::ElasticLoadBalancingV2::TargetGroup").items()
                          if v["Properties"]["TargetType"] == "lambda"]
    assert group["Properties"]["Targets"] == [{"Id": {"Fn::GetAtt": ["APIHandler", "Arn"]}}]
    assert {"Key": "lambda.multi_value_headers.enabled", "Value": "true"} in group["Properties"]["TargetGroupAttributes"]
    [(perm_id, permission)] = [(k, v["Properties"]) for k, v in data_plane_synth.resources("AWS::Lambda::Permission").items()
                               if v["Properties"]["Principal"] == "elasticloadbalancing.amazonaws.com"]
    assert permission["FunctionName"] == {"Fn::GetAtt": ["APIHandler", "Arn"]}
    assert permission["Action"] == "lambda:InvokeFunction"
    assert perm_id in group["DependsOn"]  # registered only once the function may be invoked
    https = [p["Properties"] for p in data_plane_synth.resources("AWS::ElasticLoadBalancingV2::Listener").values()]
    [default] = [p for p in https if p["Port"] == 443][0]["DefaultActions"]
    assert default["TargetGroupArn"] == {"Ref": logical}


def test_the_load_balancer_is_public_https_logged_and_redirects_http(data_plane_synth: Synth) -> None:
    _, alb = _one(data_plane_synth, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    attributes = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert alb["Scheme"] == "internet-facing" and attributes["access_logs.s3.enabled"] == "true"
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    listeners = {p["Properties"]["Port"]: p["Properties"] for p in data_plane_synth.resources("AWS::ElasticLoadBalancingV2::Listener").values()}
    assert listeners[443]["Protocol"] == "HTTPS"
    assert listeners[443]["Certificates"] == [{"CertificateArn": DATA_PLANE["data_plane_certificate_arn"]}]
    assert listeners[80]["DefaultActions"][0]["Type"] == "redirect"
    # And the stack prints the endpoint clients use
    output = data_plane_synth.template.to_json()["Outputs"]["DataPlaneEndpoint"]["Value"]["Fn::Join"][1]
    assert output[0] == "https://"


def test_the_service_runs_the_front_in_data_mode_in_private_subnets(data_plane_synth: Synth) -> None:
    _, service = _one(data_plane_synth, "AWS::ECS::Service")
    assert service["LaunchType"] == "FARGATE" and service["DesiredCount"] == DeployConfig().data_plane_tasks
    assert service["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
    assert service["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    [balanced] = service["LoadBalancers"]
    assert balanced["ContainerPort"] == FRONT.port
    _, task = _one(data_plane_synth, "AWS::ECS::TaskDefinition")
    [container] = task["ContainerDefinitions"]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert container["Command"] == list(FRONT.command)
    assert env[FRONT.mode_env] == FRONT.mode and env[FRONT.port_env] == str(FRONT.port)
    assert container["PortMappings"][0]["ContainerPort"] == FRONT.port
    # the functions' own settings: same tables, bucket and token check
    lambda_env = data_plane_synth.template.to_json()["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert all(env[name] == value for name, value in lambda_env.items())
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    group = [g["Properties"] for g in data_plane_synth.resources("AWS::ElasticLoadBalancingV2::TargetGroup").values()
             if g["Properties"]["TargetType"] == "ip"][0]
    assert (group["HealthCheckPath"], group["Matcher"], group["Port"]) == (FRONT.health_path, {"HttpCode": "200"}, FRONT.port)


def _judged(synth: Synth, calls: Counter[Call], template: dict[str, Any] | None = None) -> Report:
    """The upload routes' calls judged against the task role (tests/iam: the same evaluator as the functions')."""
    task, _ = _one(synth, TASK_DEFINITION)
    policies = StackPolicies(template or synth.template.to_json(), synth.stack.stack_name)
    as_task = Counter({replace(call, function="data_plane"): n for call, n in calls.items()})
    return check(policies, as_task, {"data_plane": task})


def _without_grant(template: dict[str, Any], role: str, action: str, resource: Any) -> dict[str, Any]:
    """``template`` with the one grant of ``action`` on ``resource`` taken out of the policies attached to ``role``."""
    mutated = copy.deepcopy(template)
    for policy in mutated["Resources"].values():
        if policy["Type"] == "AWS::IAM::Policy" and {"Ref": role} in policy["Properties"]["Roles"]:
            document = policy["Properties"]["PolicyDocument"]
            kept = []
            for s in document["Statement"]:
                actions, resources = _listed(s["Action"]), _listed(s["Resource"])
                if action not in actions or resource not in resources:
                    kept.append(s)
                    continue
                if len(actions) > 1:  # the statement's other actions, on all its resources
                    kept.append({**s, "Action": [a for a in actions if a != action]})
                if len(resources) > 1:  # the action on the statement's other resources
                    kept.append({**s, "Action": [action], "Resource": [r for r in resources if r != resource]})
            document["Statement"] = kept
    return mutated


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.moto
def test_the_task_role_allows_every_call_of_the_upload_routes_and_nothing_else(
        data_plane_synth: Synth, api: Any, aws: Any) -> None:
    # Given every AWS call the upload routes make on the emulator (multipart, refused, over the cap, limits on)
    calls = upload_flows(api, aws)
    # Then each call is allowed by the task role, and the role grants nothing those calls do not use
    report = _judged(data_plane_synth, calls)
    assert report.denied == [] and report.unexercised == [] and report.checked > 0
    # And the check has teeth: without any one of its grants (an action on a resource), some call is refused
    template = data_plane_synth.template.to_json()
    policies = StackPolicies(template, data_plane_synth.stack.stack_name)
    role = policies.role_of(_one(data_plane_synth, TASK_DEFINITION)[0])
    raw = [s for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Policy"
           and {"Ref": role} in r["Properties"]["Roles"] for s in r["Properties"]["PolicyDocument"]["Statement"]]
    grants = [(a, r) for s in raw for a in _listed(s["Action"]) for r in _listed(s["Resource"])]
    assert grants and all(s["Effect"] == "Allow" for s in raw)
    for action, resource in grants:
        assert _judged(data_plane_synth, calls, _without_grant(template, role, action, resource)).denied, (action, resource)


def test_the_dockerfile_runs_the_front_the_stack_starts(data_plane_synth: Synth) -> None:
    dockerfile = (ROOT / DOCKERFILE).read_text()
    [cmd] = re.findall(r"^CMD (.+)$", dockerfile, re.M)
    assert json.loads(cmd) == list(FRONT.command)
    assert f"{FRONT.mode_env}={FRONT.mode}" in dockerfile and f"{FRONT.port_env}={FRONT.port}" in dockerfile
    assert f"EXPOSE {FRONT.port}" in dockerfile
    assert re.search(r"^COPY requirements.txt ", dockerfile, re.M) and "COPY chalicelib ./chalicelib" in dockerfile
    assert re.search(r"^USER \d+", dockerfile, re.M)  # not root
    # The image's extra packages are pinned, and agree with the pins the tests and the local runner use
    extra = ROOT / "requirements-front.txt"
    assert re.search(r"^COPY requirements.txt requirements-front.txt ", dockerfile, re.M)
    pins = dict(line.split("==") for line in extra.read_text().splitlines() if "==" in line and not line.startswith("#"))
    assert set(pins) >= {"chalice", "cheroot"}
    # the same file the local runner and the tests install (requirements-dev.txt includes it)
    assert "-r requirements-front.txt" in (ROOT / "requirements-dev.txt").read_text().splitlines()
    # And the build context (CDK's image asset) holds the app and those files, not the repository
    [asset] = [p for p in data_plane_synth.outdir.iterdir() if p.is_dir() and (p / DOCKERFILE).is_file()]
    assert {p.name for p in asset.iterdir()} == {".dockerignore", "app.py", "chalicelib", "requirements.txt",
                                                  "requirements-front.txt", "infra"}
    assert {p.name for p in (asset / "infra").iterdir()} == {"dataplane"}


def test_cfn_lint_passes_on_the_data_plane_template(data_plane_synth: Synth) -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    done = subprocess.run([str(cfn_lint), str(data_plane_synth.template_path)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_data_plane_context_flags_and_refusals() -> None:
    assert DeployConfig.from_context({"data_plane": "on", "auth_mode": "dev"}.get).data_plane is True
    assert DeployConfig.from_context({"auth_mode": "dev"}.get).data_plane is False
    with pytest.raises(ConfigError, match="data_plane_certificate_arn"):
        DeployConfig(stage="prod", auth_mode="cloud", jwt_issuer="https://i", jwt_audience="a",
                     jwt_jwks_url="https://i/j", data_plane=True).validate()


def test_the_data_plane_needs_a_region(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.cdk_app import stack_env

    monkeypatch.delenv("CDK_DEFAULT_REGION", raising=False)
    with pytest.raises(ConfigError, match="region"):
        stack_env(DeployConfig(auth_mode="dev", data_plane=True))
    assert stack_env(DeployConfig(auth_mode="dev")) is None
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    env = stack_env(DeployConfig(auth_mode="dev", data_plane=True))
    assert env is not None and env.region == "eu-west-1"


def test_with_the_data_plane_api_gateway_still_answers_oversize_bodies_with_glances_413(data_plane_synth: Synth) -> None:
    # Clients still on the API Gateway endpoint get the 413 that names the data plane's endpoint way
    body = data_plane_synth.template.to_json()["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    too_large = body["x-amazon-apigateway-gateway-responses"]["REQUEST_TOO_LARGE"]
    assert too_large["statusCode"] == 413
    assert json.loads(too_large["responseTemplates"]["application/json"])["code"].startswith("413 ")
