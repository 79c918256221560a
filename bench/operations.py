"""Per-operation DynamoDB cost at two table sizes: calls, rows read, write units, latency.

Write units are computed from what the adapters send, the way DynamoDB bills
them: each written item costs ceil(size / 1 KB) (twice inside a transaction),
and each GSI whose entry appears, disappears or changes key costs one write
of the entry per put and per delete (ALL projections also when any attribute
changes). The item before and after each write is read with a separate,
uncounted client, so the figures follow whatever the adapter sends (PutItem
or UpdateItem). Rows read: Query/Scan ScannedCount, GetItem 1, BatchGetItem
the items answered.
"""
from __future__ import annotations

import json
import math
import statistics
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")


def _size(value: dict[str, Any]) -> int:
    """DynamoDB's size of one attribute value (approximately: numbers by their digits)."""
    (kind, raw), = value.items()
    if kind in ("S", "B"):
        return len(raw.encode("utf-8")) if kind == "S" else len(raw)
    if kind == "N":
        return len(str(raw)) // 2 + 2
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_size({kind[0]: v}) for v in raw)
    if kind == "L":
        return 3 + sum(1 + _size(v) for v in raw)
    return 3 + sum(1 + len(k.encode("utf-8")) + _size(v) for k, v in raw.items())  # M


def item_size(item: dict[str, Any] | None) -> int:
    return 0 if not item else sum(len(k.encode("utf-8")) + _size(v) for k, v in item.items())


def units(size: int) -> int:
    return max(1, math.ceil(size / 1024)) if size else 0


