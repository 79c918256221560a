"""The data plane for large uploads (opt-in, ``-c data_plane=on``): Fargate behind an ALB, one endpoint.

API Gateway refuses bodies over 10 MB and Lambda payloads stop at 6 MB, so image data cannot
reach the functions. With the data plane on, clients use the load balancer's endpoint as
``OS_IMAGE_URL``; listener rules send the routes that carry image data (by method and path) to a
container running the same application code, which streams the body into an S3 multipart
upload, and the default action sends every other route to the API handler function (an ALB
event, converted by chalicelib/api/alb.py). The container checks tokens itself, with the
authorizer's code; the function target does the same in the adapter.

The task role grants only the calls the upload routes make (tests/infra/test_data_plane.py
records them on the emulator and checks them against this role, both ways).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from chalicelib import config as app_config
from chalicelib.domain.data import data_key, staging_key
from infra.stacks.settings import DeployConfig

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = "infra/dataplane/Dockerfile"  # relative to ROOT, the build context


@dataclass(frozen=True)
class FrontContract:
    """How the container runs the app (chalicelib.front's side of the contract; rename here only)."""

    command: tuple[str, ...] = ("python", "-m", "chalicelib.front")
    mode_env: str = app_config.declaration(app_config.FrontSettings, "front_mode").env
    mode: str = "data"
    port_env: str = app_config.declaration(app_config.FrontSettings, "front_port").env
    port: int = 8080
    health_path: str = "/healthcheck"


FRONT = FrontContract()


@dataclass(frozen=True)
class Route:
    """A listener rule's match: any of ``methods`` on any of ``paths`` (ALB wildcards; ``*`` spans ``/``)."""

    methods: tuple[str, ...]
    paths: tuple[str, ...]


# Matched first: paths a data pattern would also match that stay on the functions (v1 members and
# listing under /v1/images/*; a tag or member named "file" or "stage" under /v2/images/*/...).
FUNCTION_ROUTES = (
    Route(("PUT",), ("/v1/images/detail", "/v1/images/*/members", "/v1/images/*/members/*")),
    Route(("PUT",), ("/v2/images/*/tags/*", "/images/*/tags/*", "/v2/images/*/members/*", "/images/*/members/*")),
    Route(("PUT",), ("/v1.*/images/detail", "/v1.*/images/*/members", "/v1.*/images/*/members/*")),
    Route(("PUT",), ("/v2.*/images/*/tags/*", "/v2.*/images/*/members/*")),
)
# The routes that carry image data (the unversioned /images/... are the app's aliases of /v2/images/...;
# /v2.N/... and /v1.N/... the version aliases, chalicelib/api/versions.py: the front answers a version
# it does not serve as the functions do, 300).
DATA_ROUTES = (
    Route(("PUT",), ("/v2/images/*/file", "/v2/images/*/stage", "/images/*/file", "/images/*/stage")),
    Route(("PUT",), ("/v1/images/*", "/v2.*/images/*/file", "/v2.*/images/*/stage", "/v1.*/images/*")),
    Route(("POST",), ("/v1/images", "/v1.*/images")),  # v1's create carries the data in its body
)
FUNCTION_RULE_PRIORITY, DATA_RULE_PRIORITY = 10, 100

# What the upload path calls, per table role and on the bucket (recorded by the test, not guessed).
TABLE_GRANTS: dict[str, tuple[str, ...]] = {
    "images": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"),
    "members": ("dynamodb:Query", "dynamodb:UpdateItem"),  # member rows copy the listing values of shared images
    "usage": ("dynamodb:UpdateItem",),  # the owner's counters, conditioned on the limits
}
OBJECT_GRANTS = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject")
OBJECT_PREFIXES = (data_key(""), staging_key(""))  # images/ (upload), staging/ (stage)
# Uploads in flight when a task is replaced get this long to finish.
DRAIN_SECONDS = 900
# cdk-nag findings on the data plane's resources that this design accepts, with the reason.
ACKNOWLEDGED = {
    "AwsSolutions-EC23": "The load balancer is the public API endpoint: it takes clients from anywhere on its "
                         "listener ports; the tasks accept traffic from the load balancer alone",
    "AwsSolutions-ECS2": "The container's variables are resource names and settings (the functions' own "
                         "environment); no secret is among them (a Keystone secret is read at run time)",
}


class DataPlane(Construct):
    """VPC, cluster, the front service, the load balancer and its two target groups."""

    def __init__(self, scope: Construct, id: str, *, deploy: DeployConfig, tables: Mapping[str, dynamodb.CfnTable],
                 bucket: s3.IBucket, access_logs: s3.IBucket, environment: Mapping[str, str],
                 api_function: lambda_.IFunction, log_retention: logs.RetentionDays) -> None:
        super().__init__(scope, id)
        self.vpc = self._network(log_retention)
        self.task_role = self._task_role(deploy, tables, bucket)
        self.service = self._service(deploy, environment, log_retention)
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self, "LoadBalancer", vpc=self.vpc, internet_facing=True, drop_invalid_header_fields=True,
            idle_timeout=cdk.Duration.minutes(5))  # a client may pause between chunks of a large body
        self.load_balancer.log_access_logs(access_logs, prefix="alb")
        self.function_targets = self._function_targets(api_function)
        self.data_targets = elbv2.ApplicationTargetGroup(
            self, "DataTargets", vpc=self.vpc, port=FRONT.port, protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP, targets=[self.service],
            deregistration_delay=cdk.Duration.seconds(DRAIN_SECONDS),
            health_check=elbv2.HealthCheck(path=FRONT.health_path, healthy_http_codes="200"))
        self.listener = self._listener(deploy)
        self._rules()
        self._acknowledge(bucket)
        endpoint = cdk.CfnOutput(self, "Endpoint", description="OS_IMAGE_URL with the data plane on",
                                 value=f"{'https' if deploy.data_plane_certificate_arn else 'http'}://"
                                       f"{self.load_balancer.load_balancer_dns_name}")
        endpoint.override_logical_id("DataPlaneEndpoint")

    def _acknowledge(self, bucket: s3.IBucket) -> None:
        stack = cdk.Stack.of(self)
        bucket_id = stack.resolve(stack.get_logical_id(bucket.node.default_child))  # type: ignore[arg-type]
        findings = dict(ACKNOWLEDGED)
        for prefix in OBJECT_PREFIXES:
            findings[f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{prefix}*]"] = (
                f"Objects under {prefix} of this one bucket: keys are image ids, not known at deploy")
        for finding, reason in findings.items():
            cdk.Validations.of(self).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))

    def _network(self, log_retention: logs.RetentionDays) -> ec2.Vpc:
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=log_retention, removal_policy=cdk.RemovalPolicy.DESTROY)
        vpc = ec2.Vpc(
            self, "Vpc", max_azs=2, nat_gateways=1,  # egress for the token check (JWKS, Keystone)
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="tasks", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20),
            ],
            flow_logs={"all": ec2.FlowLogOptions(destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))},
        )
        # Image data and table traffic stay off the NAT gateway (no per-GB charge, no bottleneck).
        vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        vpc.add_gateway_endpoint("DynamoDB", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)
        return vpc

    def _task_role(self, deploy: DeployConfig, tables: Mapping[str, dynamodb.CfnTable], bucket: s3.IBucket) -> iam.Role:
        role = iam.Role(self, "TaskRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
                        description="The data plane's containers: the upload routes' calls only")
        for table_role, actions in TABLE_GRANTS.items():
            role.add_to_policy(iam.PolicyStatement(actions=list(actions), resources=[tables[table_role].attr_arn]))
        role.add_to_policy(iam.PolicyStatement(
            actions=list(OBJECT_GRANTS), resources=[bucket.arn_for_objects(f"{p}*") for p in OBJECT_PREFIXES]))
        if deploy.auth_mode == "cloud" and deploy.keystone_service_secret_arn:
            role.add_to_policy(iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"],
                                                   resources=[deploy.keystone_service_secret_arn]))
        return role

    def _service(self, deploy: DeployConfig, environment: Mapping[str, str],
                 log_retention: logs.RetentionDays) -> ecs.FargateService:
        cluster = ecs.Cluster(self, "Cluster", vpc=self.vpc, container_insights_v2=ecs.ContainerInsights.ENABLED)
        task = ecs.FargateTaskDefinition(self, "Task", cpu=deploy.data_plane_cpu,
                                         memory_limit_mib=deploy.data_plane_memory, task_role=self.task_role)
        logs_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=cdk.RemovalPolicy.DESTROY)
        task.add_container(
            "front", image=ecs.ContainerImage.from_asset(str(ROOT), file=DOCKERFILE),
            command=list(FRONT.command),
            environment={**environment, FRONT.mode_env: FRONT.mode, FRONT.port_env: str(FRONT.port),
                         "AWS_REGION": cdk.Stack.of(self).region},
            port_mappings=[ecs.PortMapping(container_port=FRONT.port)],
            logging=ecs.LogDrivers.aws_logs(stream_prefix="front", log_group=logs_group),
        )
        return ecs.FargateService(
            self, "Service", cluster=cluster, task_definition=task, desired_count=deploy.data_plane_tasks,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True), min_healthy_percent=100)

    def _function_targets(self, api_function: lambda_.IFunction) -> elbv2.ApplicationTargetGroup:
        # CDK adds no permission for a function imported by ARN (Chalice's get_function): add it, and make
        # the target group wait for it (the load balancer checks it when registering the target). The
        # target group's ARN cannot narrow it: the group depends on the permission, not the other way.
        permission = lambda_.CfnPermission(self, "InvokeByLoadBalancer", action="lambda:InvokeFunction",
                                           function_name=api_function.function_arn,
                                           principal="elasticloadbalancing.amazonaws.com")
        group = elbv2.ApplicationTargetGroup(self, "FunctionTargets", target_type=elbv2.TargetType.LAMBDA)
        cfn = group.node.default_child
        assert isinstance(cfn, elbv2.CfnTargetGroup)
        # The target by ARN: CDK's LambdaTarget cannot take Chalice's imported function.
        cfn.add_property_override("Targets", [{"Id": api_function.function_arn}])
        # Repeated query parameters (Glance's filters) arrive only with multi-value headers on.
        group.set_attribute("lambda.multi_value_headers.enabled", "true")
        group.node.add_dependency(permission)
        return group

    def _listener(self, deploy: DeployConfig) -> elbv2.ApplicationListener:
        default = elbv2.ListenerAction.forward([self.function_targets])
        if not deploy.data_plane_certificate_arn:
            return self.load_balancer.add_listener("Http", port=80, open=True, default_action=default)
        certificate = acm.Certificate.from_certificate_arn(self, "Certificate", deploy.data_plane_certificate_arn)
        self.load_balancer.add_redirect(source_port=80, target_port=443)
        return self.load_balancer.add_listener("Https", port=443, open=True, certificates=[certificate],
                                               ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS, default_action=default)

    def _rules(self) -> None:
        for offset, route in enumerate(FUNCTION_ROUTES):
            self._rule(f"Functions{offset}", FUNCTION_RULE_PRIORITY + offset, route, self.function_targets)
        for offset, route in enumerate(DATA_ROUTES):
            self._rule(f"Data{offset}", DATA_RULE_PRIORITY + offset, route, self.data_targets)

    def _rule(self, name: str, priority: int, route: Route, group: elbv2.ApplicationTargetGroup) -> None:
        self.listener.add_action(name, priority=priority, action=elbv2.ListenerAction.forward([group]), conditions=[
            elbv2.ListenerCondition.http_request_methods(list(route.methods)),
            elbv2.ListenerCondition.path_patterns(list(route.paths))])
