"""v1 request -> typed command: listing parameters, image data bodies, membership bodies (reference 11).

Listing reuses the v2 machinery (ImageService.index, one Query per source):
name/status/container_format/disk_format/min_ram/min_disk and
``property-<key>`` are exact matches (Glance's registry compared min_ram and
min_disk with ``==``); ``size_min``/``size_max`` bound the size;
``changes-since`` is ``updated_at >= value`` (deleted images are not indexed,
so unlike Glance it never brings them back); ``protected`` is a boolean.

Default visibility: Glance's registry defaulted v1 to ``is_public=True``,
which its query widened to public images *plus* the caller's own and those
shared with it in any member status. That is what a v1 listing without
``is_public`` returns here (v2's default sources, member_status=all; an admin
gets v2's admin default). ``is_public=true`` lists only public images,
``is_public=false`` only the non-public ones the caller may list, and
``is_public=none`` (sent by glanceclient with ``--owner``) is the default.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from chalicelib.api import schemas
from chalicelib.api.deserializers import Body, iso_param, json_body
from chalicelib.api.v1_headers import parse_bool, parse_int
from chalicelib.domain import listing, v1
from chalicelib.domain.errors import InvalidInput
from chalicelib.services.images import ListQuery

_EXACT = ("name", "status", "container_format", "disk_format")
_INT_EXACT = ("min_ram", "min_disk")
_PROPERTY = "property-"


def list_images(params: Mapping[str, list[str]], *, default_limit: int, max_limit: int) -> ListQuery:
    """``GET /v1/images[/detail]`` parameters as a v2 ListQuery; raises InvalidInput for a malformed one."""
    one = {key: values[-1] for key, values in params.items() if values}
    exact = {key: frozenset({one[key]}) for key in _EXACT if key in one}
    exact.update({key: frozenset({str(parse_int(key, one[key]))}) for key in _INT_EXACT if key in one})
    exact.update({k[len(_PROPERTY):]: frozenset({v}) for k, v in one.items() if k.startswith(_PROPERTY) and len(k) > len(_PROPERTY)})
    dates: tuple[tuple[str, str, Any], ...] = ()
    if "changes-since" in one:
        dates = (("updated_at", "gte", iso_param(one["changes-since"])),)
    filters = listing.Filters(
        exact=exact,
        size_min=parse_int("size_min", one["size_min"]) if "size_min" in one else None,
        size_max=parse_int("size_max", one["size_max"]) if "size_max" in one else None,
        protected=parse_bool("protected", one["protected"]) if "protected" in one else None,
        dates=dates,
        visibility=_visibility(one.get("is_public")),
        member_status="all",
    )
    limit = parse_int("limit", one["limit"]) if "limit" in one else default_limit
    return ListQuery(filters=filters, order=_order(one), limit=min(limit, max_limit), marker=one.get("marker"))


def _visibility(raw: str | None) -> str | None:
    if raw is None or raw.strip().lower() == "none":
        return None
    return "public" if parse_bool("is_public", raw) else listing.NOT_PUBLIC


def _order(one: Mapping[str, str]) -> listing.Order:
    key = one.get("sort_key", "created_at")
    if key not in listing.SORT_KEYS:
        raise InvalidInput(f"Unsupported sort_key. Acceptable values: {', '.join(listing.SORT_KEYS)}")
    direction = one.get("sort_dir", "desc")
    if direction not in ("asc", "desc"):
        raise InvalidInput("Unsupported sort_dir. Acceptable values: asc, desc")
    desc = direction == "desc"
    return listing.Order.build([key], [desc], desc)


def image_data(content_type: str | None, chunks: Iterable[bytes] | None) -> Iterable[bytes] | None:
    """The body's chunks (api/body.request_chunks), None when there is none; a body that is not
    application/octet-stream is 400."""
    if chunks is None:
        return None
    if (content_type or "").split(";")[0].strip().lower() != "application/octet-stream":
        raise InvalidInput(f"Image data must be sent as application/octet-stream, not {content_type or 'no Content-Type'}.")
    return chunks


def check_values(meta: v1.V1Meta) -> v1.V1Meta:
    """Validate the settable values against the v2 image schema (formats, name length, ...); raises InvalidInput."""
    document = {k: meta.fields[k] for k in v1.SETTABLE if k in meta.fields}
    document.update(meta.properties)
    schemas.validate("image", document)
    return meta


def memberships(raw: Body) -> list[str]:
    """``{"memberships": [{"member_id": ..., "can_share": false}, ...]}`` -> member ids."""
    body = json_body(raw)
    items = body.get("memberships") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise InvalidInput("The request body must be an object with a 'memberships' list.")
    ids = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("member_id"), str):
            raise InvalidInput("Each membership must be an object with a 'member_id' string.")
        _check_can_share(item)
        ids.append(item["member_id"])
    return ids


def member(raw: Body) -> None:
    """The optional ``{"member": {"can_share": bool}}`` body of PUT .../members/{member}."""
    body = json_body(raw, required=False)
    if body is None:
        return
    inner = body.get("member") if isinstance(body, dict) else None
    if not isinstance(inner, dict):
        raise InvalidInput("The request body must be an object with a 'member' object.")
    _check_can_share(inner)


def _check_can_share(item: Mapping[str, Any]) -> None:
    # Members here can never re-share an image (v2 has no such right), so only false is honest.
    value = item.get("can_share", False)
    if not isinstance(value, bool):
        raise InvalidInput("can_share must be a boolean.")
    if value:
        raise InvalidInput("can_share=true is not supported: members cannot share an image further.")
