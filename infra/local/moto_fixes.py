"""Three private moto fixes the long-running local emulator needs (DESIGN.md 5), fenced here like lambda_hook.

The first two were measured with bench/concurrency.py (issue 13), the third with bench/upload.py
(issue 15), against moto 5.2.5:

* **Every model instance ever made is kept.** ``BaseModel.__new__`` appends each instance to
  its class's ``instances_tracked`` (for moto's dashboard); only ``mock_aws`` teardown or a
  moto-api reset clears it, so a server keeps every DynamoDB ``Item`` (each query's result
  copies included), every S3 ``FakeKey`` with its data, deleted or not, and every table
  copy below. 800 creates with mixed writes left the service at 4 GB resident with no image
  left, and the gen-2 collections that walk those objects hold the GIL for seconds: the
  whole API, /versions included, answered nothing meanwhile. Here instances are not tracked.
* **Each TransactWriteItems deep-copies every table it touches** (to roll back on a
  cancellation), so a create costs O(table size): 45 ms per transaction at 1,000 items.
  Here the backup is of the touched items only (deep copies of them, or "absent"), put back
  if the transaction raises; moto's own table-level rollback is left a no-op.
* **Completing a multipart upload concatenates every part in memory** (``FakeMultipart.complete``
  builds a ``bytearray`` of the whole object, then ``bytes`` of it: twice the object), before the
  new object's spooled file takes it, and with no checksum asked for it also builds a CRC64 of a
  third copy. A 2 GiB upload peaked above 4 GiB resident. Here the parts are copied file to file,
  1 MiB at a time, into the spooled file the new object then adopts (parts and objects beyond
  moto's 5 MiB buffer live in temporary files), or, with the local state, the parts' own files
  become the object's (state_objects.JoinedFile: nothing copied); the object gets a checksum only
  when the upload asked for one. And a written value's MD5 (its ETag) is computed from the bytes
  beside their write, not by reading the stored buffer back after it.

moto is pinned exactly (requirements-dev.txt); ``check()`` fails loudly when any target
changes shape, and tests/unit/local/test_moto_fixes.py runs it. Never shipped: only the local
runner and the tests import this.
"""
from __future__ import annotations

import concurrent.futures
import copy
import functools
import inspect
import threading
from typing import Any

_state = threading.local()  # inside our transact_write_items (this thread): table copies are skipped
_installed: list[str] = []


def _s3_targets() -> Any:
    from moto.s3 import models

    return models


def _targets() -> tuple[Any, Any, Any]:
    from moto.core.common_models import BaseModel
    from moto.dynamodb import models as ddb
    from moto.dynamodb.models.table import Table

    return BaseModel, ddb, Table


def check() -> None:
    """Raise RuntimeError naming what moved if moto no longer has the shapes these fixes rely on."""
    base_model, ddb, table = _targets()
    new = getattr(base_model.__dict__.get("__new__"), "__func__", None)
    new = getattr(new, "_moto_original", new)
    if new is None or "instances_tracked.append" not in inspect.getsource(new):
        raise RuntimeError("moto BaseModel.__new__ no longer tracks instances as expected: update infra/local/moto_fixes.py")
    tx = getattr(ddb.DynamoDBBackend, "transact_write_items", None)
    source = inspect.getsource(getattr(tx, "_moto_original", tx)) if tx else ""
    for needle in ("copy.deepcopy(", "original_table_state[table_name]", "self.tables[table_name] = original_table_state"):
        if needle not in source:
            raise RuntimeError(f"moto DynamoDBBackend.transact_write_items changed ({needle!r} is gone): "
                               "update infra/local/moto_fixes.py")
    if getattr(ddb.copy, "deepcopy", None) is None or not hasattr(ddb.DynamoDBBackend, "get_keys_value"):
        raise RuntimeError("moto.dynamodb.models no longer uses copy / get_keys_value: update infra/local/moto_fixes.py")
    for name in ("items", "get_item", "delete_item", "hash_key_attr", "range_key_attr"):
        if name not in table.__dict__ and name not in inspect.getsource(table.__init__):
            raise RuntimeError(f"moto dynamodb Table.{name} is gone: update infra/local/moto_fixes.py")
    _check_s3(_s3_targets())


