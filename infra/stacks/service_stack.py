"""The whole service in one stack: tables, buckets, the Chalice app, state machines, authorizer, alarms."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from chalice.utils import to_cfn_resource_name
from constructs import Construct
from pynamodb.models import Model

from chalicelib import config as app_config
from chalicelib.domain.data import UPLOAD_PREFIX
from infra.stacks import gateway, grants, workflows
from infra.stacks.data_plane import DataPlane
from infra.stacks.chalice_app import ChaliceApp
from infra.stacks.security import acknowledge_scoped_wildcards, acknowledge_store_wildcards, suppress_justified
from infra.stacks.settings import DeployConfig
from infra.stacks.tables import ServiceTables, table_env_var

ROOT = Path(__file__).resolve().parents[2]
API_HANDLER = "api_handler"  # Chalice's name for the function serving every route
AUTHORIZER = "authorizer"  # @app.lambda_function(name=...) in app.py
# The S3-triggered import: app.py's function of this name gets "Object Created" events under the upload prefix.
IMPORT_TRIGGER = "import_trigger"
IMPORT_TRIGGER_PREFIX = UPLOAD_PREFIX
METADEFS_LOADER = "load_metadefs"  # glance-manage db_load_metadefs' role, run after a deploy
STAGING_PREFIX = grants.STAGING
STAGING_EXPIRY_DAYS = 7
TABLE_ACTIONS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem",
                 "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                 "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable"]
OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                  "s3:ListMultipartUploadParts"]
LOG_RETENTION = logs.RetentionDays.ONE_MONTH


DATA_STEPS = ("import_fetch", "import_verify", "import_activate", "import_hash")
DATA_STEP_TIMEOUT = 900  # seconds: Lambda's maximum


def logical_id(name: str) -> str:
    """The logical id ``chalice package`` gives the function of that Chalice name."""
    return "APIHandler" if name == API_HANDLER else to_cfn_resource_name(name)


def chalice_function_names(chalice_app: Any) -> list[str]:
    """Every Lambda function ``chalice package`` makes for ``chalice_app`` (by Chalice name)."""
    names = [API_HANDLER] if chalice_app.routes else []
    names += [f.name for f in chalice_app.pure_lambda_functions]
    names += [e.name for e in chalice_app.event_sources]
    return names


def import_rule(scope: Construct, bucket_name: str, trigger: Any) -> events.Rule:
    """S3 "Object Created" events under the import prefix of ``bucket_name`` -> ``trigger`` (allowed to invoke it)."""
    rule = events.Rule(scope, "ImportOnObjectCreated", description="Data landing in staging starts an import",
                       event_pattern=events.EventPattern(
                           source=["aws.s3"], detail_type=["Object Created"],
                           detail={"bucket": {"name": [bucket_name]},
                                   "object": {"key": [{"prefix": IMPORT_TRIGGER_PREFIX}]}}),
                       targets=[targets.LambdaFunction(trigger)])
    # CDK adds no permission for a function imported by ARN (Chalice's get_function): add it here.
    lambda_.CfnPermission(scope, "ImportTriggerPermission", action="lambda:InvokeFunction",
                          function_name=trigger.function_arn, principal="events.amazonaws.com",
                          source_arn=rule.rule_arn)
    return rule


class GlanceServiceStack(cdk.Stack):
    """A Glance-compatible image service; ``deploy`` says which stage and how callers authenticate."""

    def __init__(self, scope: Construct, id: str, deploy: DeployConfig, chalice_app: Any,
                 table_models: Mapping[str, type[Model]], **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        deploy.validate()
        self.deploy = deploy
        removal = cdk.RemovalPolicy.RETAIN if deploy.production else cdk.RemovalPolicy.DESTROY
        self.tables = ServiceTables(self, "Tables", table_models, deploy.production)
        self.bucket = self._buckets(removal)
        self.store_buckets = self._store_buckets(removal)
        names = chalice_function_names(chalice_app)
        self.roles = self._function_roles(names)
        self.role = self.roles[API_HANDLER]  # the API's: Chalice's stage-wide role, each function's set below
        machines = workflows.load_definitions(ROOT / deploy.stepfunctions_dir)
        machine_arns = {name: self._machine_arn(name) for name in machines}
        self.function_env = self._environment(machine_arns)
        self.chalice = ChaliceApp(self, "App", source_dir=str(ROOT), app_only=deploy.app_only_package,
                                  stage_config=self._stage_config())
        self.functions = {name: self.chalice.get_function(logical_id(name)) for name in names}
        for name, role in self.roles.items():
            self.chalice.get_resource(logical_id(name)).add_property_override("Role", role.role_arn)
        self._log_groups()
        if AUTHORIZER in self.functions:
            # Per-function settings in stage_config lose to the stage-wide ones Chalice is given here.
            authorizer = self.chalice.get_resource(logical_id(AUTHORIZER))
            authorizer.add_property_override("MemorySize", 512)
            authorizer.add_property_override("Timeout", 10)
        for name in DATA_STEPS:
            # The data steps move whole images (an http fetch within IMAGES_IMPORT_FETCH_DEADLINE_MS, the
            # one-pass verify, the server-side copy, an added location's hashing): Lambda's longest timeout, not the
            # API's minute.
            self.chalice.get_resource(logical_id(name)).add_property_override("Timeout", DATA_STEP_TIMEOUT)
        self._grant(machine_arns)
        self.machines = {name: self._state_machine(name, text) for name, text in machines.items()}
        self._import_trigger()
        self._metadefs_loader_output()
        if deploy.auth_mode == "cloud":
            self._authorizer()
        gateway.apply(self.chalice.get_resource("RestAPI"), deploy.api_throttle_rate, deploy.api_throttle_burst)
        self.data_plane = DataPlane(
            self, "DataPlane", deploy=deploy, tables=self.tables.tables, bucket=self.bucket,
            access_logs=self.access_logs, environment=self.function_env, api_function=self.functions[API_HANDLER],
            log_retention=LOG_RETENTION) if deploy.data_plane else None
        self._alarms()
        suppress_justified(self)
        acknowledge_scoped_wildcards(
            self, [self.resolve(self.get_logical_id(t)) for t in self.tables.tables.values()],
            self.resolve(self.get_logical_id(self.bucket.node.default_child)),
            sorted({"", *(prefix for g in grants.GRANTS.values() for prefix in g.objects)}))
        further = self._further_stores()
        acknowledge_store_wildcards(
            self, [(self.resolve(self.get_logical_id(b.node.default_child)), s.get("prefix", ""))
                   for s, b in further if isinstance(b, s3.Bucket)],
            [(s["bucket"], s.get("prefix", "")) for s, b in further if not isinstance(b, s3.Bucket)])

    # -- data ---------------------------------------------------------------------------
    def _buckets(self, removal: cdk.RemovalPolicy) -> s3.Bucket:
        """The access-log bucket (``self.access_logs``, every data bucket's) and the image bucket."""
        common: dict[str, Any] = dict(
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED, removal_policy=removal,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        )
        self._common = common
        self.access_logs = s3.Bucket(self, "AccessLogs", **common,
                                     lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(365))])
        bucket = self._data_bucket("Images", "images/", s3.LifecycleRule(
            id="staging", prefix=STAGING_PREFIX, expiration=cdk.Duration.days(STAGING_EXPIRY_DAYS)))
        # S3 -> EventBridge in CloudFormation itself; event_bridge_enabled=True would add a
        # custom-resource Lambda (with a managed policy) only to set this one property.
        cfn_bucket = bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.add_property_override("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True)
        return bucket

    def _data_bucket(self, construct_id: str, log_prefix: str, *rules: s3.LifecycleRule) -> s3.Bucket:
        """An image data bucket: blocked public access, TLS only, encrypted, access-logged, versioned in production."""
        return s3.Bucket(
            self, construct_id, **self._common,
            # Versioning guards production data against overwrites and deletes; other stages skip its cost.
            versioned=self.deploy.production,
            server_access_logs_bucket=self.access_logs, server_access_logs_prefix=log_prefix,
            lifecycle_rules=[*rules, s3.LifecycleRule(
                id="multipart", abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                noncurrent_version_expiration=cdk.Duration.days(30))],
        )

    def _store_buckets(self, removal: cdk.RemovalPolicy) -> dict[str, s3.IBucket]:
        """Each configured store's bucket (the first store's is the image bucket): made here in the stack's
        region with the image bucket's settings, or an existing one by name (another region)."""
        buckets: dict[str, s3.IBucket] = {}
        for index, store in enumerate(self.deploy.stores):
            if index == 0:
                buckets[store["id"]] = self.bucket
            elif "bucket" in store:
                buckets[store["id"]] = s3.Bucket.from_bucket_name(self, f"Store{index}", store["bucket"])
            else:
                buckets[store["id"]] = self._data_bucket(f"Store{index}", f"stores/{store['id']}/")
        return buckets

    def _further_stores(self) -> list[tuple[dict[str, Any], s3.IBucket]]:
        """Each store after the first (whose bucket is the image bucket), with its bucket."""
        return [(spec, self.store_buckets[spec["id"]]) for spec in self.deploy.stores[1:]]

    def _stores_env(self) -> dict[str, str]:
        """IMAGES_STORES with each store's bucket name (tokens CloudFormation resolves)."""
        if not self.deploy.stores:
            return {}
        listed = [{**{k: v for k, v in store.items() if k != "bucket"},
                   "bucket": self.store_buckets[store["id"]].bucket_name} for store in self.deploy.stores]
        return {app_config.declaration(app_config.StoreSettings, "stores").env: cdk.Stack.of(self).to_json_string(listed)}

    # -- functions ----------------------------------------------------------------------
    def _function_roles(self, names: list[str]) -> dict[str, iam.Role]:
        # One role per function, so each gets only what its code calls (infra/stacks/grants.py).
        return {name: iam.Role(
            self, f"{logical_id(name)}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"The {name} function of the Chalice app (manage_iam_role: false)",
            inline_policies={"traces": iam.PolicyDocument(statements=[
                iam.PolicyStatement(actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"]),
            ])},
        ) for name in names}

    def _log_groups(self) -> None:
        # Made here, not by Chalice's log_retention_in_days: chalice 1.34 spells the API
        # handler's logical id wrongly in that log group (${ApiHandler} for APIHandler).
        for name in self.functions:
            fn_name = self.chalice.get_resource(logical_id(name)).ref
            group = logs.LogGroup(self, f"{logical_id(name)}Logs", log_group_name=f"/aws/lambda/{fn_name}",
                                  retention=LOG_RETENTION, removal_policy=cdk.RemovalPolicy.DESTROY)
            self.roles[name].add_to_principal_policy(iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[group.log_group_arn]))

    def _machine_arn(self, name: str) -> str:
        # Built from the fixed name, not a Ref: the functions name the machine and the machine
        # names the functions, and CloudFormation refuses such a cycle.
        return self.format_arn(service="states", resource="stateMachine", resource_name=self._machine_name(name),
                               arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)

    def _machine_name(self, name: str) -> str:
        return f"{self.stack_name}-{name}"

    def _environment(self, machine_arns: Mapping[str, str]) -> dict[str, str]:
        env = {table_env_var(role): table.ref for role, table in self.tables.tables.items()}
        env[app_config.ENV_BUCKET] = self.bucket.bucket_name
        env.update(self._stores_env())
        env[app_config.ENV_AUTH_MODE] = self.deploy.auth_mode
        env[app_config.ENV_STAGE] = self.deploy.stage
        env.update({workflows.env_var(name): arn for name, arn in machine_arns.items()})
        env.update(self.deploy.auth_env())
        return {**self.deploy.app_env, **env}

    def _stage_config(self) -> dict[str, Any]:
        return {
            "api_gateway_stage": "api",
            "manage_iam_role": False,
            "iam_role_arn": self.role.role_arn,
            "environment_variables": self.function_env,
            "xray": True,  # Lambda's and API Gateway's own tracing; no SDK in the package
            "lambda_memory_size": 1024,
            "lambda_timeout": 60,
        }

    def _grant(self, machine_arns: Mapping[str, str]) -> None:
        # Named actions on named resources (no prefix wildcards such as CDK's grant_read_write), per
        # function: what its code calls (grants.GRANTS, proven by the test suite's IAM check).
        for name, role in self.roles.items():
            for statement in self._statements(grants.GRANTS.get(name, grants.Grant()), machine_arns):
                role.add_to_principal_policy(statement)

    def _statements(self, grant: grants.Grant, machine_arns: Mapping[str, str]) -> list[iam.PolicyStatement]:
        tables = self.tables.tables
        out = [iam.PolicyStatement(actions=list(actions), resources=[tables[role].attr_arn])
               for role, actions in grant.tables.items()]
        out += [iam.PolicyStatement(actions=["dynamodb:Query"], resources=[f"{tables[role].attr_arn}/index/*"])
                for role in grant.indexes]
        out += [iam.PolicyStatement(actions=list(actions), resources=[self.bucket.arn_for_objects(f"{prefix}*")])
                for prefix, actions in grant.objects.items()]
        # The further stores' buckets (the default store is self.bucket): their data under each store's prefix.
        for spec, bucket in self._further_stores() if grant.stores else ():
            out.append(iam.PolicyStatement(
                actions=list(grant.stores), resources=[bucket.arn_for_objects(f"{spec.get('prefix', '')}{grants.DATA}*")]))
        if grant.bucket:
            out.append(iam.PolicyStatement(actions=list(grant.bucket), resources=[self.bucket.bucket_arn]))
        started = [machine_arns[m] for m in grant.machines if m in machine_arns]
        if started:
            out.append(iam.PolicyStatement(actions=["states:StartExecution"], resources=started))
        if grant.keystone_secret and self.deploy.auth_mode == "cloud" and self.deploy.keystone_service_secret_arn:
            out.append(iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"],
                                           resources=[self.deploy.keystone_service_secret_arn]))
        return out

    # -- pipeline -----------------------------------------------------------------------
    def _state_machine(self, name: str, definition: str) -> sfn.StateMachine:
        values = {**self.function_env, "AWS_REGION": self.region}
        subs, invoked = workflows.substitutions(name, definition, self.functions, values)
        log_group = logs.LogGroup(self, f"{name}Logs", retention=LOG_RETENTION,
                                  removal_policy=cdk.RemovalPolicy.DESTROY)
        machine = sfn.StateMachine(
            self, f"{name}Machine", state_machine_name=self._machine_name(name),
            definition_body=sfn.DefinitionBody.from_string(definition), definition_substitutions=subs,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL), tracing_enabled=True,
        )
        if invoked:  # unqualified ARNs only: Chalice deploys no versions or aliases
            machine.add_to_role_policy(iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[fn.function_arn for fn in invoked]))
        self._uses_tables_and_bucket(machine, definition)
        return machine

    def _uses_tables_and_bucket(self, machine: sfn.StateMachine, definition: str) -> None:
        # Direct service integrations (no Lambda) need the machine's own grants.
        for role, table in self.tables.tables.items():
            if f"${{{table_env_var(role)}}}" in definition:
                machine.add_to_role_policy(iam.PolicyStatement(actions=TABLE_ACTIONS, resources=[table.attr_arn]))
        if f"${{{app_config.ENV_BUCKET}}}" in definition:
            machine.add_to_role_policy(iam.PolicyStatement(
                actions=OBJECT_ACTIONS, resources=[self.bucket.arn_for_objects("*")]))

    def _import_trigger(self) -> None:
        trigger = self.functions.get(IMPORT_TRIGGER)
        if trigger is not None:
            import_rule(self, self.bucket.bucket_name, trigger)

    def _metadefs_loader_output(self) -> None:
        # Nothing in the stack runs load_metadefs: the operator invokes it after a deploy (README, Deploy).
        if METADEFS_LOADER in self.functions:
            cdk.CfnOutput(self, "LoadMetadefsName", value=self.chalice.get_resource(logical_id(METADEFS_LOADER)).ref,
                          description="Invoke once after each deploy to load the standard metadefs namespaces")

    # -- identity and alarms ------------------------------------------------------------
    def _authorizer(self) -> None:
        # SAM applies a DefaultAuthorizer to every method of the API's definition (all of
        # Chalice's routes) and creates the permission for API Gateway to invoke the function.
        api = self.chalice.get_resource("RestAPI")
        api.add_property_override("Auth", {
            "DefaultAuthorizer": "KeystoneOrJwt",
            "Authorizers": {"KeystoneOrJwt": {
                "FunctionArn": self.functions[AUTHORIZER].function_arn,
                "FunctionPayloadType": "TOKEN",
                "Identity": {"Header": "X-Auth-Token",
                             "ReauthorizeEvery": self.deploy.authorizer_cache_seconds},
            }},
        })

    def _alarms(self) -> None:
        for name in self.functions:
            if name == AUTHORIZER:
                continue  # it fails by design on every bad token ("Unauthorized" is API Gateway's 401)
            fn_name = self.chalice.get_resource(logical_id(name)).ref
            metric = cloudwatch.Metric(namespace="AWS/Lambda", metric_name="Errors", statistic="Sum",
                                       dimensions_map={"FunctionName": fn_name}, period=cdk.Duration.minutes(5))
            metric.create_alarm(self, f"{logical_id(name)}Errors", threshold=1, evaluation_periods=1,
                                alarm_description=f"Lambda {name} raised errors",
                                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)
        for name, machine in self.machines.items():
            machine.metric_failed(period=cdk.Duration.minutes(5)).create_alarm(
                self, f"{name}FailedExecutions", threshold=1, evaluation_periods=1,
                alarm_description=f"State machine {name} had failed executions",
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)

