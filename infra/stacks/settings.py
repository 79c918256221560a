"""What a deployment is configured with: CDK context (``cdk.json``, ``-c key=value``) -> DeployConfig."""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, Callable

from chalicelib import config as app_config


# DeployConfig field -> the AuthSettings field (and so the variable) it sets.
AUTH_FIELDS = {
    "auth_provider": "provider", "jwt_issuer": "jwt_issuer", "jwt_audience": "jwt_audience",
    "jwt_jwks_url": "jwt_jwks_url", "jwt_user_claim": "user_claim", "jwt_project_claim": "project_claim",
    "jwt_roles_claim": "roles_claim", "keystone_url": "keystone_url",
    "keystone_service_secret_arn": "keystone_service_secret",
}


@dataclass(frozen=True)
class DeployConfig:
    """One stage of the service. ``production`` stages retain data and refuse dev mode."""

    stage: str = "dev"
    auth_mode: str = "cloud"
    auth_provider: str = "jwt"
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_jwks_url: str = ""
    jwt_user_claim: str = ""
    jwt_project_claim: str = ""
    jwt_roles_claim: str = ""
    keystone_url: str = ""
    keystone_service_secret_arn: str = ""
    # Seconds API Gateway reuses an authorizer answer per token (0 disables its cache).
    authorizer_cache_seconds: int = 60
    # Package without third-party packages (offline synth, tests); never for a deployment.
    app_only_package: bool = False
    stepfunctions_dir: str = "stepfunctions"
    # Other Settings variables for every function, e.g. {"IMAGES_DELAYED_DELETE": "true"}.
    app_env: dict[str, str] = field(default_factory=dict)
    # API Gateway stage throttling for every method: steady requests/s and burst (cdk.json sets them).
    api_throttle_rate: int = 100
    api_throttle_burst: int = 200
    # The data plane for large uploads (infra/stacks/data_plane.py): -c data_plane=on.
    data_plane: bool = False
    # The load balancer's HTTPS certificate (ACM); a production stage refuses a data plane without one.
    data_plane_certificate_arn: str = ""
    # The stack's region (else the CLI's CDK_DEFAULT_REGION): the data plane's load balancer logs need it.
    region: str = ""
    data_plane_tasks: int = 2
    data_plane_cpu: int = 1024  # Fargate CPU units of one task
    data_plane_memory: int = 2048  # MiB of one task: the upload path holds a few parts, never an image
    # Stores (IMAGES_STORES without bucket names): the first is the stack's image bucket; each other store in
    # the stack's region gets a bucket of its own with the same security settings; a store in another region
    # names its existing "bucket". E.g. [{"id": "main"}, {"id": "dr", "region": "eu-west-1", "bucket": "x"}].
    stores: list[dict[str, Any]] = field(default_factory=list)

    @property
    def production(self) -> bool:
        return self.stage in app_config.PRODUCTION_STAGES

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> "DeployConfig":
        """Read every field from context (same names); raises ConfigError for an invalid combination."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = get(f.name)
            if raw is None:
                continue
            if f.type == "bool":
                raw = raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes", "on")
            elif f.type == "int":
                raw = int(raw)
            elif f.name in ("app_env", "stores") and isinstance(raw, str):
                raw = json.loads(raw)  # -c 'app_env={"IMAGES_DELAYED_DELETE": "true"}' arrives as text
            values[f.name] = raw
        deploy = cls(**values)
        deploy.validate()
        return deploy

    def auth_env(self) -> dict[str, str]:
        """The authorizer's Settings variables (cloud mode), empty values left out."""
        if self.auth_mode != "cloud":
            return {}
        env = {app_config.declaration(app_config.AuthSettings, name).env: getattr(self, field_name)
               for field_name, name in AUTH_FIELDS.items()}
        return {k: v for k, v in env.items() if v}

    def validate(self) -> None:
        """Fail the synth as the functions would fail at runtime: dev in production, incomplete auth."""
        if self.auth_mode not in app_config.AUTH_MODES:
            raise app_config.ConfigError(f"auth_mode must be one of {app_config.AUTH_MODES}")
        app_config.refuse_dev_in_production(self.stage, self.auth_mode)
        if self.auth_mode == "cloud":
            app_config.AuthSettings.from_env(self.auth_env())
        if self.data_plane and self.production and not self.data_plane_certificate_arn:
            raise app_config.ConfigError("data_plane in a production stage needs data_plane_certificate_arn (HTTPS)")
        self._validate_stores()

    def _validate_stores(self) -> None:
        ids = [s.get("id") for s in self.stores]
        if not all(isinstance(i, str) and i for i in ids) or len(set(ids)) != len(ids):
            raise app_config.ConfigError(f"stores: every store needs a unique string 'id': {ids}")
        if self.stores and ("bucket" in self.stores[0] or self.stores[0].get("prefix")):
            raise app_config.ConfigError("stores: the first store is the stack's image bucket; give it no 'bucket' "
                                         "and no 'prefix'")
        for store in self.stores[1:]:
            if store.get("region") and "bucket" not in store:
                raise app_config.ConfigError(
                    f"stores: store {store['id']} is in region {store['region']}: name its existing 'bucket' "
                    "(a stack makes buckets in its own region only)")
