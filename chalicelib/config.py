"""Settings: the only reader of os.environ. Validated once, passed down as values.

Each setting is declared once, as a field of its group: its environment
variable, default, meaning and (through its type) its parser. ``from_env``
is generic over the declarations; the groups go as they are to the services
that use them. ``ENV`` maps every variable to its declaration, for the CDK
stack, the local runner, the README table and the tests.
"""
from __future__ import annotations

import dataclasses
import json
import os
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from chalicelib.domain.multipart import S3_MIN_PART
from chalicelib.domain.stores import HTTP, Store, StoreCatalog

DOWNLOAD_MODES = ("redirect", "proxy")
IMPORT_METHODS = ("glance-direct", "web-download", "copy-image")  # Glance's enabled_import_methods
# Glance's [image_format] defaults.
DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
AUTH_MODES = ("dev", "cloud")
FRONT_MODES = ("all", "data")  # chalicelib/front: every route (make run), or the data plane's upload routes
LOG_FORMATS = ("text", "json")
AUTH_PROVIDERS = ("jwt", "keystone")
# A production stage never trusts identity headers (DESIGN.md 6): dev mode is refused there.
PRODUCTION_STAGES = ("prod", "production")
_REQUIRED: Any = dataclasses.MISSING


class ConfigError(Exception):
    """The environment does not describe a runnable service."""


@dataclass(frozen=True)
class Declaration:
    """One setting: where it comes from and what it means."""

    env: str
    doc: str
    choices: tuple[str, ...] | None = None
    fallback: str | None = None  # a second variable read when ``env`` is unset (AWS_DEFAULT_REGION)


def setting(env: str, default: Any = _REQUIRED, doc: str = "", *, choices: tuple[str, ...] | None = None,
            fallback: str | None = None) -> Any:
    """Declare a field of a settings group; without ``default`` the variable is required."""
    meta = {"setting": Declaration(env, doc, choices, fallback)}
    if isinstance(default, (frozenset, tuple)) or default is _REQUIRED or default is None or isinstance(
            default, (int, str, bool)):
        return field(default=default, metadata=meta)
    raise TypeError(f"{env}: unsupported default {default!r}")  # pragma: no cover - a declaration bug


@dataclass(frozen=True)
class ResourceSettings:
    """The AWS resources the functions use (set by the CDK stack and the local runner)."""

    region: str = setting("AWS_REGION", doc="region", fallback="AWS_DEFAULT_REGION")
    images_table: str = setting("IMAGES_TABLE", doc="the images table")
    members_table: str = setting("IMAGES_MEMBERS_TABLE", doc="the image members table")
    usage_table: str = setting("IMAGES_USAGE_TABLE", doc="the per-project usage counters table")
    metadefs_table: str = setting("IMAGES_METADEFS_TABLE", doc="the metadata definitions table")
    tasks_table: str = setting("IMAGES_TASKS_TABLE", doc="the tasks table")
    bucket: str = setting("IMAGES_BUCKET", doc="the image data bucket")
    endpoint_url: str | None = setting("AWS_ENDPOINT_URL", None, "an AWS-compatible endpoint (the emulator locally)")
    import_state_machine_arn: str | None = setting(
        "IMAGES_IMPORT_IMAGE_STATE_MACHINE_ARN", None, "the import state machine (set by the CDK stack and make run)")

    def table_names(self) -> dict[str, str]:
        """The table name of each persistence role (the keys of dynamo_models.TABLE_MODELS)."""
        return {role: getattr(self, name) for role, name in TABLE_FIELDS.items()}


# Persistence role -> the ResourceSettings field naming its table.
TABLE_FIELDS = {"images": "images_table", "members": "members_table", "usage": "usage_table",
                "metadefs": "metadefs_table", "tasks": "tasks_table"}


@dataclass(frozen=True)
class IdentitySettings:
    """Who callers are: trusted headers (dev) or the API Gateway authorizer (cloud)."""

    auth_mode: str = setting("IMAGES_AUTH_MODE", doc="`dev` (trusted headers) or `cloud` (API Gateway authorizer)",
                             choices=AUTH_MODES)
    stage: str = setting("IMAGES_STAGE", "dev", "deployment stage; `prod`/`production` refuse `IMAGES_AUTH_MODE=dev`")
    debug: bool = setting("IMAGES_DEBUG", False, "Chalice debug mode (tracebacks in 500 answers)")


