"""The app behind the data plane's load balancer: an ALB event in, the same views, an ALB answer out.

The event is the shape a Lambda target group with multi-value headers delivers (recorded from
the ALB documentation's example, with this API's path, query and token).
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from chalicelib.adapters.token_validators import Identity, InvalidToken
from chalicelib.api import alb, authorizer
from tests.api.helpers import ALICE, reconfigure

EVENT = json.loads((Path(__file__).parent / "fixtures" / "alb_event.json").read_text())


class Tokens:
    """A validator knowing one token (Alice's), refusing any other as the real ones do."""

    def validate(self, token: str) -> tuple[Identity, float]:
        if token != "token-of-alice":
            raise InvalidToken("unknown token")
        return Identity("alice", "proj-a", ("member", "reader")), 60.0


def alb_event(method: str = "GET", path: str = "/v2/images", headers: dict[str, str] | None = None,
              query: dict[str, list[str]] | None = None, body: bytes | None = None) -> dict[str, Any]:
    event = json.loads(json.dumps(EVENT))
    event.update(httpMethod=method, path=path, multiValueQueryStringParameters=query or {})
    event["multiValueHeaders"].update({k.lower(): [v] for k, v in (headers or {}).items()})
    if body is not None:
        event.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)
    return event


@pytest.fixture
def cloud(container: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setitem(authorizer._state, "validator", Tokens())  # noqa: SLF001 - the authorizer's own cache
    yield reconfigure(container, auth_mode="cloud")


def test_the_recorded_event_becomes_the_gateway_event_chalice_reads() -> None:
    # Given the recorded ALB event (query still percent-encoded, headers as lists)
    headers, query = alb._headers(EVENT), alb._query(EVENT)  # noqa: SLF001 - the two conversions under test
    # When it is converted for the route it reaches
    event = alb.to_gateway_event(EVENT, headers, query, "/v2/images", {}, {"user_id": "alice", "project_id": "p",
                                                                         "roles": "member"})
    # Then the query is decoded with every repeat kept, headers are single values, the claims are the authorizer's
    assert event["multiValueQueryStringParameters"] == {"visibility": ["all"], "tag": ["a b", "c d"], "sort": ["name:asc"]}
    assert event["headers"]["x-forwarded-for"] == "72.21.198.66, 10.0.0.1"
    assert event["requestContext"]["resourcePath"] == "/v2/images"
    assert event["requestContext"]["httpMethod"] == "GET"
    assert event["requestContext"]["identity"]["sourceIp"] == "72.21.198.66"
    assert event["requestContext"]["authorizer"]["user_id"] == "alice"


def test_a_listing_through_the_load_balancer_is_the_apis_answer(api: Any, cloud: Any) -> None:
    # Given an image of Alice's project, made through the ALB with her token
    from app import app

    made = app(alb_event("POST", "/v2/images", {"content-type": "application/json"},
                         body=json.dumps({"name": "via-alb", "disk_format": "raw", "container_format": "bare"}).encode()),
               None)
    assert made["statusCode"] == 201 and made["statusDescription"] == "201 Created"
    image = json.loads(made["body"])
    # When the recorded event lists images (a filter repeated, percent-encoded)
    listed = app(alb_event(query={"name": ["via-alb"]}), None)
    # Then it is the API's 200 in the ALB's shape, every header a list, the request id among them
    assert listed["statusCode"] == 200 and listed["statusDescription"] == "200 OK"
    assert listed["isBase64Encoded"] is False
    assert [i["id"] for i in json.loads(listed["body"])["images"]] == [image["id"]]
    assert all(isinstance(v, list) for v in listed["multiValueHeaders"].values())
    assert listed["multiValueHeaders"]["x-openstack-request-id"][0].startswith("req-")
    # And a path parameter reaches the view
    shown = app(alb_event(path=f"/v2/images/{image['id']}"), None)
    assert json.loads(shown["body"])["name"] == "via-alb"


@pytest.mark.parametrize("token", [None, "", "token-of-mallory"])
def test_a_missing_or_bad_token_is_a_glance_401(api: Any, cloud: Any, token: str | None) -> None:
    from app import app

    event = alb_event(path="/v2/images")
    event["multiValueHeaders"].pop("x-auth-token")
    if token is not None:
        event["multiValueHeaders"]["x-auth-token"] = [token]
    answer = app(event, None)
    assert answer["statusCode"] == 401 and answer["statusDescription"] == "401 Unauthorized"
    assert json.loads(answer["body"]) == {
        "message": "This server could not verify that you are authorized to access the document you requested.",
        "code": "401 Unauthorized", "title": "Unauthorized"}
    assert answer["multiValueHeaders"]["x-openstack-request-id"][0].startswith("req-")


def test_without_cloud_mode_no_token_is_checked(api: Any) -> None:
    # Dev mode (as the API Gateway stack without an authorizer): identity from the headers, as locally
    from app import app

    answer = app(alb_event(headers={"x-auth-token": ALICE["X-Auth-Token"]}), None)
    assert answer["statusCode"] == 200


def test_binary_answers_go_back_base64_encoded(api: Any, cloud: Any) -> None:
    # Given an active image with data (uploaded through the app, as the data plane would)
    from app import app

    reconfigure(cloud, download_mode="proxy")
    made = app(alb_event("POST", "/v2/images", {"content-type": "application/json"},
                         body=json.dumps({"name": "bytes", "disk_format": "raw", "container_format": "bare"}).encode()),
               None)
    image = json.loads(made["body"])
    data = b"\x00\x01binary\xff" * 100
    put = app(alb_event("PUT", f"/v2/images/{image['id']}/file", {"content-type": "application/octet-stream"},
                        body=data), None)
    assert put["statusCode"] == 204, put["body"]
    # When it is downloaded through the load balancer with Accept: application/json
    got = app(alb_event(path=f"/v2/images/{image['id']}/file"), None)
    # Then the body is the data, base64-encoded for the ALB to decode
    assert got["statusCode"] == 200 and got["isBase64Encoded"] is True
    assert base64.b64decode(got["body"]) == data


def test_a_chalice_body_left_as_bytes_is_sent_encoded() -> None:
    answer = alb.to_alb_response({"statusCode": 206, "headers": {"a": "1"}, "multiValueHeaders": {"b": ["2", "3"]},
                                  "body": b"\xff"})
    assert answer == {"statusCode": 206, "statusDescription": "206 Partial Content", "isBase64Encoded": True,
                      "multiValueHeaders": {"a": ["1"], "b": ["2", "3"]}, "body": "/w=="}
