"""v1 metadata headers (reference 11): allowed names, typed values, percent-decoding, and the way back."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from chalicelib.api import v1_headers as hdr
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.images import Image, ImageStatus, Location

NOW = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)


def test_every_allowed_name_parses_and_dashes_read_as_underscores() -> None:
    meta = hdr.parse_meta({
        "x-image-meta-name": "n", "x-image-meta-disk-format": "qcow2", "x-image-meta-container_format": "bare",
        "x-image-meta-min-ram": "512", "x-image-meta-min_disk": "0", "x-image-meta-size": "10",
        "x-image-meta-is_public": "True", "x-image-meta-protected": "no", "x-image-meta-store": "s3",
        "x-image-meta-property-os-distro": "ubuntu", "x-image-meta-property-hw_disk_bus": "virtio",
        "content-type": "application/octet-stream", "x-auth-token": "a:b:c",
    })
    assert meta.fields == {"name": "n", "disk_format": "qcow2", "container_format": "bare", "min_ram": 512,
                           "min_disk": 0, "size": 10, "is_public": True, "protected": False, "store": "s3"}
    assert meta.properties == {"os_distro": "ubuntu", "hw_disk_bus": "virtio"}


@pytest.mark.parametrize("name", ["x-image-meta-foo", "x-image-meta-visibility", "x-image-meta-os_hash_value", "X-Image-Meta-Tags"])
def test_any_other_x_image_meta_header_is_bad(name: str) -> None:
    with pytest.raises(InvalidInput, match=f"^Bad header: {name}$"):
        hdr.parse_meta({name: "x"})


def test_an_empty_property_name_is_bad() -> None:
    with pytest.raises(InvalidInput, match="Bad header"):
        hdr.parse_meta({"x-image-meta-property-": "x"})


@pytest.mark.parametrize("key", ["size", "min_ram", "min_disk", "virtual_size"])
@pytest.mark.parametrize("value,message", [("-1", "must be a non-negative integer, not -1"),
                                           ("ten", "Cannot convert image .* 'ten' to an integer"),
                                           ("1.5", "to an integer")])
def test_integers_must_be_non_negative(key: str, value: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        hdr.parse_meta({f"x-image-meta-{key}": value})


@pytest.mark.parametrize("key", ["is_public", "protected", "deleted"])
def test_booleans_take_boolean_words_only(key: str) -> None:
    for word, value in [("true", True), ("FALSE", False), ("1", True), ("0", False), ("yes", True), ("off", False)]:
        assert hdr.parse_meta({f"x-image-meta-{key}": word}).fields[key] is value
    with pytest.raises(InvalidInput, match=f"Invalid value for {key}: 'maybe'; expected a boolean"):
        hdr.parse_meta({f"x-image-meta-{key}": "maybe"})


def test_none_means_not_given_for_booleans_and_virtual_size() -> None:
    # python-glanceclient v1 sends x-image-meta-is_public: None when --is-public is not given.
    assert hdr.parse_meta({"x-image-meta-is_public": "None", "x-image-meta-virtual_size": "None"}).fields == {}
    with pytest.raises(InvalidInput):
        hdr.parse_meta({"x-image-meta-size": "None"})


def test_a_declared_size_over_the_cap_is_400() -> None:
    assert hdr.parse_meta({"x-image-meta-size": "100"}, size_cap=100).size == 100
    with pytest.raises(InvalidInput, match="larger than 100 bytes"):
        hdr.parse_meta({"x-image-meta-size": "101"}, size_cap=100)


def test_glanceclient_percent_encoding_is_decoded() -> None:
    meta = hdr.parse_meta({"x-image-meta-name": "my%20image%20%C3%A9", "x-image-meta-location": "http://h:80/a%3Fb%3D1",
                           "x-image-meta-property-note": "50%25"})
    assert meta.fields["name"] == "my image é"
    assert meta.location == "http://h:80/a?b=1"
    assert meta.properties == {"note": "50%"}


def test_copy_from_header_is_read_so_the_service_can_refuse_it() -> None:
    assert hdr.parse_meta({"x-glance-api-copy-from": "http://x/y"}).fields == {"copy_from": "http://x/y"}


def test_purge_props_defaults_to_true_and_needs_a_boolean() -> None:
    assert hdr.purge_props({}) is True
    assert hdr.purge_props({"x-glance-registry-purge-props": "false"}) is False
    with pytest.raises(InvalidInput, match="x-glance-registry-purge-props"):
        hdr.purge_props({"x-glance-registry-purge-props": "sometimes"})


def image(**kw: object) -> Image:
    base = Image(id="i1", owner="p", created_at=NOW, updated_at=NOW, name="n", disk_format="raw", container_format="bare")
    return replace(base, **kw)  # type: ignore[arg-type]  # test data


def test_image_headers_carry_metadata_and_properties_but_never_a_location() -> None:
    shown = image(status=ImageStatus.ACTIVE, size=3, checksum="abc", visibility="public",
                  extra_properties={"os_distro": "ubuntu", "os_glance_stage_host": "internal"},
                  locations=(Location("s3://bucket/images/i1"),))
    headers = hdr.image_headers(shown)
    assert headers["x-image-meta-id"] == "i1"
    assert headers["x-image-meta-status"] == "active"
    assert headers["x-image-meta-size"] == "3"
    assert headers["x-image-meta-checksum"] == "abc"
    assert headers["x-image-meta-is_public"] == "True"
    assert headers["x-image-meta-protected"] == "False"
    assert headers["x-image-meta-created_at"] == "2024-01-02T03:04:05.678901"
    assert headers["x-image-meta-property-os_distro"] == "ubuntu"
    assert "x-image-meta-property-os_glance_stage_host" not in headers
    assert not any("location" in k or "s3://" in v for k, v in headers.items())
    assert "x-image-meta-deleted_at" not in headers  # None values are left out


def test_image_header_values_are_ascii() -> None:
    headers = hdr.image_headers(image(name="café 100%"))
    assert headers["x-image-meta-name"] == "caf%C3%A9 100%25"
    assert all(v.isascii() for v in headers.values())


def test_visibility_reads_as_is_public() -> None:
    for visibility, public in [("public", True), ("shared", False), ("private", False), ("community", False)]:
        assert hdr.image_meta(image(visibility=visibility))["is_public"] is public