class Meter:
    """Counts calls, rows read and write units at PynamoDB's one call site."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.tables: dict[str, dict[str, Any]] = {}
        self.calls: Counter[str] = Counter()
        self.rows = 0
        self.base_wu = 0
        self.index_wu = 0

    def clear(self) -> None:
        self.calls.clear()
        self.rows = self.base_wu = self.index_wu = 0

    def _table(self, name: str) -> dict[str, Any]:
        if name not in self.tables:
            desc = self.raw.describe_table(TableName=name)["Table"]
            keys = [k["AttributeName"] for k in desc["KeySchema"]]
            indexes = [([k["AttributeName"] for k in g["KeySchema"]], g["Projection"]) for g in desc.get("GlobalSecondaryIndexes", [])]
            self.tables[name] = {"keys": keys, "indexes": indexes}
        return self.tables[name]

    def _get(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.raw.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return found

    def _targets(self, operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], int]]:
        """(table, key, weight) of every item the call writes; a transaction bills its writes twice."""
        def key_of(table: str, item: dict[str, Any]) -> dict[str, Any]:
            return {k: item[k] for k in self._table(table)["keys"]}

        if operation in ("PutItem",):
            return [(params["TableName"], key_of(params["TableName"], params["Item"]), 1)]
        if operation in ("UpdateItem", "DeleteItem"):
            return [(params["TableName"], params["Key"], 1)]
        found = []
        if operation == "TransactWriteItems":
            for action in params["TransactItems"]:
                (kind, body), = action.items()
                if kind == "ConditionCheck":
                    continue
                key = body["Key"] if "Key" in body else key_of(body["TableName"], body["Item"])
                found.append((body["TableName"], key, 2))
        if operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    body = request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"]
                    found.append((table, key_of(table, body), 1))
        return found

    def _bill(self, table: str, before: dict[str, Any] | None, after: dict[str, Any] | None, weight: int) -> None:
        self.base_wu += weight * units(max(item_size(before), item_size(after)))
        spec = self._table(table)
        for keys, projection in spec["indexes"]:
            old, new = (self._entry(item, keys, spec["keys"], projection) for item in (before, after))
            if old == new:
                continue
            same_key = old is not None and new is not None and all(old[k] == new[k] for k in keys)
            if same_key:
                self.index_wu += units(item_size(new))
            else:
                self.index_wu += units(item_size(old)) + units(item_size(new))

    @staticmethod
    def _entry(item: dict[str, Any] | None, keys: list[str], table_keys: list[str], projection: dict[str, Any]) -> Any:
        if not item or not all(k in item for k in keys):
            return None
        kind = projection["ProjectionType"]
        if kind == "ALL":
            return item
        wanted = set(keys) | set(table_keys) | set(projection.get("NonKeyAttributes", []) if kind == "INCLUDE" else [])
        return {k: v for k, v in item.items() if k in wanted}

    def wrap(self, call: Callable[..., Any]) -> Callable[..., Any]:
        meter = self

        def counted(conn: Any, operation: str, params: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            targets = meter._targets(operation, params) if operation in WRITES else []
            before = [meter._get(t, k) for t, k, _ in targets]
            result = call(conn, operation, params, *args, **kwargs)
            meter.calls[operation] += 1
            for (table, key, weight), old in zip(targets, before):
                meter._bill(table, old, meter._get(table, key), weight)
            if operation in ("Query", "Scan"):
                meter.rows += int(result.get("ScannedCount", len(result.get("Items", []))))
            elif operation == "GetItem":
                meter.rows += 1 if result.get("Item") else 0
            elif operation == "BatchGetItem":
                meter.rows += sum(len(v) for v in result.get("Responses", {}).values())
            elif operation == "TransactGetItems":
                meter.rows += len(result.get("Responses", []))
            return result

        return counted


def seed(count: int) -> None:
    """``count`` images: the caller's and others', every visibility, statuses, tags, properties, shares.

    Written with BatchWriteItem (moto copies the table for every transaction, which makes thousands of
    creates quadratic); the records are the adapters' own, so the indexes hold what a create writes.
    """
    from chalicelib.adapters import dynamo_images, dynamo_members, dynamo_tags
    from chalicelib.adapters.dynamo_models import ImageRecord, MemberRecord, TagRowRecord
    from chalicelib.domain.images import Image, ImageStatus
    from chalicelib.domain.members import Member

    base = datetime(2025, 1, 1, tzinfo=timezone.utc)
    with ImageRecord.batch_write() as images, MemberRecord.batch_write() as members, TagRowRecord.batch_write() as tags:
        for n in range(count):
            owner = "proj" if n % 3 else "other"
            visibility = ["shared", "public", "private", "community"][n % 4]
            when = base + timedelta(seconds=n)
            image = Image(
                id=f"seed-{n:06d}", owner=owner, created_at=when, updated_at=when, name=f"seed{n}",
                status=ImageStatus.ACTIVE if n % 5 else ImageStatus.QUEUED, visibility=visibility,
                os_hidden=n % 11 == 0, disk_format=["raw", "qcow2"][n % 2], container_format=["bare", "ovf"][n % 3 == 1],
                size=n * 1024, tags=frozenset({f"t{n % 5}"}), extra_properties={"os_distro": f"d{n % 4}", "note": "x" * 1500},
            )
            images.save(dynamo_images._to_record(image))  # noqa: SLF001 - the adapter's own record
            for row in dynamo_tags.records(image):
                tags.save(row)
            if owner == "other" and visibility == "shared":
                member = Member(image.id, "proj", ["accepted", "pending"][n // 12 % 2], when, when)
                members.save(dynamo_members._to_record(member, image))  # noqa: SLF001 - as above


STAMP = "2025-01-01T00:02:00Z"
LISTS = [
    "", "name=seed7", "status=queued", "visibility=public", "visibility=private", "visibility=shared",
    "visibility=community", "visibility=all", "member_status=pending&visibility=shared", "tag=t1", "os_hidden=true",
    "owner=other", "disk_format=qcow2", "container_format=ovf", "size_min=102400&size_max=204800",
    f"created_at=gt:{STAMP}", f"updated_at=lt:{STAMP}", "os_distro=d1", "sort=name:asc", "sort=size:asc",
]


def run(count: int) -> dict[str, tuple[int, int, int, int, float, str]]:
    """Operation -> (status, calls, rows read, write units base+index, index write units, ms, detail)."""
    import boto3
    from chalice.test import Client
    from moto import mock_aws
    from pynamodb.connection.base import Connection

    from app import app
    from chalicelib import wiring
    from chalicelib.api import deserializers as des
    from chalicelib.config import Settings
    from chalicelib.domain import listing
    from chalicelib.domain.context import RequestContext
    from infra.local.bootstrap import ensure_resources

    from infra.local import moto_fixes

    # The emulator as make run serves it: without these fixes moto copies every table per transaction,
    # which would time the emulator, not the service (infra/local/moto_fixes.py).
    moto_fixes.install()
    results: dict[str, Any] = {}
    with mock_aws():
        settings = Settings.of(region="us-east-1", images_table=f"o{count}-images", members_table=f"o{count}-members",
                               usage_table=f"o{count}-usage", bucket=f"o{count}-bucket", auth_mode="dev",
                               metadefs_table=f"o{count}-metadefs", tasks_table=f"o{count}-tasks")
        ensure_resources(settings, boto3.Session())
        container = wiring.build(settings)
        wiring.override(container)
        seed(count)
        meter = Meter(boto3.client("dynamodb", region_name="us-east-1"))
        original = Connection._make_api_call
        Connection._make_api_call = meter.wrap(original)  # type: ignore[method-assign]  # the bench's meter, undone below
        member = {"X-Auth-Token": "u:proj:member,reader", "Content-Type": "application/json", "Accept": "application/json"}
        patch = {**member, "Content-Type": "application/openstack-images-v2.1-json-patch"}
        ctx = RequestContext("u", "proj", frozenset({"member", "reader"}))
        try:
            with Client(app) as client:
                def measure(name: str, method: str, path: str, headers: dict[str, str], body: str | None = None,
                            repeat: int = 1) -> Any:
                    times = []
                    for _ in range(repeat):
                        meter.clear()
                        start = time.perf_counter()
                        resp = getattr(client.http, method.lower())(path, headers=headers, body=body)
                        times.append((time.perf_counter() - start) * 1000)
                    calls = sum(meter.calls.values())
                    detail = ", ".join(f"{op} x{n}" for op, n in meter.calls.items())
                    results[name] = (resp.status_code, calls, meter.rows, meter.base_wu + meter.index_wu, meter.index_wu,
                                     statistics.median(times), detail)
                    return resp

                made = measure("create", "POST", "/v2/images", member, json.dumps({"name": "bench", "tags": ["a"]}))
                image_id = json.loads(made.body)["id"]
                measure("get", "GET", f"/v2/images/{image_id}", member, repeat=3)
                measure("patch (property)", "PATCH", f"/v2/images/{image_id}", patch, '[{"op":"add","path":"/k","value":"v"}]')
                measure("patch (rename)", "PATCH", f"/v2/images/{image_id}", patch, '[{"op":"replace","path":"/name","value":"renamed"}]')
                measure("add tag", "PUT", f"/v2/images/{image_id}/tags/t", member)
                measure("status (deactivate)", "POST", "/v2/images/seed-000001/actions/deactivate", member)
                measure("delete", "DELETE", f"/v2/images/{image_id}", member)
                for qs in LISTS:
                    params = {k: [v] for k, v in (p.split("=", 1) for p in filter(None, qs.split("&")))}
                    query = des.list_images(params, default_limit=25, max_limit=1000)
                    sources = len(listing.sources_for(ctx, query.filters.visibility, query.filters.member_status))
                    resp = measure(f"list {qs or '(default)'}", "GET", f"/v2/images?limit=25&{qs}", member, repeat=3)
                    body = json.loads(resp.body)
                    results[f"list {qs or '(default)'}"] += (sources, len(body["images"]), "next" in body)
        finally:
            Connection._make_api_call = original  # type: ignore[method-assign]
            wiring.reset()
    return results


def bench_operations(sizes: tuple[int, ...] = (300, 3000)) -> None:
    """Print the table: per operation and size, calls, rows read, write units (index part) and latency."""
    runs = {n: run(n) for n in sizes}
    names = list(runs[sizes[0]])
    head = "".join(f" | {f'{n} images':^38}" for n in sizes)
    print(f"\n{'operation (limit=25 for lists)':44}{head}")
    print(f"{'':44}" + "".join(f" | {'calls':>5} {'read':>5} {'WU':>4} {'(idx)':>5} {'ms':>6} {'page':>7}" for _ in sizes))
    for name in names:
        cells = ""
        for n in sizes:
            row = runs[n][name]
            status, calls, read, wu, idx, ms = row[:6]
            page = ""
            if len(row) > 7:
                sources, shown, more = row[7:]
                bound = 2 * sources * 26
                page = f"{shown}{'+' if more else ''}/{bound}"
                read_cell = f"{read:>5}"
            else:
                read_cell = f"{read:>5}"
            cells += f" | {calls:>5} {read_cell} {wu:>4} {idx:>5} {ms:>6.1f} {page:>7}"
        print(f"{name[:44]:44}{cells}")
    print("page: images shown ('+': with next) / 2 x sources x (limit + 1), the read bound; WU: write units "
          "(base + index), idx: index part; read: rows read (index keys + items)")
