"""Rules of presigned multipart uploads: the request body, the part plan within S3's limits, the record, the parts."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from chalicelib.domain import multipart as mp
from chalicelib.domain.errors import Conflict, InvalidInput, NotFound
from chalicelib.domain.images import Image
from chalicelib.domain.multipart import GiB, MiB, PartPlan, PendingUpload, UploadedPart

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _image(**props: str) -> Image:
    return Image(id="i1", owner="p", created_at=NOW, updated_at=NOW, extra_properties=props)


@pytest.mark.parametrize("body, expected", [
    (None, mp.UploadRequest(False)),
    ({}, mp.UploadRequest(False)),
    ({"size": 5 * GiB}, mp.UploadRequest(False, 5 * GiB)),
    ({"size": 5 * GiB + 1}, mp.UploadRequest(True, 5 * GiB + 1)),
    ({"size": 10, "multipart": True}, mp.UploadRequest(True, 10)),
    ({"size": 10, "part_size": 6 * MiB}, mp.UploadRequest(True, 10, 6 * MiB)),
])
def test_multipart_when_asked_or_beyond_one_put(body: object, expected: mp.UploadRequest) -> None:
    assert mp.parse_upload_request(body) == expected


@pytest.mark.parametrize("body, words", [
    ([], "JSON object"),
    ({"sise": 1}, "Unknown upload-url field(s): sise"),
    ({"size": -1}, "'size' must be a positive integer"),
    ({"size": "10"}, "'size' must be a positive integer"),
    ({"size": True}, "'size' must be a positive integer"),
    ({"size": 10, "part_size": 0}, "'part_size' must be a positive integer"),
    ({"size": 10, "multipart": "yes"}, "'multipart' must be a boolean"),
    ({"multipart": True}, "needs the image's 'size'"),
    ({"part_size": 6 * MiB}, "needs the image's 'size'"),
    ({"size": 6 * GiB, "multipart": False}, "at most 5368709120 bytes"),
])
def test_malformed_requests_are_400(body: object, words: str) -> None:
    with pytest.raises(InvalidInput, match=words.replace("(", r"\(").replace(")", r"\)")):
        mp.parse_upload_request(body)


def test_the_default_plan_uses_64_mib_parts_and_grows_them_to_stay_within_10000_parts() -> None:
    assert mp.plan_parts(100 * MiB, None, mp.S3_MIN_PART) == PartPlan(100 * MiB, 64 * MiB)
    big = mp.plan_parts(1024 * GiB, None, mp.S3_MIN_PART)  # 1 TiB: 64 MiB parts would be 16,384
    assert big.part_size % MiB == 0 and big.part_count <= mp.MAX_PARTS
    assert mp.plan_parts(1024 * GiB, None, mp.S3_MIN_PART).part_size == 105 * MiB


def test_part_sizes_outside_s3s_limits_or_too_many_parts_are_400() -> None:
    with pytest.raises(InvalidInput, match="between 5242880 and 5368709120"):
        mp.plan_parts(100 * MiB, MiB, mp.S3_MIN_PART)
    with pytest.raises(InvalidInput, match="between"):
        mp.plan_parts(100 * GiB, 5 * GiB + 1, mp.S3_MIN_PART)
    with pytest.raises(InvalidInput, match="10241 parts; at most 10000"):
        mp.plan_parts(10241 * 5 * MiB, 5 * MiB, mp.S3_MIN_PART)
    assert mp.plan_parts(10000 * 5 * MiB, 5 * MiB, mp.S3_MIN_PART).part_count == 10000


def test_a_lower_minimum_allows_small_parts_for_an_emulator() -> None:
    plan = mp.plan_parts(10, 4, 1)
    assert (plan.part_count, [plan.part_length(n) for n in (1, 2, 3)]) == (3, [4, 4, 2])


def test_the_record_round_trips_and_refuses_a_second_upload() -> None:
    upload = PendingUpload("u1", PartPlan(10, 4))
    recorded = mp.record(_image(), upload)
    assert mp.pending(recorded) == upload and mp.record(recorded, upload) == recorded  # a landed retry
    with pytest.raises(mp.MultipartPending):
        mp.record(recorded, PendingUpload("u2", PartPlan(10, 4)))
    with pytest.raises(mp.MultipartPending):
        mp.require_none_pending(recorded)
    with pytest.raises(Conflict, match="u2 is not the multipart upload"):
        mp.require_pending(recorded, "u2")
    assert mp.require_pending(recorded, "u1") == upload
    assert mp.forget(recorded, "u2") == recorded  # another upload's forget leaves it
    assert mp.pending(mp.forget(recorded, "u1")) is None and mp.forget(_image(), "u1") == _image()
    with pytest.raises(NotFound):
        mp.require_pending(_image())


def _parts(*sizes: int) -> list[UploadedPart]:
    return [UploadedPart(n, f'"e{n}"', size) for n, size in enumerate(sizes, start=1)]


def test_every_planned_part_must_be_there_with_its_planned_length() -> None:
    plan = PartPlan(10, 4)
    assert mp.check_parts(plan, _parts(4, 4, 2), None) == [(1, '"e1"'), (2, '"e2"'), (3, '"e3"')]
    assert mp.check_parts(plan, _parts(4, 4, 2), {1: "e1", 2: "e2", 3: "e3"}) == [(1, '"e1"'), (2, '"e2"'), (3, '"e3"')]
    for listed, words in ((_parts(4, 4), "Part 3 of 3 has not been uploaded"),
                          (_parts(4, 3, 2), "Part 2 holds 3 bytes; 4 were planned"),
                          (_parts(4, 4, 2, 1), "Part 4 is beyond the 3 parts planned"),
                          ([UploadedPart(1, '"e1"', 4), UploadedPart(3, '"e3"', 2)], "Part 2 of 3")):
        with pytest.raises(InvalidInput, match=words):
            mp.check_parts(plan, listed, None)
    with pytest.raises(InvalidInput, match="Part 2's ETag does not match"):
        mp.check_parts(plan, _parts(4, 4, 2), {1: "e1", 2: "zz", 3: "e3"})
    with pytest.raises(InvalidInput, match="must list parts 1 to 3"):
        mp.check_parts(plan, _parts(4, 4, 2), {1: "e1", 2: "e2"})


def test_the_completion_body() -> None:
    assert mp.parse_completion(None) == (None, None)
    assert mp.parse_completion({"upload_id": "u", "parts": [{"part_number": 1, "etag": '"abc"'}]}) == ("u", {1: "abc"})
    for bad in ([], {"upload_id": 1}, {"parts": []}, {"parts": [{"part_number": "1", "etag": "a"}]},
                {"parts": [{"part_number": 1, "etag": "a"}, {"part_number": 1, "etag": "b"}]}, {"parts": ["x"]}):
        with pytest.raises(InvalidInput):
            mp.parse_completion(bad)