@dataclass(frozen=True)
class ApiSettings:
    """What the API answers look like: page sizes, links, formats."""

    limit_param_default: int = setting("IMAGES_LIMIT_PARAM_DEFAULT", 25, "list page size")
    api_limit_max: int = setting("IMAGES_API_LIMIT_MAX", 1000, "largest list page")
    page_max_bytes: int = setting("IMAGES_PAGE_MAX_BYTES", 1_000_000,
                                  "largest image listing answer in bytes: a page that would be larger ends early "
                                  "with a `next` link (a load balancer's Lambda target answers at most 1 MB)")
    public_endpoint: str | None = setting("IMAGES_PUBLIC_ENDPOINT", None,
                                          "base URL for version links (default: the request's Host)")
    disk_formats: tuple[str, ...] = setting("IMAGES_DISK_FORMATS", DISK_FORMATS, "allowed disk formats")
    container_formats: tuple[str, ...] = setting("IMAGES_CONTAINER_FORMATS", CONTAINER_FORMATS,
                                                 "allowed container formats")


@dataclass(frozen=True)
class LimitSettings:
    """Per-image quotas and per-project limits (negative: unlimited)."""

    image_property_quota: int = setting("IMAGES_PROPERTY_QUOTA", 128, "properties per image")
    image_tag_quota: int = setting("IMAGES_TAG_QUOTA", 128, "tags per image")
    image_member_quota: int = setting("IMAGES_MEMBER_QUOTA", 128, "members per image")
    user_storage_quota: int = setting("IMAGES_USER_STORAGE_QUOTA", 0,
                                      "bytes of active/deactivated image data per project, 0 = unlimited")
    limit_image_count_total: int = setting("IMAGES_LIMIT_IMAGE_COUNT_TOTAL", -1, "images per project")
    limit_image_count_uploading: int = setting("IMAGES_LIMIT_IMAGE_COUNT_UPLOADING", -1,
                                               "images uploading at once per project")
    limit_image_size_total: int = setting("IMAGES_LIMIT_IMAGE_SIZE_TOTAL_MIB", -1, "MiB of image data per project")
    limit_image_stage_total: int = setting("IMAGES_LIMIT_IMAGE_STAGE_TOTAL_MIB", -1, "MiB of staged data per project")

    def counters(self) -> dict[str, int]:
        """The limit of each usage counter (domain.usage.COUNTERS)."""
        from chalicelib.domain import usage

        return usage.project_limits(
            storage_quota=self.user_storage_quota, count_total=self.limit_image_count_total,
            count_uploading=self.limit_image_count_uploading, size_total_mib=self.limit_image_size_total,
            stage_total_mib=self.limit_image_stage_total,
        )


@dataclass(frozen=True)
class DataSettings:
    """Image data: size cap, how downloads are served, deletion."""

    image_size_cap: int = setting("IMAGES_SIZE_CAP", 1099511627776, "largest image in bytes (413 beyond)")
    download_mode: str = setting("IMAGES_DOWNLOAD_MODE", "redirect",
                                 "`redirect` (presigned S3 URL) or `proxy` (through the function)",
                                 choices=DOWNLOAD_MODES)
    proxy_max_bytes: int = setting("IMAGES_PROXY_MAX_BYTES", 4_500_000, "largest range served through the function")
    delayed_delete: bool = setting("IMAGES_DELAYED_DELETE", False,
                                   "`true`: deleting an image with data leaves it `pending_delete` with its data")
    scrub_delay_seconds: int = setting("IMAGES_SCRUB_DELAY_SECONDS", 0,
                                       "how long pending_delete data is kept before `scrub_images` purges it")
    upload_min_part_size: int = setting("IMAGES_UPLOAD_MIN_PART_SIZE", S3_MIN_PART,
                                        "smallest part of a presigned multipart upload in bytes (S3's minimum; "
                                        "lower only against an emulator that accepts smaller parts)")


