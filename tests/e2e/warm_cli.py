"""Run a console script (the real ``glance``) in a fresh fork of an interpreter that has already imported it.

A new ``glance`` process spends ~0.2 s of its ~0.3 s importing glanceclient, keystoneauth and
requests; the e2e tests start ~70 of them. Here one server process imports those modules once and
forks per invocation. The child is what ``bash -c 'glance ... <&-'`` started: the unmodified
script file run as ``__main__`` with the test's argv, environment and working directory, no stdin
at all (fd 0 closed: glanceclient then uploads nothing), stdout and stderr to files; exit status and
uncaught exceptions handled by the interpreter exactly as for the script. Each child starts from
the same pristine parent, so invocations share no state.

Run as a script (``python warm_cli.py MODULE...``) it is the server: one JSON request per
line on stdin, answered by ``{"pid": ...}`` when the child starts and ``{"rc": ...}`` when it ends.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Sequence

class WarmScript:
    """A server process for ``script`` with ``modules`` imported; ``run`` behaves as ``subprocess.run``."""

    def __init__(self, script: str, modules: Sequence[str]) -> None:
        self.script = script
        self._modules = list(modules)
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _server(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            # The server's own environment is as bare as the tests' (each child gets the test's).
            self._proc = subprocess.Popen(
                [sys.executable, __file__, *self._modules], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, env={"PATH": "/usr/bin:/bin", "HOME": tempfile.gettempdir()})
        return self._proc

    def _reply(self, proc: subprocess.Popen[bytes], timeout: float | None) -> dict[str, Any]:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the warm interpreter died")
        return dict(json.loads(line))

    def run(self, args: Sequence[str], *, env: dict[str, str], cwd: str | None = None,
            timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        """``script`` with ``args`` (argv[1:]); output captured as text, like ``subprocess.run(..., text=True)``."""
        argv = [self.script, *args]
        with self._lock, tempfile.TemporaryDirectory() as tmp:
            out, err = Path(tmp, "out"), Path(tmp, "err")
            proc = self._server()
            assert proc.stdin is not None
            request = {"argv": argv, "env": env, "cwd": cwd or os.getcwd(), "out": str(out), "err": str(err)}
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()
            pid = self._reply(proc, 10)["pid"]
            try:
                rc = self._reply(proc, timeout)["rc"]
            except TimeoutError:
                os.kill(pid, 9)
                self._reply(proc, 10)
                raise subprocess.TimeoutExpired(argv, timeout or 0) from None
            return subprocess.CompletedProcess(argv, rc, _text(out), _text(err))

    def stop(self) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            self._proc.wait(timeout=10)
            self._proc = None


def _text(path: Path) -> str:
    # As subprocess.run(text=True): the locale's encoding, universal newlines.
    import locale

    data = path.read_bytes().decode(locale.getpreferredencoding(False))
    return data.replace("\r\n", "\n").replace("\r", "\n")


def _serve(modules: Sequence[str]) -> dict[str, Any]:
    """Import ``modules``, then fork per request; returns (only in a child) the request to become."""
    import importlib

    for name in modules:
        importlib.import_module(name)
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            return dict(request)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"rc": os.waitstatus_to_exitcode(status)}), flush=True)
    raise SystemExit(0)


def _become(request: dict[str, Any]) -> None:
    """The child's process state as a new interpreter running the script would have it."""
    for fd, path in ((1, request["out"]), (2, request["err"])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    os.close(0)  # `<&-`: no stdin, as the interpreter then sees it
    sys.stdin = None
    setattr(sys, "__stdin__", None)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.argv = list(request["argv"])
    sys.path[0] = os.path.dirname(request["argv"][0])  # the script's directory, not this file's


if __name__ == "__main__":
    import runpy

    _become(_serve(sys.argv[1:]))
    runpy.run_path(sys.argv[0], run_name="__main__")  # exit status and tracebacks as for the script
