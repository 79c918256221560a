"""The state directory's own rules (infra/local/state.py); restarts end to end are tests/e2e/test_local_state.py."""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest

from infra.local import state
from infra.local.run import RunnerSettings


def _snapshot(root: Path, generation: int, *lines: str) -> None:
    header = json.dumps({"format": state.FORMAT, "generation": generation})
    (root / "dynamodb.snapshot").write_text("".join(f"{line}\n" for line in (header, *lines)))


def test_replay_reads_the_snapshot_then_its_own_generations_journal_without_a_torn_last_line(tmp_path: Path) -> None:
    _snapshot(tmp_path, 4, '{"r":"us-east-1","t":"t","i":{}}')
    (tmp_path / "dynamodb.journal.3").write_text('{"old":1}\n')  # before the snapshot: ignored
    (tmp_path / "dynamodb.journal.4").write_bytes(b'{"a":1}\n{"b":')
    journal = state.DynamoJournal(tmp_path)
    assert journal.generation == 4
    assert list(journal.lines()) == [b'{"r":"us-east-1","t":"t","i":{}}\n', b'{"a":1}\n']


def test_a_fresh_directory_has_nothing_to_replay(tmp_path: Path) -> None:
    journal = state.DynamoJournal(tmp_path)
    assert journal.generation == 0 and list(journal.lines()) == []