@dataclass(frozen=True)
class LocationSettings:
    """Glance's location API and the outbound http(s) guard."""

    show_multiple_locations: bool = setting("IMAGES_SHOW_MULTIPLE_LOCATIONS", False,
                                            "the location PATCH API and `locations` in image documents")
    show_image_direct_url: bool = setting("IMAGES_SHOW_DIRECT_URL", False, "`direct_url` in image documents")
    image_location_quota: int = setting("IMAGES_LOCATION_QUOTA", 10, "locations per image")
    do_secure_hash: bool = setting("IMAGES_DO_SECURE_HASH", True,
                                   "a location added by `POST /v2/images/{id}/locations` gets its checksum and hash "
                                   "computed from its data by the pipeline (validation data is verified); `false`: "
                                   "validation data is stored as given, nothing is computed (Glance's option)")
    allowed_hosts: frozenset[str] = setting("IMPORT_ALLOWED_HOSTS", frozenset(),
                                            "hosts fetched even on private addresses")
    allowed_ports: frozenset[int] = setting("IMPORT_ALLOWED_PORTS", frozenset({80, 443}),
                                            "ports fetched, on any host (allowed hosts included)")
    probe_deadline_ms: int = setting("IMAGES_LOCATION_PROBE_DEADLINE_MS", 5000,
                                     "total time for an http(s) location's HEAD, redirects included (400 beyond)")
    fetch_deadline_ms: int = setting("IMAGES_IMPORT_FETCH_DEADLINE_MS", 600_000,
                                     "total time for a web-download or task import's GET, body included "
                                     "(the import fails beyond); keep it below the fetch function's timeout")
    fetch_read_timeout_ms: int = setting("IMAGES_FETCH_READ_TIMEOUT_MS", 10_000,
                                         "longest wait for one connect or read of any outbound request")

    def fetch_policy(self) -> Any:
        """The outbound fetch rules (domain.urls.FetchPolicy) these settings describe."""
        from chalicelib.domain.urls import FetchPolicy

        return FetchPolicy(self.allowed_hosts, self.allowed_ports)


@dataclass(frozen=True)
class ImportSettings:
    """Interoperable import and the tasks API."""

    import_methods: tuple[str, ...] = setting("IMAGES_ENABLED_IMPORT_METHODS", IMPORT_METHODS,
                                              "enabled import methods", choices=IMPORT_METHODS)
    task_time_to_live_hours: int = setting("IMAGES_TASK_TIME_TO_LIVE_HOURS", 48, "how long finished tasks live")
    tasks_admin_only: bool = setting("IMAGES_TASKS_API_ADMIN_ONLY", True,
                                     "Glance's `tasks_api_access` (admin only unless `false`)")


@dataclass(frozen=True)
class FrontSettings:
    """The WSGI front (``python -m chalicelib.front``): the data plane's container, and ``make run``'s server."""

    front_mode: str = setting("IMAGES_FRONT_MODE", "all",
                              "`all`: every route (as API Gateway would); `data`: only the streamed upload routes "
                              "and `GET /healthcheck` (the data plane container)", choices=FRONT_MODES)
    front_host: str = setting("IMAGES_FRONT_HOST", "0.0.0.0", "address `python -m chalicelib.front` listens on")
    front_port: int = setting("IMAGES_FRONT_PORT", 8080, "port `python -m chalicelib.front` listens on")
    front_threads: int = setting("IMAGES_FRONT_THREADS", 16, "requests the front serves at once")
    front_read_bytes: int = setting("IMAGES_FRONT_READ_BYTES", 1048576,
                                    "bytes read from a streamed request body at a time")
    log_format: str = setting("LOG_FORMAT", "text",
                              "the front's logs: `text` (one access line per request) or `json` (JSON logs and "
                              "EMF metrics, as in Lambda)", choices=LOG_FORMATS)