def _check_s3(s3: Any) -> None:
    complete = s3.FakeMultipart.complete
    source = inspect.getsource(getattr(complete, "_moto_original", complete))
    for needle in ("total.extend(part.value)", "bytes(total)", "checksum_builder.addPart(part.value)",
                   "S3_UPLOAD_PART_MIN_SIZE", "md5s.extend(decode_hex(part_etag)[0])"):
        if needle not in source:
            raise RuntimeError(f"moto FakeMultipart.complete changed ({needle!r} is gone): update infra/local/moto_fixes.py")
    value = s3.FakeKey.value
    setter = inspect.getsource(getattr(value.fset, "_moto_original", value.fset))
    for needle in ("self._value_buffer.write(new_value)", "self.contentsize = len(new_value)",
                   "self._value_buffer.truncate()"):
        if needle not in setter:
            raise RuntimeError(f"moto FakeKey.value's setter changed ({needle!r} is gone): update infra/local/moto_fixes.py")
    if "if self._etag is None:" not in inspect.getsource(s3.FakeKey.etag.fget):
        raise RuntimeError("moto FakeKey.etag changed (no longer computed once from the value): update infra/local/moto_fixes.py")
    manager = inspect.getsource(s3.S3Backend.complete_multipart_upload)
    if "multipart.complete(body)" not in manager or "self.put_object(" not in manager or not hasattr(
            s3, "get_s3_default_key_buffer_size"):
        raise RuntimeError("moto S3Backend.complete_multipart_upload changed: update infra/local/moto_fixes.py")


def install() -> None:
    """Apply both fixes, once per process (later calls do nothing)."""
    if _installed:
        return
    check()
    base_model, ddb, table = _targets()
    _untrack_instances(base_model)
    _item_level_transactions(ddb, table)
    _multipart_without_concatenation(_s3_targets())
    _installed.append("done")


def _untrack_instances(base_model: Any) -> None:
    def untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
        return object.__new__(cls)  # as moto's, without keeping the instance forever

    untracked_new._moto_original = base_model.__dict__["__new__"].__func__  # type: ignore[attr-defined]
    base_model.__new__ = staticmethod(untracked_new)


class _NoTableCopies:
    """Stands in for ``copy`` inside moto.dynamodb.models: a Table "copy" made by our transaction is the table."""

    def __init__(self, table: type) -> None:
        self._table = table

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, obj: Any, memo: Any = None) -> Any:
        if isinstance(obj, self._table) and getattr(_state, "in_transaction", False):
            return obj
        return copy.deepcopy(obj, memo)


def _item_level_transactions(ddb: Any, table: type) -> None:
    original = ddb.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        undo = _backup(self, transact_items)
        _state.in_transaction = True
        try:
            original(self, transact_items)
        except BaseException:
            _restore(undo)
            raise
        finally:
            _state.in_transaction = False

    transact_write_items._moto_original = original  # type: ignore[attr-defined]
    ddb.copy = _NoTableCopies(table)
    ddb.DynamoDBBackend.transact_write_items = transact_write_items


def _backup(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
    """(table, hash key, range key, deep copy of the item or None) for each item the transaction names."""
    undo = []
    for entry in transact_items:
        op_type, op = next(iter(entry.items()), (None, {}))
        found = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
        if found is None:
            continue  # moto answers the bad request itself, before writing anything
        key = op.get("Item", {}) if op_type == "Put" else op.get("Key", {})
        try:
            hash_key, range_key = backend.get_keys_value(found, key)
            current = found.get_item(hash_key, range_key)
        except Exception:  # noqa: BLE001 - a malformed key: moto raises its ValidationException itself
            continue
        undo.append((found, hash_key, range_key, copy.deepcopy(current) if current is not None else None))
    return undo


def _restore(undo: list[tuple[Any, Any, Any, Any]]) -> None:
    for found, hash_key, range_key, saved in reversed(undo):
        if saved is None:
            found.delete_item(hash_key, range_key)
        elif range_key is not None:
            found.items[hash_key][range_key] = saved
        else:
            found.items[hash_key] = saved


class _Joined:
    """A completed multipart object's value: the parts already joined into one file (with the local state,
    the parts' own files: state_objects.JoinedFile), which the new FakeKey adopts as its buffer (moto
    disposes of the parts before it makes the key)."""

    def __init__(self, file: Any, size: int) -> None:
        self.file = file
        self.size = size

    def __len__(self) -> int:
        return self.size


@functools.cache
def _etags() -> concurrent.futures.ThreadPoolExecutor:
    """Where written objects' MD5s are computed, beside their writes."""
    return concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="emulator-etag")


