"""A listing page never answers more bytes than the front can carry: it ends early with a `next` link that
Glance clients follow, and following it lists every image once."""
from __future__ import annotations

from typing import Any

from tests.api.helpers import ALICE, body, create, reconfigure


def test_a_page_over_the_byte_budget_ends_early_and_next_lists_the_rest(api: Any) -> None:
    made = {create(api, ALICE, name=f"big-{n:02d}", note="x" * 3000)["id"] for n in range(12)}
    reconfigure(api, page_max_bytes=16_384 + 10_000)  # room for about three 3 KB images
    pages, seen, url = 0, [], "/v2/images?limit=1000"
    while url:
        resp = api.http.get(url, headers=ALICE)
        assert resp.status_code == 200
        assert len(resp.body) <= 16_384 + 10_000
        doc = body(resp)
        pages += 1
        seen += [im["id"] for im in doc["images"]]
        url = doc.get("next")
        assert 1 <= len(doc["images"]) <= 3 or not url
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))  # each image once
    assert pages >= 4


def test_an_image_larger_than_the_budget_is_still_listed_alone(api: Any) -> None:
    big = create(api, ALICE, name="huge", note="y" * 20_000)["id"]
    reconfigure(api, page_max_bytes=17_000)
    doc = body(api.http.get("/v2/images", headers=ALICE))
    assert [im["id"] for im in doc["images"]] == [big] and "next" not in doc


def test_within_the_budget_the_page_is_glances(api: Any) -> None:
    for n in range(5):
        create(api, ALICE, name=f"small-{n}")
    doc = body(api.http.get("/v2/images?limit=3", headers=ALICE))
    assert len(doc["images"]) == 3 and "marker=" in doc["next"]
    doc = body(api.http.get("/v2/images", headers=ALICE))
    assert len(doc["images"]) == 5 and "next" not in doc
