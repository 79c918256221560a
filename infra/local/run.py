"""``make run``: the embedded AWS emulator plus the API on http://127.0.0.1:9292.

Starts moto's server on 127.0.0.1 (``EMULATOR_PORT``, else a free port) unless
``AWS_ENDPOINT_URL`` names an endpoint to use instead, creates the tables and
bucket from the code's own definitions (and, on its own emulator, the import
pipeline: infra/local/pipeline.py), and serves the Chalice app in-process
(``HOST``/``PORT`` override the address). Ctrl-C or SIGTERM stops everything.

The runner's own settings are declared once, in ``RunnerSettings`` below (the app's are in
chalicelib/config.py); ``LOCAL_FAULT_RATE`` makes the embedded emulator fail requests the
way AWS does under contention (infra/local/emulator.py).
"""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping, MutableMapping

from chalicelib import config as app_config

# Local defaults; the cloud gets the same variables from the CDK stack. Names from the one declaration map.
LOCAL_TABLES = {"images": "glance-images", "members": "glance-image-members", "usage": "glance-image-usage",
                "metadefs": "glance-metadefs", "tasks": "glance-tasks"}
ENV_STORES = app_config.declaration(app_config.StoreSettings, "stores").env
LOCAL_ENV = {
    app_config.declaration(app_config.ResourceSettings, "region").env: "us-east-1",
    **{app_config.TABLE_ENV[role]: name for role, name in LOCAL_TABLES.items()},
    app_config.ENV_BUCKET: "glance-images-local",
    app_config.ENV_AUTH_MODE: "dev",
    # Glance's legacy location PATCH API (issue 4); IMPORT_ALLOWED_HOSTS passes through from the environment.
    app_config.declaration(app_config.LocationSettings, "show_multiple_locations").env: "true",
}


def local_stores(bucket: str) -> str:
    """Two stores, so every multi-store path runs locally (glance stores-info, image-import --stores, copy-image,
    stores-delete): ``local``, the default, on the image bucket; ``replica`` on a second bucket "in another
    region", under a prefix."""
    return json.dumps([
        {"id": "local", "bucket": bucket, "description": "Local store (default)"},
        {"id": "replica", "bucket": f"{bucket}-replica", "region": "eu-west-1", "prefix": "glance/",
         "description": "Local replica store in eu-west-1"},
    ])


def _runner(env: str, default: Any, doc: str) -> Any:
    return field(default=default, metadata={"setting": app_config.Declaration(env, doc)})


