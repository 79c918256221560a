"""``make run``: the embedded AWS emulator plus the API on http://127.0.0.1:9292.

Starts moto's server on 127.0.0.1 (``EMULATOR_PORT``, else a free port) unless
``AWS_ENDPOINT_URL`` names an endpoint to use instead, creates the tables and
bucket from the code's own definitions (and, on its own emulator, the import
pipeline: infra/local/pipeline.py), and serves the Chalice app in-process
(``HOST``/``PORT`` override the address). Ctrl-C or SIGTERM stops everything.

The embedded emulator keeps its data in ``LOCAL_STATE_DIR`` (infra/local/state.py; default
``.run/state`` in the project), so a restart finds it again; ``LOCAL_RESET=1`` (``make run
RESET=1``) starts empty. With a ``HOST`` other than loopback the emulator listens there too
(and on loopback, where moto's Step Functions executor calls it), and the URLs handed to
clients (302 downloads, presigned uploads) name an address they can reach, never ``0.0.0.0``.

The runner's own settings are declared once, in ``RunnerSettings`` below (the app's are in
chalicelib/config.py); ``LOCAL_FAULT_RATE`` makes the embedded emulator fail requests the
way AWS does under contention (infra/local/emulator.py).
"""
from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, MutableMapping

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
ROOT = Path(__file__).resolve().parents[2]
IN_MEMORY = "none"  # LOCAL_STATE_DIR=none: nothing on disk, as before issue 16


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
    state_dir: str = _runner("LOCAL_STATE_DIR", ".run/state", "where the embedded emulator keeps its data "
                             "(relative: to the project; `none`: in memory only)")
    reset: bool = _runner("LOCAL_RESET", False, "start with an empty state directory (`make run RESET=1`)")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "RunnerSettings":
        """Read the declared variables; raises ConfigError for a malformed value."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(f.metadata["setting"].env) or None
            if raw is None:
                continue
            kind, what = _KINDS[str(f.type)]
            try:
                values[f.name] = kind(raw)
            except ValueError:
                raise app_config.ConfigError(f"{f.metadata['setting'].env} must be a {what}, not {raw!r}") from None
        if not 0.0 <= values.get("fault_rate", 0.0) <= 1.0:
            raise app_config.ConfigError("LOCAL_FAULT_RATE must be between 0 and 1")
        return cls(**values)

    def state_path(self) -> Path | None:
        """The state directory to use (None: keep everything in memory)."""
        if self.state_dir.strip().lower() == IN_MEMORY:
            return None
        path = Path(self.state_dir).expanduser()
        return path if path.is_absolute() else ROOT / path


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ValueError(raw)
    return value in ("1", "true", "yes", "on")


_KINDS: dict[str, tuple[Callable[[str], Any], str]] = {
    "str": (str, "str"), "str | None": (str, "str"), "int": (int, "int"), "int | None": (int, "int"),
    "float": (float, "float"), "bool": (_flag, "flag (1/0, true/false)")}


def _is_wildcard(host: str) -> bool:
    return host in ("", "0.0.0.0", "::")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def reachable_host(host: str) -> str:
    """The address to give clients for a server bound to ``host``: a wildcard becomes this machine's address."""
    if not _is_wildcard(host):
        return host
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # a UDP "connect" sends nothing: it picks the outgoing interface
        address = str(probe.getsockname()[0])
    except OSError:
        address = "127.0.0.1"
    finally:
        probe.close()
    return address


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
    state_dir: Path | None = None  # the embedded emulator's data on disk (infra/local/state.py); None: in memory
    reset: bool = False  # empty state_dir first
    env: MutableMapping[str, str] = field(default_factory=lambda: os.environ)
    settings: Any = None
    emulator: Any = None  # the embedded one (infra/local/emulator.Emulator); its ``faults`` switch the fault plan
    _server: Any = None
    _own_emulator: bool = False
    restored: dict[str, int] = field(default_factory=dict)  # what the state directory gave back at start

    @property
    def url(self) -> str:
        """The API's URL as a client uses it (this machine's address when bound to a wildcard)."""
        return f"http://{reachable_host(self.host)}:{self._server.port}"

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
            state = None
            if self.state_dir is not None:
                from infra.local.state import LocalState

                state = LocalState(self.state_dir, reset=self.reset)
            # Where the API listens, the emulator listens too (its URLs go to the same clients); a
            # specific address also gets a loopback listener for moto's own calls to localhost.
            bind = "127.0.0.1" if _is_loopback(self.host) else self.host
            self.emulator = Emulator(bind, self.emulator_port, faults, state=state, public_host=reachable_host(bind),
                                     also_loopback=not _is_loopback(bind) and not _is_wildcard(bind)).start()
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
        from chalicelib import front
        from chalicelib.config import Settings
        from infra.local.bootstrap import ensure_resources

        settings = Settings.from_env(self.env)
        session = boto3.Session(
            aws_access_key_id=self.env.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=self.env.get("AWS_SECRET_ACCESS_KEY"),
        )
        ensure_resources(settings, session)
        if self.emulator is not None and self.emulator.state is not None:
            self.restored = self.emulator.state.restore(self.emulator.dynamo_lock)
        from app import app

        if self._own_emulator:
            from infra.local import pipeline

            settings = settings.with_values(import_state_machine_arn=pipeline.deploy(settings, session, app))
            if self.emulator is not None and self.emulator.state is not None:
                machine = settings.resources.import_state_machine_arn or ""
                self.restored["resumed_tasks"] = len(pipeline.resume(settings, session, machine))
        self.settings = settings
        built = wiring.build(settings)
        wiring.override(built)
        from chalicelib.metadefs_loader import load_standard

        load_standard(built)

        # The same entry point as the data plane's container (chalicelib/front), in mode `all`.
        self._server = front.serve(front.make_application(app, settings), self.host, self.port,
                                   settings.front.front_threads)
        if self.emulator is not None and self.fault_rate > 0:
            self.emulator.faults.enable()  # only now: creating the resources above must not fail

    def stop(self) -> None:
        """Stop serving, then stop the emulator."""
        if self._server is not None:
            self._server.stop()  # in-flight requests finish or, past a short grace, are cut (uploads abort)
        if self.emulator is not None:
            self.emulator.stop()
            if self.emulator.state is not None:
                self.emulator.state.close(self.emulator.dynamo_lock)


