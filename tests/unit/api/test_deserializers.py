"""Request -> command parsing (chalicelib/api/deserializers.py): good inputs, and the exact error for bad ones."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.api import deserializers as d
from chalicelib.api.errors import to_response
from chalicelib.domain import listing
from chalicelib.domain.errors import InvalidInput, ReadonlyProperty, ReservedProperty, UnsupportedMediaType
from chalicelib.domain.patch import PatchOp


@pytest.fixture(autouse=True)
def _settings(fake: wiring.Container) -> None:
    """The JSON schemas read the configured formats from the container's settings."""


def raises(error: type[Exception], message: str, call: Any, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(error) as caught:
        call(*args, **kwargs)
    assert type(caught.value) is error
    assert caught.value.message == message  # type: ignore[attr-defined]  # every DomainError has .message


def ops(*items: dict[str, Any]) -> bytes:
    return json.dumps(list(items)).encode()


# -- json_body / reject_body ---------------------------------------------------------------------
@pytest.mark.parametrize("raw,expected", [(b'{"a": 1}', {"a": 1}), (b"[1, 2]", [1, 2]), (b'{"n": "\\u00e9"}', {"n": "é"})])
def test_json_body_parses_an_object_or_array(raw: bytes, expected: Any) -> None:
    assert d.json_body(raw) == expected


@pytest.mark.parametrize("raw", [None, b""])
def test_json_body_absent_is_400_when_required_and_none_otherwise(raw: bytes | None) -> None:
    raises(InvalidInput, "Body expected in request.", d.json_body, raw)
    assert d.json_body(raw, required=False) is None


@pytest.mark.parametrize("raw", [b"{", b"nope", b'{"name": "\\ud800"}', b"[" * 100000, b"\xff"])
def test_json_body_malformed_or_unstorable_is_400(raw: bytes) -> None:
    raises(InvalidInput, "Malformed JSON in request body.", d.json_body, raw)


@pytest.mark.parametrize("raw", [b"1", b'"s"', b"null", b"true"])
def test_json_body_scalar_is_400(raw: bytes) -> None:
    raises(InvalidInput, "Expected an object or array in request body.", d.json_body, raw)


def test_reject_body_accepts_none_or_empty_and_refuses_any_body() -> None:
    assert d.reject_body(None) is None and d.reject_body(b"") is None
    raises(InvalidInput, "A body is not expected with this request.", d.reject_body, b"{}")


# -- create_image --------------------------------------------------------------------------------
def test_create_image_returns_the_body_with_extra_properties() -> None:
    assert d.create_image(b'{"name": "n", "disk_format": "raw", "k": "v"}') == {"name": "n", "disk_format": "raw", "k": "v"}


def test_create_image_refuses_arrays_and_missing_bodies() -> None:
    raises(InvalidInput, "Expected an object in request body.", d.create_image, b"[]")
    raises(InvalidInput, "Body expected in request.", d.create_image, None)


@pytest.mark.parametrize("key", sorted(d.rules.CREATE_FORBIDDEN))
def test_create_image_forbidden_key_is_403_before_schema_400(key: str) -> None:
    raises(ReadonlyProperty, f"Attribute '{key}' is read-only.", d.create_image, json.dumps({key: 5, "name": 5}).encode())


def test_create_image_checks_extra_keys_then_the_schema() -> None:
    raises(InvalidInput, "Invalid input: Property key '' must be 1 to 255 characters", d.create_image, b'{"": "v"}')
    raises(InvalidInput, "Invalid input: Property key '" + "k" * 40 + "' must be 1 to 255 characters",
           d.create_image, json.dumps({"k" * 256: "v"}).encode())
    raises(InvalidInput, "Provided object does not match schema 'image': 5 is not of type 'null', 'string' (at 'name')",
           d.create_image, b'{"name": 5}')


# -- update_image (JSON patch) -------------------------------------------------------------------
def test_update_image_v21_parses_ops_with_decoded_pointers() -> None:
    raw = ops({"op": "replace", "path": "/name", "value": "n"}, {"op": "add", "path": "/a~1b~0c", "value": "v"},
              {"op": "remove", "path": "/k"}, {"op": "add", "path": "/locations/-", "value": {"url": "http://x/a", "metadata": {}}},
              {"op": "remove", "path": "/locations/0"})
    assert d.update_image(f"{d.PATCH_V21}; charset=UTF-8", raw) == [
        PatchOp("replace", ("name",), "n", False), PatchOp("add", ("a/b~c",), "v", False), PatchOp("remove", ("k",), None, False),
        PatchOp("add", ("locations", "-"), {"url": "http://x/a", "metadata": {}}, False), PatchOp("remove", ("locations", "0"), None, False),
    ]


def test_update_image_v20_takes_draft4_ops() -> None:
    raw = ops({"replace": "/name", "value": "n"}, {"remove": "/k"})
    assert d.update_image(d.PATCH_V20.upper(), raw) == [PatchOp("replace", ("name",), "n", True), PatchOp("remove", ("k",), None, True)]


@pytest.mark.parametrize("ctype", [None, "", "application/json", "application/json-patch+json"])
def test_update_image_other_media_types_are_415_with_accept_patch(ctype: str | None) -> None:
    raises(d.UnsupportedPatchType, f"Unsupported Content-Type: {ctype or ''}", d.update_image, ctype, b"[]")
    assert issubclass(d.UnsupportedPatchType, UnsupportedMediaType)
    with pytest.raises(d.UnsupportedPatchType) as refused:
        d.update_image(ctype, b"[]")
    # The error map turns the refusal into a 415 naming the two accepted media types.
    answer = to_response(refused.value)
    assert answer.status_code == 415 and answer.headers["Accept-Patch"] == f"{d.PATCH_V20}, {d.PATCH_V21}"


@pytest.mark.parametrize("raw,message", [
    (b'{"op": "add"}', "Request body must be a JSON array of operation objects."),
    (b"[1]", "Operations must be JSON objects."),
    (ops({"op": "move", "path": "/name"}), "Invalid operation: `move`. It must be one of the following: add, remove, replace."),
    (ops({"path": "/name"}), "Invalid operation: `None`. It must be one of the following: add, remove, replace."),
    (ops({"op": "add", "path": "name", "value": 1}), "Invalid JSON pointer for this resource: 'name'"),
    (ops({"op": "add", "path": 5, "value": 1}), "Invalid JSON pointer for this resource: '5'"),
    (ops({"op": "add", "path": "/a//b", "value": 1}), "Invalid JSON pointer for this resource: '/a//b'"),
    (ops({"op": "add", "path": "/a~2", "value": 1}), "Invalid JSON pointer for this resource: '/a~2'"),
    (ops({"op": "add", "path": "/name/x", "value": 1}), "Invalid JSON pointer for this resource: '/name/x'"),
    (ops({"op": "replace", "path": "/locations/0", "value": []}), "Invalid JSON pointer for this resource: '/locations/0'"),
    (ops({"op": "add", "path": "/locations", "value": []}), "Invalid JSON pointer for this resource: '/locations'"),
    (ops({"op": "add", "path": "/name"}), 'Operation "add" requires a member named "value".'),
    (ops({"op": "replace", "path": "/min_ram", "value": "x"}),
     "Provided object does not match schema 'image': 'x' is not of type 'integer' (at 'min_ram')"),
    (ops({"op": "add", "path": "/locations/-", "value": "x"}),
     "Provided object does not match schema 'image': 'x' is not of type 'object' (at 'locations/0')"),
])
def test_update_image_bad_documents_are_400(raw: bytes, message: str) -> None:
    raises(InvalidInput, message, d.update_image, d.PATCH_V21, raw)


@pytest.mark.parametrize("item", [{"add": "/a", "remove": "/b", "value": 1}, {"value": 1}, {"op": "add", "path": "/a", "value": 1}])
def test_update_image_draft4_needs_exactly_one_op_member(item: dict[str, Any]) -> None:
    raises(InvalidInput, 'Operation objects must contain exactly one member named "add", "remove", or "replace".',
           d.update_image, d.PATCH_V20, ops(item))


def test_update_image_read_only_and_reserved_roots_are_403() -> None:
    raises(ReadonlyProperty, "Attribute 'id' is read-only.", d.update_image, d.PATCH_V21, ops({"op": "replace", "path": "/id", "value": "x"}))
    raises(ReadonlyProperty, "Attribute 'status' is read-only.", d.update_image, d.PATCH_V21, ops({"op": "remove", "path": "/status"}))
    raises(ReservedProperty, "Attribute 'os_glance_x' is reserved.", d.update_image, d.PATCH_V21,
           ops({"op": "add", "path": "/os_glance_x", "value": "v"}))


# -- add_location --------------------------------------------------------------------------------
@pytest.mark.parametrize("raw,expected", [
    (b'{"url": "http://h/a"}', ("http://h/a", None)),
    (b'{"url": "http://h/a", "validation_data": {}}', ("http://h/a", None)),
    (b'{"url": "http://h/a", "validation_data": null}', ("http://h/a", None)),
    (b'{"url": "http://h/a", "validation_data": {"os_hash_algo": "sha512", "os_hash_value": "ab"}}',
     ("http://h/a", {"os_hash_algo": "sha512", "os_hash_value": "ab"})),
])
def test_add_location_good_bodies(raw: bytes, expected: Any) -> None:
    assert d.add_location(raw) == expected


@pytest.mark.parametrize("raw,message", [
    (b"[]", "The request body must be an object with a 'url' string."),
    (b"{}", "The request body must be an object with a 'url' string."),
    (b'{"url": ""}', "The request body must be an object with a 'url' string."),
    (b'{"url": 5}', "The request body must be an object with a 'url' string."),
    (b'{"url": "http://h/a", "z": 1, "b": 2}', "Additional properties are not allowed (b, z)."),
    (b'{"url": "http://h/a", "validation_data": []}', "validation_data may hold only os_hash_algo and os_hash_value."),
    (b'{"url": "http://h/a", "validation_data": {"checksum": "x"}}', "validation_data may hold only os_hash_algo and os_hash_value."),
    (b'{"url": "http://h/a", "validation_data": {"os_hash_algo": "sha512"}}', "os_hash_algo and os_hash_value must be given together."),
    (b'{"url": "http://h/a", "validation_data": {"os_hash_algo": "sha512", "os_hash_value": 1}}',
     "os_hash_algo and os_hash_value must be strings."),
])
def test_add_location_bad_bodies_are_400(raw: bytes, message: str) -> None:
    raises(InvalidInput, message, d.add_location, raw)


# -- scalar parameters ---------------------------------------------------------------------------
def test_int_param() -> None:
    assert d.int_param("limit", "0") == 0 and d.int_param("limit", " 7 ") == 7
    assert d.int_param("size_min", "-3", minimum=None) == -3
    raises(InvalidInput, "limit param must be an integer", d.int_param, "limit", "x")
    raises(InvalidInput, "limit param must be an integer", d.int_param, "limit", "1.5")
    raises(InvalidInput, "limit param must be positive", d.int_param, "limit", "-1")
    raises(InvalidInput, "limit param must be positive", d.int_param, "limit", "4", minimum=5)


def test_iso_param_defaults_to_utc_and_takes_z() -> None:
    assert d.iso_param("2020-01-02T03:04:05Z") == datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert d.iso_param("2020-01-02T03:04:05") == datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert d.iso_param("2020-01-02T05:04:05+02:00") == datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    raises(InvalidInput, "Invalid time format for yesterday.", d.iso_param, "yesterday")


def test_sort_desc() -> None:
    assert d.sort_desc("desc") is True and d.sort_desc("asc") is False
    raises(InvalidInput, "Invalid sort direction: DESC", d.sort_desc, "DESC")


# -- list_images ---------------------------------------------------------------------------------
def query(**params: list[str]) -> Any:
    return d.list_images(params, default_limit=25, max_limit=1000)


def test_list_images_defaults() -> None:
    q = query()
    assert (q.limit, q.marker, q.order) == (25, None, listing.Order.build(["created_at"], [True], True))
    assert q.filters == listing.Filters(exact={}, tags=frozenset(), size_min=None, size_max=None, protected=None,
                                        os_hidden=False, dates=(), visibility=None, member_status="accepted")


def test_list_images_every_filter_and_the_limit_cap() -> None:
    q = query(limit=["5000"], marker=["m"], name=['in:"a,b",c'], status=["active"], k=["in:x"], tag=["x", "y"],
              size_min=["-1"], size_max=["9"], protected=["TRUE"], os_hidden=["false"],
              created_at=["gt:2020-01-01T00:00:00Z"], updated_at=["2020-01-01T00:00:00"], visibility=["all"],
              member_status=["all"])
    assert (q.limit, q.marker) == (1000, "m")
    when = datetime(2020, 1, 1, tzinfo=timezone.utc)
    assert q.filters == listing.Filters(
        exact={"name": frozenset({"a,b", "c"}), "status": frozenset({"active"}), "k": frozenset({"in:x"})},
        tags=frozenset({"x", "y"}), size_min=-1, size_max=9, protected=True, os_hidden=False,
        dates=(("created_at", "gt", when), ("updated_at", "eq", when)), visibility="all", member_status="all")


def test_list_images_last_value_of_a_repeated_parameter_wins() -> None:
    assert query(limit=["1", "2"], name=["a", "b"]).limit == 2
    assert query(limit=["1", "2"], name=["a", "b"]).filters.exact == {"name": frozenset({"b"})}


def test_list_images_sort_forms() -> None:
    assert query(sort=["name:asc,size"]).order == listing.Order.build(["name", "size"], [False, True], True)
    assert query(sort=["name:asc"]).order == listing.Order.build(["name"], [False], False)
    assert query(sort_key=["name", "size"], sort_dir=["asc"]).order == listing.Order.build(["name", "size"], [False, False], False)
    assert query(sort_key=["name", "size"], sort_dir=["asc", "desc"]).order == listing.Order.build(["name", "size"], [False, True], True)


@pytest.mark.parametrize("params,message", [
    ({"limit": ["x"]}, "limit param must be an integer"),
    ({"limit": ["-1"]}, "limit param must be positive"),
    ({"changes-since": ["2020-01-01"]}, "The 'changes-since' filter is no longer available on v2."),
    ({"visibility": ["x"]}, "Invalid visibility value: x"),
    ({"member_status": ["x"]}, "Invalid status value: x"),
    ({"name": ["gt:a"]}, "Unable to filter on name: unknown operator 'gt'."),
    ({"name": ['in:"a,b']}, "Invalid filter value: unbalanced quotes."),
    ({"size_min": ["x"]}, "size_min param must be an integer"),
    ({"size_max": ["1.5"]}, "size_max param must be an integer"),
    ({"protected": ["yes"]}, "Invalid value for protected: 'yes'; expected true or false."),
    ({"os_hidden": ["1"]}, "Invalid value for os_hidden: '1'; expected true or false."),
    ({"created_at": ["in:2020-01-01"]}, "Invalid operator in for created_at."),
    ({"updated_at": ["gt:soon"]}, "Invalid time format for soon."),
    ({"sort": ["name"], "sort_key": ["name"]}, "The sort and sort_key/sort_dir parameters cannot be used together."),
    ({"sort": ["name"], "sort_dir": ["asc"]}, "The sort and sort_key/sort_dir parameters cannot be used together."),
    ({"sort": ["name:up"]}, "Invalid sort direction: up"),
    ({"sort_dir": ["up"]}, "Invalid sort direction: up"),
    ({"sort_key": ["name", "size", "id"], "sort_dir": ["asc", "desc"]}, "Number of sort dirs does not match the number of sort keys."),
])
def test_list_images_bad_parameters_are_400(params: dict[str, list[str]], message: str) -> None:
    raises(InvalidInput, message, query, **params)


def test_list_images_unknown_sort_key_names_the_allowed_ones() -> None:
    message = f"Invalid sort key: bogus. It should be one of the following: {', '.join(listing.SORT_KEYS)}."
    raises(InvalidInput, message, query, sort_key=["bogus"])
    raises(InvalidInput, message, query, sort=["bogus:asc"])


# -- upload_size / request_chunks ---------------------------------------------------------------
def test_upload_size_reads_the_declared_size() -> None:
    assert d.upload_size("Application/Octet-Stream; x=y", {"x-openstack-image-size": "7"}) == 7
    assert d.upload_size("application/octet-stream", {}) is None
    assert d.upload_size("application/octet-stream", {"x-openstack-image-size": "0"}) == 0


def test_request_chunks_cut_the_event_body_and_are_none_without_one() -> None:
    from types import SimpleNamespace

    from chalicelib.api import body as b

    whole = b"a" * b.CHUNK + b"b"
    assert list(b.request_chunks(SimpleNamespace(raw_body=whole)) or []) == [b"a" * b.CHUNK, b"b"]  # type: ignore[arg-type]
    assert b.request_chunks(SimpleNamespace(raw_body=b"")) is None  # type: ignore[arg-type]
    assert b.request_chunks(SimpleNamespace(raw_body=None)) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("ctype", [None, "application/json", "application/octet-stream-x"])
def test_upload_other_media_types_are_415(ctype: str | None) -> None:
    raises(UnsupportedMediaType, f"Unsupported Content-Type: {ctype or ''}", d.upload_size, ctype, {})


def test_upload_bad_declared_size_is_400() -> None:
    raises(InvalidInput, "x-openstack-image-size must be a non-negative integer, not 'ten'",
           d.upload_size, "application/octet-stream", {"x-openstack-image-size": "ten"})
    raises(InvalidInput, "x-openstack-image-size must be a non-negative integer",
           d.upload_size, "application/octet-stream", {"x-openstack-image-size": "-1"})
