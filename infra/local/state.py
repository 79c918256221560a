"""``make run``'s data on disk, so a restart finds every image, member, task, metadef and byte (issue 16).

The state directory (``LOCAL_STATE_DIR``, default ``.run/state``) holds:

* ``dynamodb.snapshot``: every item of every table at the last compaction, one JSON line each
  (``{"r": region, "t": table, "i": item}``), after a header line with the snapshot's generation;
* ``dynamodb.journal.<generation>``: for every DynamoDB write the embedded emulator applied since
  that snapshot, each item it touched as the write left it (``"i"``, or ``null`` with its key
  ``"k"`` when deleted), appended in one ``write`` before the answer leaves the emulator: a kill -9
  loses no answered write, and a transaction is whole or absent. The file is fsynced each second,
  so a machine crash loses at most the last second. Items, not requests: a replay puts items back
  without re-running moto's expression engine (a replayed UpdateItem costs ~10 ms, a put ~0.05);
* ``objects/<id>`` and ``objects/<id>.json``: each S3 object's bytes (moto's own buffer for it)
  and its record, written before the PUT, copy or multipart completion is answered
  (infra/local/state_objects.py). Parts of unfinished multipart uploads are not kept.

A restart puts the snapshot's and the journal's items back in moto's tables and the objects back
in their buckets, deletes what nothing names, then compacts (a new snapshot of generation + 1, an
empty journal of that generation). It also compacts every ``COMPACT_EVERY`` journaled writes and
at stop. Step Functions executions are not kept: the runner starts the ones of unfinished tasks
again (infra/local/pipeline.resume). A ``lock`` file keeps a second runner off the same
directory. Never shipped: only the local runner and tests import it.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from infra.local.state_objects import JoinedFile, ObjectFile, ObjectStore

__all__ = ["JoinedFile", "LocalState", "ObjectFile", "ObjectStore", "StateInUse"]

FORMAT = "glance-local-state 1"
COMPACT_EVERY = 5000
FSYNC_SECONDS = 1.0
_log = logging.getLogger(__name__)


class StateInUse(RuntimeError):
    """Another runner holds this state directory."""


class DynamoJournal:
    """Applied DynamoDB writes appended to a journal; snapshots compact it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.snapshot = root / "dynamodb.snapshot"
        self.generation = self._snapshot_generation()
        self._fd: int | None = None
        self._count = 0
        self._dirty = threading.Event()
        self._closing = threading.Event()
        self._syncer: threading.Thread | None = None

    def _snapshot_generation(self) -> int:
        if not self.snapshot.exists():
            return 0
        with self.snapshot.open("rb") as f:
            return int(json.loads(f.readline())["generation"])

    def _journal(self, generation: int) -> Path:
        return self.root / f"dynamodb.journal.{generation}"

    def lines(self) -> Iterator[bytes]:
        """The requests to replay: the snapshot's, then the journal's since it."""
        if self.snapshot.exists():
            with self.snapshot.open("rb") as f:
                f.readline()
                yield from f
        journal = self._journal(self.generation)
        if journal.exists():
            with journal.open("rb") as f:
                for line in f:
                    if line.endswith(b"\n"):  # a line cut by a crash was never answered
                        yield line

    def open(self) -> None:
        """Start journaling (after the replay) into the current generation's journal; fsync it each second."""
        self._fd = os.open(self._journal(self.generation), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._syncer = threading.Thread(target=self._fsync_loop, name="state-fsync", daemon=True)
        self._syncer.start()

    def append(self, lines: bytes) -> bool:
        """Append the lines of one applied write in one ``write`` (caller holds the DynamoDB lock); True when a
        compaction is due."""
        if self._fd is None or not lines:
            return False
        os.write(self._fd, lines)
        self._dirty.set()
        self._count += 1
        return self._count >= COMPACT_EVERY

    def compact(self) -> None:
        """Write every table's items as the snapshot of the next generation; start its empty journal.

        The caller holds the DynamoDB lock (nothing changes meanwhile). A crash before the rename keeps
        the old snapshot and journal; after it, the new snapshot alone (the old journal is ignored).
        """
        generation = self.generation + 1
        temp = self.snapshot.with_suffix(".tmp")
        with temp.open("wb") as f:
            f.write(json.dumps({"format": FORMAT, "generation": generation}).encode() + b"\n")
            for region, name, table in _tables():
                for item in table.all_items():
                    f.write(_line({"r": region, "t": name, "i": item.to_json()["Attributes"]}))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, self.snapshot)
        old, self.generation = self.generation, generation
        if self._fd is not None:
            os.close(self._fd)
            self._fd = os.open(self._journal(generation), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC, 0o644)
        self._journal(old).unlink(missing_ok=True)
        self._count = 0

    def _fsync_loop(self) -> None:
        while True:
            self._dirty.wait()
            if self._closing.wait(FSYNC_SECONDS):
                return  # close() compacted, or the process is going away
            self._dirty.clear()
            fd = self._fd
            if fd is not None:
                try:
                    os.fsync(fd)
                except OSError:
                    pass  # closed by a compaction meanwhile: the snapshot was fsynced

    def close(self) -> None:
        self._closing.set()
        self._dirty.set()
        if self._syncer is not None:
            self._syncer.join()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"  # JSON escapes newlines in strings


