"""The upload-url extension's multipart uploads over the fakes: the answers, the rules, completion, abort, delete.

The fake store stands in for S3 (a part "PUT" is ``store.upload_part``); the real S3 upload over
presigned URLs, and the import its completion triggers, run in tests/e2e/test_multipart_upload_e2e.py.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.context import RequestContext
from chalicelib.domain.multipart import MiB, MultipartPending
from tests import images as fx
from tests.api.helpers import ADMIN, ALICE, BOB, READER, body, create, stored_keys

SMALL = {"upload_min_part_size": 4}  # parts as small as the tests like (an emulator's setting)
pytestmark = pytest.mark.settings(**SMALL)
ALICE_CTX = RequestContext(user_id="alice", project_id="proj-a", roles=frozenset({"member", "reader"}))  # = ALICE


def start(api: Any, image_id: str, payload: Any, headers: dict[str, str] = ALICE) -> Any:
    return api.http.post(f"/v2/images/{image_id}/upload-url", headers=headers, body=json.dumps(payload))


def complete(api: Any, image_id: str, payload: Any = None, headers: dict[str, str] = ALICE) -> Any:
    return api.http.post(f"/v2/images/{image_id}/upload-url/complete", headers=headers,
                         body=json.dumps(payload) if payload is not None else b"")


def abort(api: Any, image_id: str, headers: dict[str, str] = ALICE) -> Any:
    return api.http.delete(f"/v2/images/{image_id}/upload-url", headers=headers)


def show(api: Any, image_id: str) -> dict[str, Any]:
    return body(api.http.get(f"/v2/images/{image_id}", headers=ALICE))


@pytest.fixture
def qcow(api: Any) -> dict[str, Any]:
    return create(api, ALICE, name="q", disk_format="qcow2", container_format="bare")


def _upload_parts(container: Any, image_id: str, ticket: dict[str, Any], data: bytes) -> list[dict[str, Any]]:
    store, key, size = container.data.store, f"staging/imports/{image_id}", ticket["part_size"]
    return [{"part_number": p["part_number"],
             "etag": store.upload_part(key, ticket["upload_id"], p["part_number"],
                                       data[(p["part_number"] - 1) * size:p["part_number"] * size])}
            for p in ticket["parts"]]


def test_a_multipart_ticket_plans_the_parts(api: Any, container: Any, qcow: dict[str, Any]) -> None:
    resp = start(api, qcow["id"], {"size": 10, "part_size": 4})
    assert resp.status_code == 200, resp.body
    ticket = body(resp)
    assert (ticket["multipart"], ticket["method"], ticket["size"], ticket["part_size"], ticket["part_count"]) == (
        True, "PUT", 10, 4, 3)
    assert [(p["part_number"], p["size"]) for p in ticket["parts"]] == [(1, 4), (2, 4), (3, 2)]
    assert all(f"uploadId={ticket['upload_id']}" in p["url"] for p in ticket["parts"])
    assert ticket["next_part"] is None and ticket["expires_in"] == 3600
    assert list(container.data.store.uploads) == [ticket["upload_id"]]
    assert not [k for k in show(api, qcow["id"]) if k.startswith("os_glance")]  # the record is never shown
    assert show(api, qcow["id"])["status"] == "queued"


def test_without_a_size_or_within_one_put_it_stays_a_single_put(api: Any, qcow: dict[str, Any]) -> None:
    for payload in ({}, {"size": 5 * 1024 * MiB}):
        ticket = body(start(api, qcow["id"], payload))
        assert ticket["method"] == "PUT" and "multipart" not in ticket and "url" in ticket
    resp = api.http.post(f"/v2/images/{qcow['id']}/upload-url", headers=ALICE, body=b"")
    assert resp.status_code == 200 and "url" in body(resp)


def test_part_urls_come_a_page_at_a_time(api: Any, qcow: dict[str, Any]) -> None:
    ticket = body(start(api, qcow["id"], {"size": 2500 * 4, "part_size": 4}))
    assert len(ticket["parts"]) == 1000 and ticket["next_part"] == 1001
    resp = api.http.get(f"/v2/images/{qcow['id']}/upload-url?part=2001", headers=ALICE)
    page = body(resp)
    assert resp.status_code == 200 and page["upload_id"] == ticket["upload_id"]
    assert [p["part_number"] for p in page["parts"]] == list(range(2001, 2501)) and page["next_part"] is None
    assert api.http.get(f"/v2/images/{qcow['id']}/upload-url?part=0", headers=ALICE).status_code == 400
    beyond = api.http.get(f"/v2/images/{qcow['id']}/upload-url?part=2501", headers=ALICE)
    assert beyond.status_code == 400 and "between 1 and 2500" in body(beyond)["message"]
    assert api.http.get(f"/v2/images/{qcow['id']}/upload-url", headers=BOB).status_code == 404


def test_a_second_upload_or_other_data_while_one_is_in_progress_is_409(api: Any, qcow: dict[str, Any]) -> None:
    assert start(api, qcow["id"], {"size": 10, "multipart": True}).status_code == 200
    second = start(api, qcow["id"], {"size": 10, "multipart": True})
    assert second.status_code == 409 and "multipart upload in progress" in body(second)["message"]
    assert body(second)["code"] == "409 Conflict"
    assert start(api, qcow["id"], {}).status_code == 409  # nor a single PUT URL
    octets = {**ALICE, "Content-Type": "application/octet-stream"}
    assert api.http.put(f"/v2/images/{qcow['id']}/file", headers=octets, body=fx.qcow2()).status_code == 409
    assert api.http.put(f"/v2/images/{qcow['id']}/stage", headers=octets, body=fx.qcow2()).status_code == 409
    imported = api.http.post(f"/v2/images/{qcow['id']}/import", headers=ALICE,
                             body=json.dumps({"method": {"name": "web-download", "uri": "http://example.com/x"}}))
    assert imported.status_code == 409
    assert show(api, qcow["id"])["status"] == "queued"


def test_who_may_start_and_in_which_status(api: Any, container: Any, qcow: dict[str, Any]) -> None:
    multipart = {"size": 10, "multipart": True}
    assert start(api, qcow["id"], multipart, BOB).status_code == 404
    assert start(api, qcow["id"], multipart, READER).status_code == 403
    bare = create(api, ALICE, name="bare")
    assert start(api, bare["id"], multipart).status_code == 409  # formats unset
    active = create(api, ALICE, name="a", disk_format="qcow2", container_format="bare")
    octets = {**ALICE, "Content-Type": "application/octet-stream"}
    api.http.put(f"/v2/images/{active['id']}/file", headers=octets, body=fx.qcow2())
    assert start(api, active["id"], multipart).status_code == 409
    assert container.data.store.uploads == {}  # nothing refused left an upload behind
    assert start(api, qcow["id"], multipart, ADMIN).status_code == 200


@pytest.mark.settings(image_size_cap=100, **SMALL)
def test_bad_plans_are_400_and_beyond_the_size_cap_413(api: Any, container: Any, qcow: dict[str, Any]) -> None:
    too_big = start(api, qcow["id"], {"size": 101, "multipart": True})
    assert too_big.status_code == 413 and "limit is 100" in body(too_big)["message"]
    assert start(api, qcow["id"], {"size": 101}).status_code == 413  # a single PUT's declared size too
    for payload in ({"size": 10, "part_size": 3}, {"size": 10, "multipart": False, "part_size": 4},
                    {"multipart": True}, {"size": "ten"}, {"size": 10, "parts": 2}, [1]):
        assert start(api, qcow["id"], payload).status_code == 400, payload
    assert container.data.store.uploads == {}


def test_completion_checks_the_parts_then_completes(api: Any, container: Any, qcow: dict[str, Any]) -> None:
    data = b"0123456789"
    ticket = body(start(api, qcow["id"], {"size": 10, "part_size": 4}))
    parts = _upload_parts(container, qcow["id"], {**ticket, "parts": ticket["parts"][:2]}, data)

    missing = complete(api, qcow["id"])
    assert missing.status_code == 400 and "Part 3 of 3 has not been uploaded" in body(missing)["message"]
    parts += _upload_parts(container, qcow["id"], {**ticket, "parts": ticket["parts"][2:]}, data)
    wrong = [*parts[:2], {"part_number": 3, "etag": '"00"'}]
    assert complete(api, qcow["id"], {"parts": wrong}).status_code == 400
    assert complete(api, qcow["id"], {"upload_id": "another", "parts": parts}).status_code == 409
    assert complete(api, qcow["id"], {"parts": parts}, BOB).status_code == 404
    assert complete(api, qcow["id"], {"parts": parts}, READER).status_code == 403

    done = complete(api, qcow["id"], {"upload_id": ticket["upload_id"], "parts": parts})
    assert done.status_code == 202, done.body
    assert container.data.store.objects[f"staging/imports/{qcow['id']}"] == data
    assert container.data.store.uploads == {}
    again = complete(api, qcow["id"])
    assert again.status_code == 404 and "No multipart upload is in progress" in body(again)["message"]


def test_completion_from_the_listed_parts_of_a_size_mismatch_is_400(api: Any, container: Any,
                                                                       qcow: dict[str, Any]) -> None:
    ticket = body(start(api, qcow["id"], {"size": 8, "part_size": 4}))
    store, key = container.data.store, f"staging/imports/{qcow['id']}"
    store.upload_part(key, ticket["upload_id"], 1, b"abcd")
    store.upload_part(key, ticket["upload_id"], 2, b"ef")  # short: the image would be cut
    short = complete(api, qcow["id"])
    assert short.status_code == 400 and "Part 2 holds 2 bytes; 4 were planned" in body(short)["message"]
    store.upload_part(key, ticket["upload_id"], 2, b"efgh")  # a part PUT again replaces it, as in S3
    assert complete(api, qcow["id"]).status_code == 202
    assert store.objects[key] == b"abcdefgh"


def test_an_abort_drops_the_parts_and_the_image_stays_queued(api: Any, container: Any, qcow: dict[str, Any]) -> None:
    ticket = body(start(api, qcow["id"], {"size": 10, "part_size": 4}))
    _upload_parts(container, qcow["id"], {**ticket, "parts": ticket["parts"][:1]}, b"0123456789")
    assert abort(api, qcow["id"], BOB).status_code == 404
    assert abort(api, qcow["id"], READER).status_code == 403

    assert abort(api, qcow["id"]).status_code == 204
    assert container.data.store.uploads == {} and stored_keys(container) == []
    assert show(api, qcow["id"])["status"] == "queued"
    assert abort(api, qcow["id"]).status_code == 404
    assert complete(api, qcow["id"]).status_code == 404
    assert start(api, qcow["id"], {"size": 10, "part_size": 4}).status_code == 200  # a new one may start


def test_deleting_the_image_aborts_its_upload(api: Any, container: Any, qcow: dict[str, Any]) -> None:
    ticket = body(start(api, qcow["id"], {"size": 10, "part_size": 4}))
    _upload_parts(container, qcow["id"], ticket, b"0123456789")
    assert api.http.delete(f"/v2/images/{qcow['id']}", headers=ALICE).status_code == 204
    assert container.data.store.uploads == {} and stored_keys(container) == []


def test_of_two_racing_starts_one_wins_and_the_loser_aborts_its_upload(container: Any, qcow: dict[str, Any],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a rival request that starts its upload while ours is between CreateMultipartUpload and its write
    store, uploads = container.data.store, container.uploads
    original, rivals = store.start_multipart, []

    def racing(key: str) -> str:
        ours = original(key)
        if not rivals:
            rivals.append("pending")
            rivals[0] = uploads.upload_url(ALICE_CTX, qcow["id"], {"size": 10, "multipart": True}).upload_id
        return str(ours)

    monkeypatch.setattr(store, "start_multipart", racing)
    # When ours tries to record its upload, Then it is refused and its own upload is gone: only the rival's is left
    with pytest.raises(MultipartPending):
        uploads.upload_url(ALICE_CTX, qcow["id"], {"size": 10, "multipart": True})
    assert list(store.uploads) == rivals