@pytest.mark.moto
def test_a_journal_line_is_each_item_a_write_touched_as_the_table_holds_it_after(tmp_path: Path) -> None:
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(TableName="t", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
        client.put_item(TableName="t", Item={"id": {"S": "a"}, "n": {"N": "1"}})
        update = {"TransactItems": [
            {"Update": {"TableName": "t", "Key": {"id": {"S": "a"}}, "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"Put": {"TableName": "t", "Item": {"id": {"S": "b\nc"}}}},
            {"Delete": {"TableName": "t", "Key": {"id": {"S": "gone"}}}},
            {"ConditionCheck": {"TableName": "t", "Key": {"id": {"S": "other"}},
                                "ConditionExpression": "attribute_not_exists(id)"}}]}
        client.transact_write_items(**update)
        lines = state.after_write("eu-west-1", "TransactWriteItems", json.dumps(update).encode())
        records = [json.loads(line) for line in lines.splitlines()]
        assert lines.count(b"\n") == 3 and [r["i"] for r in records] == [
            {"id": {"S": "a"}, "n": {"N": "2"}}, {"id": {"S": "b\nc"}}, None]
        assert records[2] == {"r": "eu-west-1", "t": "t", "k": {"id": {"S": "gone"}}, "i": None}
        client.delete_item(TableName="t", Key={"id": {"S": "a"}})
        assert state.replay([json.dumps(records[0]).encode(), json.dumps({**records[1], "i": None}).encode()]) == (2, 0)
        assert client.get_item(TableName="t", Key={"id": {"S": "a"}})["Item"]["n"] == {"N": "2"}
        assert "Item" not in client.get_item(TableName="t", Key={"id": {"S": "b\nc"}})


def test_a_second_runner_on_the_directory_is_refused_and_reset_empties_it(tmp_path: Path) -> None:
    first = state.LocalState(tmp_path)
    try:
        with pytest.raises(state.StateInUse):
            state.LocalState(tmp_path)
    finally:
        first.objects.deactivate()
        first._lock_file.close()  # noqa: SLF001 - releases the flock as a process exit would
    (tmp_path / "objects" / "abc").write_bytes(b"data")
    _snapshot(tmp_path, 2)
    again = state.LocalState(tmp_path, reset=True)
    try:
        assert sorted(p.name for p in tmp_path.iterdir()) == ["FORMAT", "lock", "objects"]
        assert list((tmp_path / "objects").iterdir()) == [] and again.dynamo.generation == 0
    finally:
        again.objects.deactivate()
        again._lock_file.close()  # noqa: SLF001


def test_state_of_another_format_is_refused_not_misread(tmp_path: Path) -> None:
    (tmp_path / "FORMAT").write_text("glance-local-state 0\n")
    with pytest.raises(RuntimeError, match="RESET=1"):
        state.LocalState(tmp_path)


def test_an_object_file_is_removed_when_closed_unless_it_holds_a_stored_object(tmp_path: Path) -> None:
    temporary, stored = state.ObjectFile(tmp_path / "t"), state.ObjectFile(tmp_path / "s")
    stored.kept = True
    for f in (temporary, stored):
        f.write(b"bytes")
        f.close()
    assert [p.name for p in tmp_path.iterdir()] == ["s"]


def test_moto_buffers_are_object_files_only_while_a_store_is_active(tmp_path: Path) -> None:
    from moto.s3.models import FakeKey

    store = state.ObjectStore(tmp_path)
    store.activate()
    try:
        key = FakeKey("k", b"value", account_id="123456789012", region_name="us-east-1")
        assert isinstance(key._value_buffer, state.ObjectFile) and key.value == b"value"  # noqa: SLF001
        assert [p.read_bytes() for p in tmp_path.iterdir()] == [b"value"]
        key.dispose()
        assert list(tmp_path.iterdir()) == []
        fds = len(os.listdir("/proc/self/fd"))
        keys = [FakeKey(f"k{i}", b"v", account_id="123456789012", region_name="us-east-1") for i in range(50)]
        assert len(list(tmp_path.iterdir())) == 50 and len(os.listdir("/proc/self/fd")) == fds  # no descriptor each
        for each in keys:
            each.dispose()
    finally:
        store.deactivate()
    assert not isinstance(FakeKey("k", b"v", account_id="123456789012", region_name="us-east-1")._value_buffer,  # noqa: SLF001
                          state.ObjectFile)


def test_the_runner_keeps_state_under_the_project_unless_told() -> None:
    assert RunnerSettings.from_env({}).state_path() == state_root() / ".run" / "state"
    assert RunnerSettings.from_env({"LOCAL_STATE_DIR": "/srv/glance"}).state_path() == Path("/srv/glance")
    assert RunnerSettings.from_env({"LOCAL_STATE_DIR": "none"}).state_path() is None
    assert RunnerSettings.from_env({"LOCAL_RESET": "1"}).reset and not RunnerSettings.from_env({"LOCAL_RESET": "0"}).reset


def state_root() -> Path:
    return Path(__file__).resolve().parents[3]


def _joined(tmp_path: Path, pieces: list[bytes]) -> state.JoinedFile:
    parts = []
    for n, piece in enumerate(pieces):
        part = state.ObjectFile(tmp_path / f"part{n}")
        part.write(piece)
        parts.append(part.path)
    return state.JoinedFile.adopt(state.ObjectFile(tmp_path / "obj"), parts)


def test_a_joined_object_reads_its_parts_as_one_without_copying_them(tmp_path: Path) -> None:
    pieces = [b"abcde", b"fgh", b"ijklmnop"]
    joined = _joined(tmp_path, pieces)
    assert joined.sizes == [5, 3, 8] and (tmp_path / "obj").stat().st_size == 0
    assert all(os.path.samefile(tmp_path / f"part{n}", tmp_path / f"obj.{n + 1}") for n in range(3))  # linked
    assert joined.read() == b"".join(pieces)
    joined.seek(4)
    assert joined.read(6) == b"efghij" and joined.tell() == 10  # across a whole segment
    assert joined.read(100) == b"klmnop" and joined.read(1) == b""
    assert joined.seek(-3, os.SEEK_END) == 13 and joined.read() == b"nop"
    joined.seek(0)
    assert [joined.read(4) for _ in range(5)] == [b"abcd", b"efgh", b"ijkl", b"mnop", b""]


def test_a_joined_object_becomes_one_file_when_written_and_its_files_go_when_closed(tmp_path: Path) -> None:
    joined = _joined(tmp_path, [b"abc", b"def"])
    for n in range(2):
        (tmp_path / f"part{n}").unlink()  # moto disposes of the parts
    joined.seek(0)
    joined.truncate(4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["obj"] and (tmp_path / "obj").read_bytes() == b"abcd"
    joined.seek(0, os.SEEK_END)
    joined.write(b"!")
    joined.seek(0)
    assert joined.read() == b"abcd!"
    (tmp_path / "t").mkdir()
    temporary = _joined(tmp_path / "t", [b"x", b"y"])
    temporary.close()
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == ["part0", "part1"]  # its segments went, not the parts


@contextlib.contextmanager
def _emulated_bucket(tmp_path: Path) -> Iterator[tuple[Any, state.ObjectStore]]:
    """A fresh moto with the bucket ``joined-bucket`` and an object store on ``tmp_path`` active."""
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="joined-bucket")
        store = state.ObjectStore(tmp_path)
        store.activate()
        try:
            yield s3, store
        finally:
            store.deactivate()


@pytest.mark.moto
def test_a_restart_restores_a_joined_object_and_drops_those_with_a_segment_cut_short_or_lost(tmp_path: Path) -> None:
    from infra.local import moto_fixes

    moto_fixes.install()
    part = 5 * 1024 * 1024
    data = [os.urandom(part), os.urandom(part), b"tail"]
    with _emulated_bucket(tmp_path) as (s3, store):
        for name in ("whole", "cut", "lost"):
            upload = s3.create_multipart_upload(Bucket="joined-bucket", Key=name)["UploadId"]
            parts = [{"PartNumber": n + 1, "ETag": s3.upload_part(Bucket="joined-bucket", Key=name, UploadId=upload,
                                                                   PartNumber=n + 1, Body=chunk)["ETag"]}
                     for n, chunk in enumerate(data)]
            s3.complete_multipart_upload(Bucket="joined-bucket", Key=name, UploadId=upload, MultipartUpload={"Parts": parts})
            store.sync("joined-bucket", name)
        assert s3.get_object(Bucket="joined-bucket", Key="whole")["Body"].read() == b"".join(data)
        assert s3.get_object(Bucket="joined-bucket", Key="whole", Range="bytes=5242878-5242881")["Body"].read() == \
            data[0][-2:] + data[1][:2]
    names = {p.name for p in tmp_path.iterdir()}
    assert len(names) == 3 * 5  # three objects: each its empty file, its record and three segments
    cut, lost = (next(p for p in tmp_path.glob("*.json") if json.loads(p.read_text())["key"] == key).with_suffix("")
                 for key in ("cut", "lost"))
    os.truncate(cut.with_name(cut.name + ".2"), 10)
    cut.with_name(lost.name + ".2").unlink()  # the middle one: segment 3 is left past the gap
    with _emulated_bucket(tmp_path) as (s3, again):
        assert again.restore() == 1
        assert s3.get_object(Bucket="joined-bucket", Key="whole")["Body"].read() == b"".join(data)
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="joined-bucket")["Contents"]] == ["whole"]
    assert not any(p.name.startswith((cut.name, lost.name)) for p in tmp_path.iterdir())  # nothing of either is left
