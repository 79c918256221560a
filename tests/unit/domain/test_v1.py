"""v1 metadata as v2 operations (reference 11), and the not-public listing v1's is_public=false needs."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from chalicelib.domain import listing, v1
from chalicelib.domain.context import RequestContext
from chalicelib.domain.errors import Forbidden, ReadonlyProperty
from chalicelib.domain.images import Image, ImageStatus
from chalicelib.domain.patch import PatchOp

NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)
OWNER = RequestContext("u", "p", frozenset({"member", "reader"}))
ADMIN = RequestContext("a", "admin-p", frozenset({"admin"}))


def image(**kw: object) -> Image:
    base = Image(id="i1", owner="p", created_at=NOW, updated_at=NOW, name="n", disk_format="raw", container_format="bare",
                 extra_properties={"a": "1", "b": "2", "os_glance_import_task": "t"})
    return replace(base, **kw)  # type: ignore[arg-type]  # test data


def meta(properties: dict[str, str] | None = None, **fields: object) -> v1.V1Meta:
    return v1.V1Meta(fields, properties or {})


def test_create_body_maps_is_public_to_visibility_and_keeps_properties() -> None:
    body = v1.create_body(meta({"os_distro": "x"}, name="n", is_public=True, size=3, store="s3", id="abc"))
    assert body == {"os_distro": "x", "name": "n", "visibility": "public", "id": "abc"}
    assert v1.create_body(meta(is_public=False))["visibility"] == "shared"
    with pytest.raises(ReadonlyProperty, match="'status'"):
        v1.create_body(meta(status="active"))


@pytest.mark.parametrize("current,is_public,wanted", [
    (None, False, "shared"), ("public", False, "shared"), ("private", False, "private"),
    ("community", False, "community"), ("shared", True, "public"),
])
def test_visibility_for(current: str | None, is_public: bool, wanted: str) -> None:
    assert v1.visibility_for(is_public, current) == wanted


def test_update_ops_change_only_what_differs_and_purge_unsent_properties() -> None:
    ops = v1.update_ops(image(), meta({"a": "1", "c": "3"}, name="new", disk_format="raw"), purge_props=True)
    assert ops == [PatchOp("replace", ("name",), "new"), PatchOp("add", ("c",), "3"), PatchOp("remove", ("b",))]


def test_update_ops_without_purge_keep_unsent_properties() -> None:
    assert v1.update_ops(image(), meta({"b": "22"}), purge_props=False) == [PatchOp("add", ("b",), "22")]


def test_reserved_properties_are_never_purged() -> None:
    removed = {op.path[0] for op in v1.update_ops(image(), meta(), purge_props=True) if op.op == "remove"}
    assert removed == {"a", "b"}


def test_is_public_false_on_a_public_image_makes_it_shared() -> None:
    assert v1.update_ops(image(visibility="public"), meta(is_public=False), False) == [
        PatchOp("replace", ("visibility",), "shared")]
    assert v1.update_ops(image(visibility="private"), meta(is_public=False), False) == []


@pytest.mark.parametrize("key,value", [("id", "other"), ("status", "killed")])
def test_id_and_status_are_immutable(key: str, value: str) -> None:
    with pytest.raises(ReadonlyProperty, match=f"'{key}'"):
        v1.check_immutable(image(), meta(**{key: value}), ADMIN)


def test_echoing_the_stored_id_and_status_is_not_a_change() -> None:
    v1.check_immutable(image(), meta(id="i1", status="queued"), OWNER)


@pytest.mark.parametrize("status", [ImageStatus.ACTIVE, ImageStatus.DEACTIVATED])
def test_size_and_checksum_are_fixed_for_non_admins_once_there_is_data(status: ImageStatus) -> None:
    stored = image(status=status, size=3, checksum="abc")
    with pytest.raises(Forbidden, match="Forbidden to modify 'size'"):
        v1.check_immutable(stored, meta(size=4), OWNER)
    with pytest.raises(Forbidden, match="Forbidden to modify 'checksum'"):
        v1.check_immutable(stored, meta(checksum="def"), OWNER)
    v1.check_immutable(stored, meta(size=3, checksum="abc"), OWNER)
    v1.check_immutable(stored, meta(size=4), ADMIN)


def test_not_public_sources_and_listable() -> None:
    assert listing.sources_for(OWNER, listing.NOT_PUBLIC, "all") == [
        listing.Source("owner", "p"), listing.Source("member", "p", "all")]
    assert [s.value for s in listing.sources_for(ADMIN, listing.NOT_PUBLIC, "all")] == ["private", "shared", "community"]
    assert not listing.listable(image(visibility="public"), OWNER, listing.NOT_PUBLIC)
    assert listing.listable(image(visibility="private"), OWNER, listing.NOT_PUBLIC)
    assert listing.listable(image(visibility="shared", owner="q"), OWNER, listing.NOT_PUBLIC)