@dataclass(frozen=True)
class RunnerSettings:
    """How ``make run`` serves: addresses, and faults of the embedded emulator."""

    host: str = _runner("HOST", "127.0.0.1", "address the API listens on")
    port: int = _runner("PORT", 9292, "port of the API (0: a free one)")
    emulator_port: int = _runner("EMULATOR_PORT", 0, "port of the embedded emulator (0: a free one)")
    endpoint_url: str | None = _runner(app_config.ENV_ENDPOINT, None, "use this AWS endpoint, start no emulator")
    fault_rate: float = _runner("LOCAL_FAULT_RATE", 0.0,
                                "share of the emulator's DynamoDB/S3 data requests answered with a fault "
                                "(TransactionConflict, ThrottlingException, 500; S3 503 SlowDown)")
    fault_seed: int | None = _runner("LOCAL_FAULT_SEED", None, "seed of the fault draws (repeatable runs)")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "RunnerSettings":
        """Read the declared variables; raises ConfigError for a malformed value."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(f.metadata["setting"].env) or None
            if raw is None:
                continue
            kind = {"str": str, "int": int, "float": float, "int | None": int, "str | None": str}[str(f.type)]
            try:
                values[f.name] = kind(raw)
            except ValueError:
                raise app_config.ConfigError(f"{f.metadata['setting'].env} must be a {kind.__name__}, not {raw!r}") from None
        if not 0.0 <= values.get("fault_rate", 0.0) <= 1.0:
            raise app_config.ConfigError("LOCAL_FAULT_RATE must be between 0 and 1")
        return cls(**values)


# Only for the embedded emulator, which accepts any credentials.
EMULATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass
class LocalService:
    """The emulator (optional) and the API server, started together and stopped together."""

    host: str = "127.0.0.1"
    port: int = 9292
    emulator_port: int = 0
    endpoint_url: str | None = None
    fault_rate: float = 0.0
    fault_seed: int | None = None
    env: MutableMapping[str, str] = field(default_factory=lambda: os.environ)
    settings: Any = None
    emulator: Any = None  # the embedded one (infra/local/emulator.Emulator); its ``faults`` switch the fault plan
    _server: Any = None
    _thread: threading.Thread | None = None
    _own_emulator: bool = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._server.server.server_address[1]}"

    def start(self) -> "LocalService":
        """Start the emulator (unless an endpoint was given), create resources, start serving."""
        for key, value in LOCAL_ENV.items():
            self.env.setdefault(key, value)
        self.env.setdefault(ENV_STORES, local_stores(self.env[app_config.ENV_BUCKET]))
        if self.endpoint_url is None:
            import logging

            from infra.local.emulator import Emulator, FaultPlan

            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the emulator's access log is noise

            faults = FaultPlan(rate=self.fault_rate, seed=self.fault_seed)
            self.emulator = Emulator("127.0.0.1", self.emulator_port, faults).start()
            self.endpoint_url = self.emulator.endpoint_url
            port = self.emulator.endpoint_url.rsplit(":", 1)[1]
            self._own_emulator = True
            from infra.local import pipeline

            pipeline.enable_executor()
            # moto's Step Functions executor calls Lambda on localhost:MOTO_PORT (moto.settings reads it).
            os.environ["MOTO_PORT"] = str(port)
            for key, value in EMULATOR_CREDENTIALS.items():
                self.env.setdefault(key, value)
        self.env["AWS_ENDPOINT_URL"] = self.endpoint_url
        self._serve()
        return self

    def _serve(self) -> None:
        import boto3

        from chalicelib import wiring
        from chalicelib.config import Settings
        from infra.local.bootstrap import ensure_resources
        from infra.local.server import make_server

        settings = Settings.from_env(self.env)
        session = boto3.Session(
            aws_access_key_id=self.env.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=self.env.get("AWS_SECRET_ACCESS_KEY"),
        )
        ensure_resources(settings, session)
        from app import app

        if self._own_emulator:
            from infra.local import pipeline

            settings = settings.with_values(import_state_machine_arn=pipeline.deploy(settings, session, app))
        self.settings = settings
        built = wiring.build(settings)
        wiring.override(built)
        from chalicelib.metadefs_loader import load_standard

        load_standard(built)

        self._server = make_server(app, self.host, self.port)
        self._thread = threading.Thread(target=self._server.server.serve_forever, daemon=True)
        self._thread.start()
        if self.emulator is not None and self.fault_rate > 0:
            self.emulator.faults.enable()  # only now: creating the resources above must not fail

    def stop(self) -> None:
        """Stop serving, then stop the emulator."""
        if self._server is not None:
            self._server.server.shutdown()
            self._server.server.server_close()
        if self.emulator is not None:
            self.emulator.stop()


def main() -> int:
    """Run until interrupted."""
    runner = RunnerSettings.from_env(os.environ)
    service = LocalService(host=runner.host, port=runner.port, emulator_port=runner.emulator_port,
                           endpoint_url=runner.endpoint_url, fault_rate=runner.fault_rate, fault_seed=runner.fault_seed)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    own_emulator = service.endpoint_url is None
    service.start()
    which = "embedded emulator" if own_emulator else "existing endpoint"
    print(f"AWS ({which}) at {service.endpoint_url}", flush=True)
    print(f"Glance API at {service.url}  (try: glance --os-image-url {service.url} "
          f"--os-auth-token admin:demo:admin image-list)", flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    print("Stopping...", flush=True)
    if service.emulator is not None and service.emulator.faults.injected:
        print("Faults injected:", dict(sorted(service.emulator.faults.injected.items())), flush=True)
    service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
