"""No hot item: without a configured limit the writes of one project's images move counters in different
usage shards; a configured limit moves its counter in the project's own item, conditioned on the limit."""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterator

import pytest

from chalicelib.adapters.dynamo_images import USAGE_SHARDS
from chalicelib.adapters.dynamo_models import ImageRecord
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import QuotaExceeded
from tests.faults import dynamo_client

ALICE = RequestContext("alice", "proj-shards", frozenset({"member", "reader"}))


@pytest.fixture
def usage_writes(aws: Any) -> Iterator[list[dict[str, Any]]]:
    """Every usage item update sent in a TransactWriteItems: its key and whether it carries a condition."""
    seen: list[dict[str, Any]] = []

    def record(params: Any, **_: Any) -> None:
        for item in params["TransactItems"]:
            update = item.get("Update")
            if update and "project_id" in update["Key"]:
                seen.append({"key": update["Key"]["project_id"]["S"], "condition": "ConditionExpression" in update})

    client = dynamo_client(ImageRecord)
    client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", record)
    yield seen
    client.meta.events.unregister("provide-client-params.dynamodb.TransactWriteItems", record)


def test_without_limits_writes_spread_over_shards_and_usage_sums_them(aws: Any, usage_writes: list[Any]) -> None:
    made = [aws.images.create(ALICE, {"name": f"i{n}"}) for n in range(32)]
    for image in made[:10]:
        aws.images.delete(ALICE, image.id)
    keys = Counter(w["key"] for w in usage_writes)
    assert ALICE.project_id not in keys  # the project's own item is on no write's path
    assert len(keys) >= USAGE_SHARDS // 2 and max(keys.values()) <= 12, keys  # spread, not one hot item
    assert not any(w["condition"] for w in usage_writes)
    assert aws.images.usage(ALICE)["image_count_total"] == {"usage": 22, "limit": -1}


@pytest.mark.settings(limit_image_count_total=3)
def test_a_configured_limit_moves_its_counter_in_the_project_item_under_a_condition(
    aws: Any, usage_writes: list[Any],
) -> None:
    for n in range(3):
        aws.images.create(ALICE, {"name": f"i{n}"})
    with pytest.raises(QuotaExceeded):
        aws.images.create(ALICE, {"name": "over"})
    counted = [w for w in usage_writes if w["key"] == ALICE.project_id]
    assert len(counted) >= 3 and all(w["condition"] for w in counted)
    assert aws.images.usage(ALICE)["image_count_total"] == {"usage": 3, "limit": 3}