@dataclass(frozen=True)
class StoreSettings:
    """Stores (Glance's enabled_backends): S3 buckets in any region, one the default, and the http store."""

    stores: tuple[Store, ...] = setting(
        "IMAGES_STORES", (),
        "JSON list of S3 stores: `{\"id\", \"bucket\", \"region\", \"prefix\", \"storage_class\", "
        "\"description\", \"read_only\", \"weight\"}` (only id and bucket required; the default store's bucket "
        "is `IMAGES_BUCKET`); empty: one store `s3` on `IMAGES_BUCKET`")
    default_store: str | None = setting("IMAGES_DEFAULT_STORE", None, "the default store's id (default: the first)")
    http_store_id: str = setting("IMAGES_HTTP_STORE_ID", HTTP, "the id of the read-only store of http(s) locations")

    def catalog(self, resources: ResourceSettings) -> StoreCatalog:
        """The stores these settings describe (the http store last); raises ConfigError when inconsistent."""
        s3 = self.stores or (Store("s3", bucket=resources.bucket, description="Amazon S3 image store"),)
        stores = (*s3, Store(self.http_store_id, description="http(s) locations", read_only=True, kind=HTTP))
        ids = [s.id for s in stores]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"IMAGES_STORES: store ids must be unique (with IMAGES_HTTP_STORE_ID): {ids}")
        default = self.default_store or s3[0].id
        chosen = [s for s in s3 if s.id == default]
        if not chosen or chosen[0].read_only:
            raise ConfigError(f"IMAGES_DEFAULT_STORE={default} must name a writable S3 store of IMAGES_STORES")
        if chosen[0].prefix:
            raise ConfigError(f"IMAGES_DEFAULT_STORE={default}: the default store takes no prefix (staging and "
                              "presigned uploads sit at its bucket's root, where the S3 import trigger looks)")
        if chosen[0].bucket != resources.bucket:
            # Staging, presigned uploads and their S3 trigger live in the default store: IMAGES_BUCKET names it.
            raise ConfigError(f"IMAGES_BUCKET={resources.bucket} must be the default store's bucket "
                              f"({chosen[0].bucket})")
        return StoreCatalog(stores, default)


@dataclass(frozen=True)
class AuthSettings:
    """How the cloud authorizer validates tokens: JWTs against a JWKS, or Keystone tokens."""

    provider: str = setting("IMAGES_AUTH_PROVIDER", "jwt", "the authorizer: `jwt` or `keystone`",
                            choices=AUTH_PROVIDERS)
    jwt_issuer: str | None = setting("IMAGES_JWT_ISSUER", None, "JWT issuer (jwt)")
    jwt_audience: str | None = setting("IMAGES_JWT_AUDIENCE", None, "JWT audience (jwt)")
    jwt_jwks_url: str | None = setting("IMAGES_JWT_JWKS_URL", None, "JWKS URL (jwt)")
    user_claim: str = setting("IMAGES_JWT_USER_CLAIM", "sub", "claim naming the user (jwt)")
    project_claim: str = setting("IMAGES_JWT_PROJECT_CLAIM", "project_id", "claim naming the project (jwt)")
    roles_claim: str = setting("IMAGES_JWT_ROLES_CLAIM", "roles", "claim listing the roles (jwt)")
    keystone_url: str | None = setting("IMAGES_KEYSTONE_URL", None, "Keystone URL (keystone)")
    keystone_service_secret: str | None = setting("IMAGES_KEYSTONE_SERVICE_SECRET", None,
                                                  "Secrets Manager id of the service user's credentials (keystone)")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "AuthSettings":
        """Build from the environment; raises ConfigError naming what the chosen provider lacks."""
        auth: AuthSettings = _group(cls, os.environ if env is None else env)
        needed = {"jwt": ("jwt_issuer", "jwt_audience", "jwt_jwks_url"),
                  "keystone": ("keystone_url", "keystone_service_secret")}[auth.provider]
        missing = [declaration(cls, name).env for name in needed if not getattr(auth, name)]
        if missing:
            raise ConfigError(f"IMAGES_AUTH_PROVIDER={auth.provider} needs: " + ", ".join(missing))
        url = (auth.keystone_url or "").rstrip("/") or None
        return dataclasses.replace(auth, keystone_url=url)


