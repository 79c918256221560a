"""Settings: the only reader of os.environ. Validated once, passed down as values."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

ENV_REGION = "AWS_REGION"
ENV_REGION_FALLBACK = "AWS_DEFAULT_REGION"
ENV_ENDPOINT = "AWS_ENDPOINT_URL"
ENV_IMAGES_TABLE = "IMAGES_TABLE"
ENV_MEMBERS_TABLE = "IMAGES_MEMBERS_TABLE"
ENV_USAGE_TABLE = "IMAGES_USAGE_TABLE"
ENV_STORAGE_QUOTA = "IMAGES_USER_STORAGE_QUOTA"
ENV_BUCKET = "IMAGES_BUCKET"
ENV_AUTH_MODE = "IMAGES_AUTH_MODE"
ENV_DEBUG = "IMAGES_DEBUG"
ENV_PROPERTY_QUOTA = "IMAGES_PROPERTY_QUOTA"
ENV_TAG_QUOTA = "IMAGES_TAG_QUOTA"
ENV_LIMIT_DEFAULT = "IMAGES_LIMIT_PARAM_DEFAULT"
ENV_LIMIT_MAX = "IMAGES_API_LIMIT_MAX"
ENV_PUBLIC_ENDPOINT = "IMAGES_PUBLIC_ENDPOINT"
ENV_SIZE_CAP = "IMAGES_SIZE_CAP"
ENV_DOWNLOAD_MODE = "IMAGES_DOWNLOAD_MODE"
ENV_PROXY_MAX_BYTES = "IMAGES_PROXY_MAX_BYTES"
ENV_DELAYED_DELETE = "IMAGES_DELAYED_DELETE"
ENV_SCRUB_DELAY = "IMAGES_SCRUB_DELAY_SECONDS"
ENV_SHOW_MULTIPLE_LOCATIONS = "IMAGES_SHOW_MULTIPLE_LOCATIONS"
ENV_SHOW_DIRECT_URL = "IMAGES_SHOW_DIRECT_URL"
ENV_LOCATION_QUOTA = "IMAGES_LOCATION_QUOTA"
ENV_ALLOWED_HOSTS = "IMPORT_ALLOWED_HOSTS"
ENV_ALLOWED_PORTS = "IMPORT_ALLOWED_PORTS"
ENV_STAGE = "IMAGES_STAGE"
DOWNLOAD_MODES = ("redirect", "proxy")
# Sharing, formats and per-project limits (issue 7).
ENV_METADEFS_TABLE = "IMAGES_METADEFS_TABLE"
ENV_MEMBER_QUOTA = "IMAGES_MEMBER_QUOTA"
ENV_DISK_FORMATS = "IMAGES_DISK_FORMATS"
ENV_CONTAINER_FORMATS = "IMAGES_CONTAINER_FORMATS"
ENV_IMPORT_METHODS = "IMAGES_ENABLED_IMPORT_METHODS"
ENV_LIMIT_COUNT_TOTAL = "IMAGES_LIMIT_IMAGE_COUNT_TOTAL"
ENV_LIMIT_COUNT_UPLOADING = "IMAGES_LIMIT_IMAGE_COUNT_UPLOADING"
ENV_LIMIT_SIZE_TOTAL = "IMAGES_LIMIT_IMAGE_SIZE_TOTAL_MIB"
ENV_LIMIT_STAGE_TOTAL = "IMAGES_LIMIT_IMAGE_STAGE_TOTAL_MIB"
# Tasks and the import pipeline (issue 5).
ENV_TASKS_TABLE = "IMAGES_TASKS_TABLE"
ENV_TASK_TTL_HOURS = "IMAGES_TASK_TIME_TO_LIVE_HOURS"
ENV_TASKS_ADMIN_ONLY = "IMAGES_TASKS_API_ADMIN_ONLY"
# Set by the CDK stack (infra/stacks/workflows.env_var("import_image")) and by the local runner.
ENV_IMPORT_STATE_MACHINE = "IMAGES_IMPORT_IMAGE_STATE_MACHINE_ARN"
IMPORT_METHODS = ("glance-direct", "web-download", "copy-image")  # Glance's enabled_import_methods
# Glance's [image_format] defaults.
DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")

AUTH_MODES = ("dev", "cloud")
# A production stage never trusts identity headers (DESIGN.md 6): dev mode is refused there.
PRODUCTION_STAGES = ("prod", "production")

# Cloud identity, read only by the API Gateway authorizer (chalicelib/api/authorizer.py).
ENV_AUTH_PROVIDER = "IMAGES_AUTH_PROVIDER"
ENV_JWT_ISSUER = "IMAGES_JWT_ISSUER"
ENV_JWT_AUDIENCE = "IMAGES_JWT_AUDIENCE"
ENV_JWT_JWKS_URL = "IMAGES_JWT_JWKS_URL"
ENV_JWT_USER_CLAIM = "IMAGES_JWT_USER_CLAIM"
ENV_JWT_PROJECT_CLAIM = "IMAGES_JWT_PROJECT_CLAIM"
ENV_JWT_ROLES_CLAIM = "IMAGES_JWT_ROLES_CLAIM"
ENV_KEYSTONE_URL = "IMAGES_KEYSTONE_URL"
ENV_KEYSTONE_SERVICE_SECRET = "IMAGES_KEYSTONE_SERVICE_SECRET"
AUTH_PROVIDERS = ("jwt", "keystone")


class ConfigError(Exception):
    """The environment does not describe a runnable service."""


@dataclass(frozen=True)
class Settings:
    """Everything configurable; Glance's defaults where Glance has one."""

    region: str
    images_table: str
    members_table: str
    usage_table: str
    bucket: str
    auth_mode: str
    endpoint_url: str | None = None
    debug: bool = False
    image_property_quota: int = 128
    image_tag_quota: int = 128
    limit_param_default: int = 25
    api_limit_max: int = 1000
    public_endpoint: str | None = None
    image_size_cap: int = 1099511627776
    download_mode: str = "redirect"
    proxy_max_bytes: int = 4_500_000
    delayed_delete: bool = False
    scrub_delay_seconds: int = 0
    user_storage_quota: int = 0  # bytes per project; 0 = unlimited, as Glance
    show_multiple_locations: bool = False
    show_image_direct_url: bool = False
    image_location_quota: int = 10
    # Outbound http(s) (locations, web-download): hosts allowed even on private addresses, and ports.
    allowed_hosts: frozenset[str] = frozenset()
    allowed_ports: frozenset[int] = frozenset({80, 443})
    metadefs_table: str = ""
    image_member_quota: int = 128
    disk_formats: tuple[str, ...] = DISK_FORMATS
    container_formats: tuple[str, ...] = CONTAINER_FORMATS
    import_methods: tuple[str, ...] = IMPORT_METHODS
    # Per-project limits as Glance's keystone limits (sizes in MiB); negative = unlimited.
    limit_image_count_total: int = -1
    limit_image_count_uploading: int = -1
    limit_image_size_total: int = -1
    limit_image_stage_total: int = -1
    stage: str = "dev"
    tasks_table: str = ""
    task_time_to_live_hours: int = 48  # Glance's [task] task_time_to_live
    tasks_admin_only: bool = True  # Glance's tasks_api_access policy: role:admin
    import_state_machine_arn: str | None = None

    def table_names(self) -> dict[str, str]:
        """The table name of each persistence role (the keys of dynamo_models.TABLE_MODELS)."""
        return {"images": self.images_table, "members": self.members_table, "usage": self.usage_table,
                "metadefs": self.metadefs_table, "tasks": self.tasks_table}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Build from the environment; raises ConfigError naming what is missing or malformed."""
        env = os.environ if env is None else env
        region = env.get(ENV_REGION) or env.get(ENV_REGION_FALLBACK)
        required = {ENV_IMAGES_TABLE: None, ENV_MEMBERS_TABLE: None, ENV_USAGE_TABLE: None, ENV_METADEFS_TABLE: None,
                    ENV_TASKS_TABLE: None,
                    ENV_BUCKET: None, ENV_AUTH_MODE: None}
        missing = [name for name in required if not env.get(name)]
        if not region:
            missing.insert(0, ENV_REGION)
        if missing:
            raise ConfigError("missing environment variables: " + ", ".join(missing))
        auth_mode = env[ENV_AUTH_MODE]
        if auth_mode not in AUTH_MODES:
            raise ConfigError(f"{ENV_AUTH_MODE} must be one of {AUTH_MODES}, not {auth_mode!r}")
        stage = env.get(ENV_STAGE) or "dev"
        methods = _names(env, ENV_IMPORT_METHODS, IMPORT_METHODS)
        unknown = [m for m in methods if m not in IMPORT_METHODS]
        if unknown:
            raise ConfigError(f"{ENV_IMPORT_METHODS}: {', '.join(unknown)} not supported; choose from {IMPORT_METHODS}")
        refuse_dev_in_production(stage, auth_mode)
        return cls(
            region=str(region),
            images_table=env[ENV_IMAGES_TABLE],
            members_table=env[ENV_MEMBERS_TABLE],
            usage_table=env[ENV_USAGE_TABLE],
            bucket=env[ENV_BUCKET],
            auth_mode=auth_mode,
            endpoint_url=env.get(ENV_ENDPOINT) or None,
            debug=_bool(env, ENV_DEBUG, False),
            image_property_quota=_int(env, ENV_PROPERTY_QUOTA, 128),
            image_tag_quota=_int(env, ENV_TAG_QUOTA, 128),
            limit_param_default=_int(env, ENV_LIMIT_DEFAULT, 25),
            api_limit_max=_int(env, ENV_LIMIT_MAX, 1000),
            public_endpoint=env.get(ENV_PUBLIC_ENDPOINT) or None,
            image_size_cap=_int(env, ENV_SIZE_CAP, 1099511627776),
            download_mode=_choice(env, ENV_DOWNLOAD_MODE, DOWNLOAD_MODES),
            proxy_max_bytes=_int(env, ENV_PROXY_MAX_BYTES, 4_500_000),
            delayed_delete=_bool(env, ENV_DELAYED_DELETE, False),
            scrub_delay_seconds=_int(env, ENV_SCRUB_DELAY, 0),
            user_storage_quota=_int(env, ENV_STORAGE_QUOTA, 0),
            show_multiple_locations=_bool(env, ENV_SHOW_MULTIPLE_LOCATIONS, False),
            show_image_direct_url=_bool(env, ENV_SHOW_DIRECT_URL, False),
            image_location_quota=_int(env, ENV_LOCATION_QUOTA, 10),
            allowed_hosts=frozenset(h.strip().lower() for h in env.get(ENV_ALLOWED_HOSTS, "").split(",") if h.strip()),
            allowed_ports=frozenset(_ints(env, ENV_ALLOWED_PORTS, (80, 443))),
            metadefs_table=env[ENV_METADEFS_TABLE],
            image_member_quota=_int(env, ENV_MEMBER_QUOTA, 128),
            disk_formats=_names(env, ENV_DISK_FORMATS, DISK_FORMATS),
            container_formats=_names(env, ENV_CONTAINER_FORMATS, CONTAINER_FORMATS),
            import_methods=methods,
            limit_image_count_total=_int(env, ENV_LIMIT_COUNT_TOTAL, -1),
            limit_image_count_uploading=_int(env, ENV_LIMIT_COUNT_UPLOADING, -1),
            limit_image_size_total=_int(env, ENV_LIMIT_SIZE_TOTAL, -1),
            limit_image_stage_total=_int(env, ENV_LIMIT_STAGE_TOTAL, -1),
            stage=stage,
            tasks_table=env[ENV_TASKS_TABLE],
            task_time_to_live_hours=_int(env, ENV_TASK_TTL_HOURS, 48),
            tasks_admin_only=_bool(env, ENV_TASKS_ADMIN_ONLY, True),
            import_state_machine_arn=env.get(ENV_IMPORT_STATE_MACHINE) or None,
        )


def refuse_dev_in_production(stage: str, auth_mode: str) -> None:
    """Raise ConfigError when a production stage would trust identity headers (dev mode)."""
    if auth_mode == "dev" and stage in PRODUCTION_STAGES:
        raise ConfigError(f"{ENV_AUTH_MODE}=dev is refused in the production stage {stage!r}; use cloud")


@dataclass(frozen=True)
class AuthSettings:
    """How the authorizer validates tokens: JWTs against a JWKS, or Keystone tokens."""

    provider: str
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_jwks_url: str | None = None
    user_claim: str = "sub"
    project_claim: str = "project_id"
    roles_claim: str = "roles"
    keystone_url: str | None = None
    keystone_service_secret: str | None = None  # Secrets Manager id of the service user's credentials

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "AuthSettings":
        """Build from the environment; raises ConfigError naming what the chosen provider lacks."""
        env = os.environ if env is None else env
        provider = _choice(env, ENV_AUTH_PROVIDER, AUTH_PROVIDERS)
        needed = {
            "jwt": (ENV_JWT_ISSUER, ENV_JWT_AUDIENCE, ENV_JWT_JWKS_URL),
            "keystone": (ENV_KEYSTONE_URL, ENV_KEYSTONE_SERVICE_SECRET),
        }[provider]
        missing = [name for name in needed if not env.get(name)]
        if missing:
            raise ConfigError(f"{ENV_AUTH_PROVIDER}={provider} needs: " + ", ".join(missing))
        return cls(
            provider=provider,
            jwt_issuer=env.get(ENV_JWT_ISSUER) or None,
            jwt_audience=env.get(ENV_JWT_AUDIENCE) or None,
            jwt_jwks_url=env.get(ENV_JWT_JWKS_URL) or None,
            user_claim=env.get(ENV_JWT_USER_CLAIM) or "sub",
            project_claim=env.get(ENV_JWT_PROJECT_CLAIM) or "project_id",
            roles_claim=env.get(ENV_JWT_ROLES_CLAIM) or "roles",
            keystone_url=(env.get(ENV_KEYSTONE_URL) or "").rstrip("/") or None,
            keystone_service_secret=env.get(ENV_KEYSTONE_SERVICE_SECRET) or None,
        )


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None


def _ints(env: Mapping[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated integers, not {raw!r}") from None


def _names(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    if not names:
        raise ConfigError(f"{name} must list at least one format")
    return names


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name) or choices[0]
    if raw not in choices:
        raise ConfigError(f"{name} must be one of {choices}, not {raw!r}")
    return raw


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be a boolean, not {raw!r}")
