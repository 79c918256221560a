"""Byte ranges (reference 5.1) and the format judgement of reference 8."""
from __future__ import annotations

import pytest

from chalicelib.domain.data import ByteRange, judge_format, parse_content_range, parse_range
from chalicelib.domain.errors import ImageFormatMismatch, InvalidInput, RangeNotSatisfiable


@pytest.mark.parametrize(
    "header,expected",
    [
        ("bytes=0-9", (0, 9)),
        ("bytes=10-", (10, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-100", (0, 99)),
        ("bytes=-1000", (0, 99)),
        ("bytes=50-5000", (50, 99)),
        ("bytes=99-99", (99, 99)),
    ],
)
def test_satisfiable_ranges(header: str, expected: tuple[int, int]) -> None:
    rng = parse_range(header, 100)
    assert (rng.start, rng.end) == expected
    assert rng.content_range == f"bytes {expected[0]}-{expected[1]}/100"


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=200-300", "bytes=5-2", "bytes=-0", "bytes=-", "bytes=a-b", "items=0-1", "0-1", ""])
def test_unsatisfiable_or_unparseable_ranges_are_416(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 100)


def test_several_ranges_are_400() -> None:
    with pytest.raises(InvalidInput):
        parse_range("bytes=0-1,5-6", 100)


@pytest.mark.parametrize("header,expected", [("bytes 0-9/100", (0, 9)), ("bytes 10-99/*", (10, 99)), ("bytes 90-150/200", (90, 99))])
def test_content_range_request_form(header: str, expected: tuple[int, int]) -> None:
    rng = parse_content_range(header, 100)
    assert (rng.start, rng.end) == expected


@pytest.mark.parametrize("header", ["bytes 100-120/200", "bytes 10-150/*", "bytes 5-2/100", "0-9/100", "bytes=0-9"])
def test_bad_content_range_is_416(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_content_range(header, 100)


def test_byte_range_length() -> None:
    assert ByteRange(10, 19, 100).length == 10


@pytest.mark.parametrize(
    "disk,detected,expected",
    [
        ("qcow2", "qcow2", 1 << 30),
        ("raw", "raw", 500),
        ("raw", "qcow2", 500),
        ("raw", "gpt", 500),
        ("ami", "raw", None),
        ("ploop", "raw", None),
        ("iso", "iso", 1 << 30),
    ],
)
def test_accepted_formats(disk: str, detected: str, expected: int | None) -> None:
    assert judge_format(disk, detected, 1 << 30, 500) == expected


@pytest.mark.parametrize("disk,detected", [("qcow2", "raw"), ("vmdk", "qcow2"), ("vhd", "raw"), ("qcow2", "vmdk")])
def test_mismatches(disk: str, detected: str) -> None:
    with pytest.raises(ImageFormatMismatch):
        judge_format(disk, detected, 1, 1)