STOP_SECONDS = 4.0  # SIGTERM to exit: the front's grace for requests in flight, then the emulator
EXAMPLE_TOKEN = "admin:demo:admin"  # dev mode: X-Auth-Token user:project:role1,role2


def banner(service: LocalService, own_emulator: bool) -> str:
    """What ``make run`` prints once serving: where the API and emulator listen, the state, a command to try."""
    which = "embedded emulator" if own_emulator else "existing endpoint"
    state_dir = getattr(service, "state_dir", None)
    state = f"State directory: {state_dir}" if state_dir else "State: in the emulator's memory (gone when it stops)"
    if state_dir and service.restored:
        state += " (restored: " + ", ".join(f"{k} {v}" for k, v in service.restored.items()) + ")"
    return "\n".join([
        f"Glance API at {service.url}",
        f"AWS ({which}) at {service.endpoint_url}",
        state,
        f"Try: glance --os-image-url {service.url} --os-auth-token {EXAMPLE_TOKEN} image-list",
        "     (dev mode: any token user:project:role1,role2; roles admin, member or reader)",
    ])


def access_lines() -> None:
    """One line per request on stdout (chalicelib/front's access log); JSON logs only with LOG_FORMAT=json."""
    import logging

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    access = logging.getLogger("glance.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False


def main() -> int:
    """Run until SIGTERM or Ctrl-C; exit within STOP_SECONDS plus a second whatever is in flight."""
    runner = RunnerSettings.from_env(os.environ)
    service = LocalService(host=runner.host, port=runner.port, emulator_port=runner.emulator_port,
                           endpoint_url=runner.endpoint_url, fault_rate=runner.fault_rate, fault_seed=runner.fault_seed,
                           state_dir=runner.state_path(), reset=runner.reset)
    stop = threading.Event()
    # SIGTERM and Ctrl-C are taken by a thread of their own (sigwait), not by the main thread's handlers, so
    # that nothing the main thread or a request is doing can hold them; that thread also ends the process
    # STOP_SECONDS (plus a margin) after the signal, whatever the stop is still waiting on.
    signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)  # before any other thread: they all inherit the mask

    def on_signal() -> None:
        signal.sigwait(signals)
        stop.set()
        threading.Timer(STOP_SECONDS + 1.5, os._exit, args=(0,)).start()

    threading.Thread(target=on_signal, name="signals", daemon=True).start()
    own_emulator = service.endpoint_url is None
    access_lines()
    service.start()
    print(banner(service, own_emulator), flush=True)
    stop.wait()  # set by on_signal: SIGINT is blocked here too, so Ctrl-C raises no KeyboardInterrupt
    print("Stopping...", flush=True)
    if service.emulator is not None and service.emulator.faults.injected:
        print("Faults injected:", dict(sorted(service.emulator.faults.injected.items())), flush=True)
    stopping = threading.Thread(target=service.stop, name="stop", daemon=True)
    stopping.start()
    stopping.join(STOP_SECONDS)
    print("Stopped." if not stopping.is_alive() else "Stopped (gave up waiting on requests in flight).", flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is stopped and on disk (infra/local/state.py writes unbuffered or flushed): skip the ~5 s the
    # interpreter spends tearing down moto's modules, and threads the emulator or the import pipeline left
    # running must not hold the exit (issue 18 item 12).
    os._exit(code)
