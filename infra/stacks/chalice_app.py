"""Chalice's CDK construct, packaging in a subprocess, optionally without third-party packages.

``chalice.cdk.Chalice`` runs ``chalice package`` in-process, which imports ``app`` from the
project directory and writes the stage's environment variables into ``os.environ``: a synth
inside a test run would leak both. A subprocess keeps the synthesizing process clean.

Every module of the package is shipped with its bytecode (unchecked-hash .pyc, valid whatever the
files' times): Lambda's code directory is read-only, so without it each cold start compiles every
module it imports, app and packaged dependencies alike (``make bench`` shows the cost).

With ``app_only`` the package is built from a copy of the app whose requirements.txt is empty:
no pip, no network, and the same CloudFormation (functions, API, environment, roles), only a
code asset without the dependencies. Tests and ``make synth`` use it; ``cdk deploy`` must not.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from chalice.cdk import Chalice

APP_FILES = ("app.py", "chalicelib", ".chalice/config.json")
TASK_ROOT = "/var/task"  # where Lambda unpacks the code: the file names tracebacks show
_PACKAGE = "import json, sys; from chalice import api; api.package_app(*sys.argv[1:4], chalice_config=json.loads(sys.argv[4]))"


class ChaliceApp(Chalice):
    """The Chalice construct over ``source_dir``, packaged out of process."""

    def __init__(self, scope: Any, id: str, source_dir: str, stage_config: dict[str, Any], app_only: bool) -> None:
        self._app_only = app_only
        super().__init__(scope, id, source_dir=source_dir, stage_config=stage_config)

    def _package_app(self) -> None:
        with tempfile.TemporaryDirectory(prefix="chalice-app-") as tmp:
            project = Path(self.source_dir)
            if self._app_only:
                project = Path(tmp)
                copy_app(Path(self.source_dir), project)
                (project / "requirements.txt").write_text("")
            args = [str(project), self._sam_package_dir, self.stage_name, json.dumps(self.stage_config)]
            # chalice asks botocore for a region only to spell service principals; no call is made.
            env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"}
            done = subprocess.run([sys.executable, "-c", _PACKAGE, *args], capture_output=True, text=True, env=env)
            if done.returncode != 0:
                raise RuntimeError(f"chalice package failed:\n{done.stderr[-4000:]}")
        with_bytecode(Path(self._sam_package_dir) / "deployment.zip")


def copy_app(source: Path, dest: Path) -> None:
    """The app's own files (APP_FILES) from ``source`` into ``dest``, without any bytecode."""
    for name in APP_FILES:
        src, dst = source / name, dest / name
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def compile_tree(root: Path, shown_as: str = TASK_ROOT) -> None:
    """Unchecked-hash bytecode in ``__pycache__`` for every module under ``root`` (its interpreter's version)."""
    import compileall
    import py_compile

    compileall.compile_dir(str(root), ddir=shown_as, quiet=2, workers=1,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)


def with_bytecode(package: Path) -> None:
    """Rewrite the zip ``package`` with the bytecode of its modules added (entries dated 1980: reproducible)."""
    with tempfile.TemporaryDirectory(prefix="chalice-pyc-") as tmp:
        root = Path(tmp)
        with zipfile.ZipFile(package) as archive:
            archive.extractall(root)
        compile_tree(root)
        with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                entry = zipfile.ZipInfo(str(path.relative_to(root)), date_time=(1980, 1, 1, 0, 0, 0))
                entry.external_attr = 0o644 << 16
                entry.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(entry, path.read_bytes())
