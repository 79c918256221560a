"""``make run`` as a child process (``python -m infra.local.run``), for tests that stop it with signals."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.webserver import ALLOWED_PORTS, free_port

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "admin:demo:admin"


def call(base_url: str, method: str, path: str, body: Any = None, token: str = ADMIN,
         data: bytes | None = None) -> tuple[int, Any]:
    """A JSON request (or ``data`` as an octet-stream upload); (status, decoded body or None)."""
    headers = {"X-Auth-Token": token, "Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/octet-stream"
    elif body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    if method == "PATCH":
        headers["Content-Type"] = "application/openstack-images-v2.1-json-patch"
    request = urllib.request.Request(base_url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            raw = answer.read()
            return answer.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, json.loads(raw) if raw else None


class RunProcess:
    """One ``make run`` on ``port``, its output in ``log``; ``env`` adds to a bare environment."""

    def __init__(self, log: Path, env: dict[str, str], host: str = "127.0.0.1") -> None:
        self.host, self.port, self.log = host, free_port(host), log
        self.url = f"http://{host}:{self.port}"
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(log.parent), "HOST": host,
                "PORT": str(self.port), "IMPORT_ALLOWED_HOSTS": "127.0.0.1",
                # the test file servers' ports (tests/webserver.py): ports are checked apart from hosts
                "IMPORT_ALLOWED_PORTS": ",".join(map(str, sorted(ALLOWED_PORTS)))}
        self._out = log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "infra.local.run"], cwd=ROOT, env={**base, **env},
                                     stdout=self._out, stderr=subprocess.STDOUT)
        self._wait_up()

    def _wait_up(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"make run exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/versions", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"make run did not answer in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Send ``sig`` and wait for the process to end; returns its exit status. One still running after
        ``timeout`` is killed (it would keep its port and its state directory's lock) and the wait fails."""
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            self._out.close()

    def call(self, method: str, path: str, body: Any = None, token: str = ADMIN,
             data: bytes | None = None) -> tuple[int, Any]:
        """``call`` on this process's API."""
        return call(self.url, method, path, body, token, data)

    def sha256(self, image_id: str, token: str = ADMIN) -> tuple[str, str]:
        """The sha256 of the image's data as downloaded (through the 302), and the URL that served it."""
        request = urllib.request.Request(f"{self.url}/v2/images/{image_id}/file", headers={"X-Auth-Token": token})
        digest = hashlib.sha256()
        with urllib.request.urlopen(request, timeout=60) as answer:
            while chunk := answer.read(1 << 20):
                digest.update(chunk)
            return digest.hexdigest(), answer.geturl()
