"""Glance's URL version negotiation as a path rewrite (chalicelib/api/versions.py)."""
from __future__ import annotations

import pytest

from chalicelib.api import versions
from chalicelib.front.events import EventBuilder


@pytest.mark.parametrize("path,served", [
    ("/v2.1/images", "/v2/images"), ("v2.17/images/x/file", "/v2/images/x/file"), ("/v2.1", "/v2"),
    ("/v2.1/", "/v2/"), ("/v1.1/images/detail", "/v1/images/detail"),
    ("/v2/images", None), ("/v1/images", None), ("/v2.14/images", None), ("/v2.18", None), ("/images", None),
    ("/v2.1x/images", None), ("/", None),
])
def test_served_path(path: str, served: str | None) -> None:
    assert versions.served_path(path) == served


def test_the_served_set_is_v2_and_the_versions_document() -> None:
    listed = {vid for vid, _ in versions.VERSIONS}
    assert {k for k, v in versions.SERVED.items() if v == "v2"} == listed | {"v2"}
    assert not listed & {"v2.14", "v2.16", "v2.18"}  # the cache API's versions: there is no cache API


def test_the_front_matches_the_served_route_so_alias_uploads_stream() -> None:
    from app import app

    events = EventBuilder(list(app.routes), [])
    assert events.route_of("/v2.9/images/abc/file?x=1") == "/v2/images/{image_id}/file"
    assert events.route_of("/v2.14/images/abc/file") == "/{proxy+}"
    assert events.route_of("/v2.0/tenants/p1") == "/{proxy+}"  # nothing of v2's there: the path as it came
    event = events.event("GET", "/v2.1/images/abc?limit=2", {}, None)
    assert (event["requestContext"]["resourcePath"], event["pathParameters"]) == (
        "/v2/images/{image_id}", {"image_id": "abc"})
    assert event["multiValueQueryStringParameters"] == {"limit": ["2"]}