def _backends() -> Any:
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID]


def _tables() -> Iterator[tuple[str, str, Any]]:
    for region, backend in list(_backends().items()):
        for name, table in list(backend.tables.items()):
            yield region, name, table


def touched(operation: str, request: dict[str, Any]) -> list[tuple[str, dict[str, Any], bool]]:
    """(table, key or whole item, is_item) of every item a DynamoDB write request names."""
    if operation == "PutItem":
        return [(request["TableName"], request["Item"], True)]
    if operation in ("UpdateItem", "DeleteItem"):
        return [(request["TableName"], request["Key"], False)]
    found: list[tuple[str, dict[str, Any], bool]] = []
    if operation == "BatchWriteItem":
        for table, writes in request.get("RequestItems", {}).items():
            for write in writes:
                if "PutRequest" in write:
                    found.append((table, write["PutRequest"]["Item"], True))
                elif "DeleteRequest" in write:
                    found.append((table, write["DeleteRequest"]["Key"], False))
    elif operation == "TransactWriteItems":
        for entry in request.get("TransactItems", []):
            for kind, op in entry.items():
                if kind in ("Put", "Update", "Delete"):
                    found.append((op["TableName"], op["Item"] if kind == "Put" else op["Key"], kind == "Put"))
    return found


def after_write(region: str, operation: str, body: bytes) -> bytes:
    """The journal lines of an applied write: each item it touched, as the table now holds it."""
    backend = _backends()[region]
    lines = []
    for name, given, is_item in touched(operation, json.loads(body)):
        table = backend.tables.get(name)
        if table is None:
            continue
        key = {a: given[a] for a in (table.hash_key_attr, table.range_key_attr) if a} if is_item else given
        hash_key, range_key = backend.get_keys_value(table, key)
        item = table.get_item(hash_key, range_key)
        lines.append(_line({"r": region, "t": name, "k": key, "i": item.to_json()["Attributes"] if item else None}))
    return b"".join(lines)


def replay(lines: Iterable[bytes]) -> tuple[int, int]:
    """Put each line's item back (or delete its key); (applied, skipped: a table that no longer exists)."""
    backends = _backends()
    applied = skipped = 0
    for line in lines:
        record = json.loads(line)
        table = backends[record["r"]].tables.get(record["t"])
        if table is None:
            skipped += 1
            continue
        if record["i"] is not None:
            table.put_item(record["i"], overwrite=True)
        else:
            table.delete_item(*backends[record["r"]].get_keys_value(table, record["k"]))
        applied += 1
    if skipped:
        _log.warning("%d stored items name tables the runner no longer has: left out", skipped)
    return applied, skipped


class LocalState:
    """The state directory of one runner: locked, optionally emptied, restored, journaled, compacted at close."""

    def __init__(self, root: Path, *, reset: bool = False) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._lock_file = (root / "lock").open("a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise StateInUse(f"{root} is in use by another `make run` (or pick another LOCAL_STATE_DIR)") from None
        if reset:
            for entry in root.iterdir():
                if entry.name != "lock":
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        stamp = root / "FORMAT"
        if stamp.exists() and stamp.read_text().strip() != FORMAT:
            raise RuntimeError(f"{root} holds state of another format ({stamp.read_text().strip()!r}): "
                               "start with RESET=1 or another LOCAL_STATE_DIR")
        stamp.write_text(FORMAT + "\n")
        self.objects = ObjectStore(root / "objects")
        self.dynamo = DynamoJournal(root)
        self.objects.activate()  # before any object exists: moto's buffers are files here from now on

    def restore(self, dynamo_lock: threading.Lock) -> dict[str, int]:
        """Put the items and objects back (tables and bucket exist by now), compact, start journaling."""
        started = time.monotonic()
        with dynamo_lock:
            applied, refused = replay(self.dynamo.lines())
            objects = self.objects.restore()
            self.dynamo.compact()
            self.dynamo.open()
        return {"items": applied, "left_out": refused, "objects": objects,
                "ms": round((time.monotonic() - started) * 1000)}

    def dynamo_applied(self, region: str, operation: str, body: bytes) -> None:
        """One DynamoDB write the emulator applied (the caller holds the DynamoDB lock)."""
        if self.dynamo._fd is not None and self.dynamo.append(after_write(region, operation, body)):  # noqa: SLF001
            self.dynamo.compact()

    def close(self, dynamo_lock: threading.Lock) -> None:
        """Compact (so the next start replays no journal), stop journaling, release the directory."""
        with dynamo_lock:
            if self.dynamo._fd is not None:  # noqa: SLF001 - restored and journaling
                self.dynamo.compact()
            self.dynamo.close()
        self.objects.deactivate()
        fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        self._lock_file.close()