@dataclass(frozen=True)
class Settings:
    """Everything configurable, in groups; Glance's defaults where Glance has one."""

    resources: ResourceSettings
    identity: IdentitySettings
    api: ApiSettings = ApiSettings()
    limits: LimitSettings = LimitSettings()
    data: DataSettings = DataSettings()
    locations: LocationSettings = LocationSettings()
    imports: ImportSettings = ImportSettings()
    front: FrontSettings = FrontSettings()
    stores: StoreSettings = StoreSettings()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Build from the environment; raises ConfigError naming what is missing or malformed."""
        env = os.environ if env is None else env
        missing = [d.env for d in ENV.values() if d.group is not AuthSettings and d.required and not _raw(env, d)]
        if missing:
            raise ConfigError("missing environment variables: " + ", ".join(missing))
        groups = {f.name: _group(_GROUPS[f.name], env) for f in dataclasses.fields(cls)}
        built = cls(**groups)
        refuse_dev_in_production(built.identity.stage, built.identity.auth_mode)
        built.catalog()  # fail fast on stores that do not fit together
        return built

    def catalog(self) -> StoreCatalog:
        """The configured stores; raises ConfigError when they are inconsistent."""
        return self.stores.catalog(self.resources)

    @classmethod
    def of(cls, **values: Any) -> "Settings":
        """Settings from field values by name (any group), defaults for the rest; raises TypeError for an
        unknown name or a missing required one."""
        grouped: dict[str, dict[str, Any]] = {key: {} for key in _GROUPS}
        for name, value in values.items():
            if name not in _FIELD_GROUP:
                raise TypeError(f"no setting named {name!r}")
            grouped[_FIELD_GROUP[name]][name] = value
        return cls(**{key: _GROUPS[key](**fields) for key, fields in grouped.items()})

    def with_values(self, **values: Any) -> "Settings":
        """A copy with the named fields (of any group) replaced; raises TypeError for an unknown name."""
        groups = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name, value in values.items():
            group = _FIELD_GROUP.get(name)
            if group is None:
                raise TypeError(f"no setting named {name!r}")
            groups[group] = dataclasses.replace(groups[group], **{name: value})
        return Settings(**groups)

    def to_env(self) -> dict[str, str]:
        """The environment that ``from_env`` reads back into these settings (unset optional values left out)."""
        out = {}
        for f in dataclasses.fields(self):
            group = getattr(self, f.name)
            for g in dataclasses.fields(group):
                value = getattr(group, g.name)
                if value is not None:
                    out[g.metadata["setting"].env] = render(value)
        return out


_GROUPS: dict[str, type] = {
    "resources": ResourceSettings, "identity": IdentitySettings, "api": ApiSettings, "limits": LimitSettings,
    "data": DataSettings, "locations": LocationSettings, "imports": ImportSettings, "front": FrontSettings, "stores": StoreSettings,
}


@dataclass(frozen=True)
class Entry:
    """One environment variable: its group, field, declaration and default."""

    group: type
    name: str
    declaration: Declaration
    default: Any
    kind: str

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    @property
    def env(self) -> str:
        return self.declaration.env


def declaration(group: type, name: str) -> Declaration:
    """The declaration of field ``name`` of settings group ``group``."""
    found: Declaration = next(f.metadata["setting"] for f in dataclasses.fields(group) if f.name == name)
    return found


def _entries(group: type) -> list[Entry]:
    hints = typing.get_type_hints(group)
    return [Entry(group, f.name, f.metadata["setting"], f.default, _kind(hints[f.name]))
            for f in dataclasses.fields(group)]


def _kind(hint: Any) -> str:
    kinds = {int: "int", bool: "bool", str: "str", str | None: "optional", tuple[str, ...]: "names",
             frozenset[str]: "hosts", frozenset[int]: "ports", tuple[Store, ...]: "stores"}
    return kinds[hint]


# Every environment variable the settings read -> its entry (the one exported map).
# Each group's entries, read once from its declarations (type hints are resolved here, not per from_env).
_ENTRIES: dict[type, list[Entry]] = {g: _entries(g) for g in (*_GROUPS.values(), AuthSettings)}
ENV: dict[str, Entry] = {e.env: e for entries in _ENTRIES.values() for e in entries}
_FIELD_GROUP = {e.name: key for key, g in _GROUPS.items() for e in _ENTRIES[g]}
# Persistence role -> the variable naming its table (the CDK stack and local runner set these).
TABLE_ENV = {role: declaration(ResourceSettings, name).env for role, name in TABLE_FIELDS.items()}
STATE_MACHINE_ENV = {"import_image": declaration(ResourceSettings, "import_state_machine_arn").env}
ENV_BUCKET = declaration(ResourceSettings, "bucket").env
ENV_AUTH_MODE = declaration(IdentitySettings, "auth_mode").env
ENV_STAGE = declaration(IdentitySettings, "stage").env
ENV_ENDPOINT = declaration(ResourceSettings, "endpoint_url").env


def _raw(env: Mapping[str, str], d: Entry) -> str | None:
    raw = env.get(d.env)
    if (raw is None or raw == "") and d.declaration.fallback:
        raw = env.get(d.declaration.fallback)
    return None if raw is None or raw == "" else raw


def _group(group: type, env: Mapping[str, str]) -> Any:
    values = {}
    for entry in _ENTRIES[group]:
        raw = _raw(env, entry)
        if raw is not None:
            values[entry.name] = _PARSERS[entry.kind](entry.env, raw)
            _check_choices(entry, values[entry.name])
    return group(**values)


def _check_choices(entry: Entry, value: Any) -> None:
    choices = entry.declaration.choices
    if choices is None:
        return
    unknown = [v for v in (value if isinstance(value, tuple) else (value,)) if v not in choices]
    if unknown:
        raise ConfigError(f"{entry.env}: {', '.join(unknown)} not supported; choose from {choices}")


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None


def _bool(name: str, raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be a boolean, not {raw!r}")


def _names(name: str, raw: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    if not names:
        raise ConfigError(f"{name} must list at least one name")
    return names


def _ports(name: str, raw: str) -> frozenset[int]:
    try:
        return frozenset(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated integers, not {raw!r}") from None


_STORE_FIELDS = {f.name: f.type for f in dataclasses.fields(Store) if f.name != "kind"}


def _stores(name: str, raw: str) -> tuple[Store, ...]:
    """IMAGES_STORES: a JSON list of objects with Store's fields (id and bucket required)."""
    try:
        items = json.loads(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a JSON list of stores, not {raw[:80]!r}") from None
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{name} must be a non-empty JSON list of stores")
    stores = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("bucket"), str):
            raise ConfigError(f"{name}: every store needs a string 'id' and 'bucket': {item!r}")
        unknown = sorted(set(item) - set(_STORE_FIELDS))
        if unknown:
            raise ConfigError(f"{name}: store {item['id']} has unknown keys {unknown}; known: {sorted(_STORE_FIELDS)}")
        if not isinstance(item.get("read_only", False), bool) or not isinstance(item.get("weight", 0), int):
            raise ConfigError(f"{name}: store {item['id']}: 'read_only' must be a boolean, 'weight' an integer")
        prefix = str(item.get("prefix") or "")
        if prefix and not prefix.endswith("/"):
            prefix += "/"  # keys go under the prefix as a folder
        stores.append(Store(**{**item, "prefix": prefix}))
    return tuple(stores)


def _render_store(store: Store) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(store).items() if k != "kind" and v not in (None, "", False, 0)
            or k in ("id", "bucket")}


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "int": _int, "bool": _bool, "str": lambda _, raw: raw, "optional": lambda _, raw: raw, "names": _names,
    "hosts": lambda _, raw: frozenset(h.strip().lower() for h in raw.split(",") if h.strip()), "ports": _ports,
    "stores": _stores,
}


def render(value: Any) -> str:
    """A value as its environment variable spells it (lists comma-separated)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple) and value and isinstance(value[0], Store):
        return json.dumps([_render_store(s) for s in value])
    if isinstance(value, (tuple, frozenset)):
        return ",".join(sorted(str(v) for v in value) if isinstance(value, frozenset) else value)
    return str(value)


def refuse_dev_in_production(stage: str, auth_mode: str) -> None:
    """Raise ConfigError when a production stage would trust identity headers (dev mode)."""
    if auth_mode == "dev" and stage in PRODUCTION_STAGES:
        raise ConfigError(f"{ENV_AUTH_MODE}=dev is refused in the production stage {stage!r}; use cloud")