def _multipart_without_concatenation(s3: Any) -> None:
    import codecs
    import shutil

    original_complete = s3.FakeMultipart.complete
    original_setter = s3.FakeKey.value.fset

    def complete(self: Any, body: Any) -> tuple[Any, str, Any]:
        # moto's own, but the parts are copied file to file instead of concatenated in memory (``total``).
        decode_hex = codecs.getdecoder("hex_codec")
        algorithm = self.metadata.get("x-amz-checksum-algorithm")
        # Without a requested algorithm moto still builds a CRC64 of the whole object, in memory: skipped.
        checksum_builder = s3.MultipartChecksumBuilder(algorithm, self.metadata.get("x-amz-checksum-type"))
        parts, md5s, last = [], bytearray(), None
        for pn, etag in body:
            part = self.parts.get(pn)
            if part is None or part.etag.replace('"', "") != etag.replace('"', ""):
                raise s3.InvalidPart()
            if last is not None and last.contentsize < s3.S3_UPLOAD_PART_MIN_SIZE:
                raise s3.EntityTooSmall()
            md5s.extend(decode_hex(part.etag.replace('"', ""))[0])
            if algorithm:
                checksum_builder.addPart(part.value)
            parts.append(part)
            last = part
        if not parts:
            raise s3.MalformedXML
        # moto's own ``tempfile`` (looked up now): the local state's shim swaps it for files on disk (state_objects).
        joined = s3.tempfile.SpooledTemporaryFile(s3.get_s3_default_key_buffer_size())
        on_disk = [getattr(part._value_buffer, "path", None) for part in parts]  # the local state's part files
        if hasattr(joined, "path") and all(on_disk):
            from infra.local.state_objects import JoinedFile

            joined = JoinedFile.adopt(joined, on_disk)  # the parts' files become the object's: nothing copied
        else:
            for part in parts:
                with part.lock:
                    part._value_buffer.seek(0)
                    shutil.copyfileobj(part._value_buffer, joined, 1024 * 1024)
        full_etag = s3.md5_hash()
        full_etag.update(bytes(md5s))
        checksum = checksum_builder.build() if algorithm else None
        return _Joined(joined, sum(int(p.contentsize) for p in parts)), f"{full_etag.hexdigest()}-{len(parts)}", checksum

    def value_setter(self: Any, new_value: Any) -> None:
        if not isinstance(new_value, _Joined):
            # The MD5 moto's ``etag`` would compute, from the bytes at hand, while they are written (hashlib
            # and the write both let go of the GIL): moto reads the stored buffer back for it, from disk with
            # the local state, after the write: a second pass over every upload.
            digest = None
            if self._etag is None and isinstance(new_value, bytes):
                digest = _etags().submit(lambda: s3.md5_hash(new_value).hexdigest())
            original_setter(self, new_value)
            if digest is not None:
                self._etag = digest.result()
            return
        self._value_buffer.close()
        self._value_buffer = new_value.file
        self.contentsize = new_value.size

    complete._moto_original = original_complete  # type: ignore[attr-defined]
    value_setter._moto_original = original_setter  # type: ignore[attr-defined]
    s3.FakeMultipart.complete = complete
    s3.FakeKey.value = property(s3.FakeKey.value.fget, value_setter)
