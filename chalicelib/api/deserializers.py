"""Request -> typed command: JSON bodies, JSON-patch documents and listing parameters."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Mapping

from chalicelib.api import schemas
from chalicelib.domain import listing, rules
from chalicelib.domain.errors import InvalidInput, ReadonlyProperty, UnsupportedMediaType
from chalicelib.domain.patch import PatchOp
from chalicelib.services.images import ListQuery

PATCH_V21 = "application/openstack-images-v2.1-json-patch"
PATCH_V20 = "application/openstack-images-v2.0-json-patch"
PATCH_OPS = ("add", "remove", "replace")
_PAGING = frozenset({"limit", "marker", "sort_key", "sort_dir", "sort"})
_IN_KEYS = frozenset({"name", "id", "status", "container_format", "disk_format"})
_VISIBILITY_FILTERS = ("public", "private", "shared", "community", "all")

# A request body as Chalice hands it over: ``Request.raw_body`` is typed ``str | bytes`` (bytes in
# practice); None for callers with no request. json.loads takes either; ``as_bytes`` where bytes are needed.
Body = str | bytes | None


def as_bytes(raw: Body) -> bytes:
    """The body as bytes (empty when absent); a str is UTF-8 encoded, as Chalice itself encodes one."""
    if isinstance(raw, str):
        return raw.encode("utf-8")
    return raw or b""


class UnsupportedPatchType(UnsupportedMediaType):
    """PATCH with a media type other than Glance's two JSON-patch types; ``accept_patch`` names those."""


def json_body(raw: Body, *, required: bool = True) -> Any:
    """Parse a JSON object or array body; raises InvalidInput when absent (if required) or malformed."""
    if not raw:
        if required:
            raise InvalidInput("Body expected in request.")
        return None
    try:
        body = json.loads(raw)
        # Lone surrogates parse but can never be stored as UTF-8.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError):
        raise InvalidInput("Malformed JSON in request body.") from None
    if not isinstance(body, (dict, list)):
        raise InvalidInput("Expected an object or array in request body.")
    return body


def reject_body(raw: Body) -> None:
    """Routes that take no body answer 400 when one is sent."""
    if raw:
        raise InvalidInput("A body is not expected with this request.")


def create_image(raw: Body) -> dict[str, Any]:
    """A create body: forbidden keys are 403 before the schema's 400s, as in Glance."""
    body = json_body(raw)
    if not isinstance(body, dict):
        raise InvalidInput("Expected an object in request body.")
    for key in body:
        if key in rules.CREATE_FORBIDDEN:
            raise ReadonlyProperty(name=key)
    rules.check_property_keys(k for k in body if k not in rules.CORE)
    schemas.validate("image", body)
    return body


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _decode_pointer(path: Any) -> tuple[str, ...]:
    if not isinstance(path, str) or not path.startswith("/"):
        raise InvalidInput(f"Invalid JSON pointer for this resource: '{path}'")
    parts = path[1:].split("/")
    decoded = []
    for part in parts:
        if not part:
            raise InvalidInput(f"Invalid JSON pointer for this resource: '{path}'")
        if "~" in part.replace("~0", "").replace("~1", ""):
            raise InvalidInput(f"Invalid JSON pointer for this resource: '{path}'")
        decoded.append(part.replace("~1", "/").replace("~0", "~"))
    return tuple(decoded)


def _check_depth(op: str, path: tuple[str, ...], raw_path: str) -> None:
    depth = 2 if path[0] == "locations" and op in ("add", "remove") else 1
    if len(path) != depth:
        raise InvalidInput(f"Invalid JSON pointer for this resource: '{raw_path}'")


def _one_change(item: Any, draft4: bool) -> PatchOp:
    if not isinstance(item, dict):
        raise InvalidInput("Operations must be JSON objects.")
    if draft4:
        ops = [k for k in item if k in PATCH_OPS]
        if len(ops) != 1:
            raise InvalidInput("Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\".")
        op, raw_path = ops[0], item[ops[0]]
    else:
        op, raw_path = item.get("op"), item.get("path")
        if op not in PATCH_OPS:
            raise InvalidInput(f"Invalid operation: `{op}`. It must be one of the following: add, remove, replace.")
    path = _decode_pointer(raw_path)
    _check_depth(op, path, raw_path)
    if op != "remove" and "value" not in item:
        raise InvalidInput(f"Operation \"{op}\" requires a member named \"value\".")
    change = PatchOp(op, path, item.get("value"), draft4)
    rules.check_patch_key(path[0])
    if op != "remove" and len(path) == 1:
        rules.check_property_keys([path[0]] if path[0] not in rules.CORE else [])
        schemas.validate("image", {path[0]: change.value})
    elif op == "add":
        # Glance validates an element added at /locations/N as a one-item list.
        schemas.validate("image", {path[0]: [change.value]})
    return change


def add_location(raw: Body) -> tuple[str, dict[str, str] | None]:
    """``POST /v2/images/{id}/locations``: ``url`` required; ``os_hash_algo``/``os_hash_value`` together."""
    body = json_body(raw)
    if not isinstance(body, dict) or not isinstance(body.get("url"), str) or not body["url"]:
        raise InvalidInput("The request body must be an object with a 'url' string.")
    extra = set(body) - {"url", "validation_data"}
    if extra:
        raise InvalidInput(f"Additional properties are not allowed ({', '.join(sorted(extra))}).")
    validation = body.get("validation_data")
    if validation is None or validation == {}:  # glanceclient sends {} when no hash is given
        return body["url"], None
    if not isinstance(validation, dict) or set(validation) - {"os_hash_algo", "os_hash_value"}:
        raise InvalidInput("validation_data may hold only os_hash_algo and os_hash_value.")
    if set(validation) != {"os_hash_algo", "os_hash_value"}:
        raise InvalidInput("os_hash_algo and os_hash_value must be given together.")
    if not all(isinstance(v, str) for v in validation.values()):
        raise InvalidInput("os_hash_algo and os_hash_value must be strings.")
    return body["url"], dict(validation)


def update_image(content_type: str | None, raw: Body) -> list[PatchOp]:
    """A JSON-patch body under either Glance media type; 415 for any other type."""
    media = _media_type(content_type)
    if media not in (PATCH_V20, PATCH_V21):
        raise UnsupportedPatchType(content_type=content_type or "", accept_patch=f"{PATCH_V20}, {PATCH_V21}")
    body = json_body(raw)
    if not isinstance(body, list):
        raise InvalidInput("Request body must be a JSON array of operation objects.")
    return [_one_change(item, media == PATCH_V20) for item in body]


def _bool(name: str, raw: str) -> bool:
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise InvalidInput(f"Invalid value for {name}: {raw!r}; expected true or false.")


def int_param(name: str, raw: str, *, minimum: int | None = 0) -> int:
    """An integer query parameter (``limit`` and the like); raises InvalidInput."""
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} param must be an integer") from None
    if minimum is not None and value < minimum:
        raise InvalidInput(f"{name} param must be positive")
    return value


def _split_quoted(raw: str) -> list[str]:
    """Split an ``in:`` list on commas, honouring double quotes around values."""
    values, current, quoted = [], "", False
    for char in raw:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            values.append(current)
            current = ""
        else:
            current += char
    if quoted:
        raise InvalidInput("Invalid filter value: unbalanced quotes.")
    values.append(current)
    return values


def iso_param(raw: str) -> datetime:
    """An ISO 8601 date-time query value (``Z`` accepted); raises InvalidInput."""
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"Invalid time format for {raw}.") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _split_op(raw: str) -> tuple[str, str]:
    """Glance's split_filter_op: an ISO time alone means eq; else ``op:value``."""
    left, sep, right = raw.partition(":")
    if not sep:
        return "eq", raw
    try:
        iso_param(raw)
        return "eq", raw
    except InvalidInput:
        return left, right


def _exact(key: str, raw: str) -> frozenset[str]:
    op, value = _split_op(raw)
    if op == "in":
        return frozenset(_split_quoted(value))
    if op != "eq":
        raise InvalidInput(f"Unable to filter on {key}: unknown operator '{op}'.")
    return frozenset({value})


def _dates(params: Mapping[str, list[str]]) -> tuple[tuple[str, str, datetime], ...]:
    found = []
    for key in ("created_at", "updated_at"):
        for raw in params.get(key, []):
            op, value = _split_op(raw)
            if op not in listing.DATE_OPS:
                raise InvalidInput(f"Invalid operator {op} for {key}.")
            found.append((key, op, iso_param(value)))
    return tuple(found)


def _filters(params: Mapping[str, list[str]]) -> listing.Filters:
    one = {k: v[-1] for k, v in params.items()}
    if "changes-since" in one:
        raise InvalidInput("The 'changes-since' filter is no longer available on v2.")
    visibility = one.get("visibility")
    if visibility is not None and visibility not in _VISIBILITY_FILTERS:
        raise InvalidInput(f"Invalid visibility value: {visibility}")
    member_status = one.get("member_status", "accepted")
    if member_status not in listing.MEMBER_STATUSES:
        raise InvalidInput(f"Invalid status value: {member_status}")
    special = {"visibility", "member_status", "tag", "size_min", "size_max", "protected", "os_hidden", "created_at", "updated_at"}
    exact = {}
    for key, raw in one.items():
        if key in _PAGING or key in special:
            continue
        exact[key] = _exact(key, raw) if key in _IN_KEYS else frozenset({raw})
    return listing.Filters(
        exact=exact,
        tags=frozenset(params.get("tag", [])),
        size_min=int_param("size_min", one["size_min"], minimum=None) if "size_min" in one else None,
        size_max=int_param("size_max", one["size_max"], minimum=None) if "size_max" in one else None,
        protected=_bool("protected", one["protected"]) if "protected" in one else None,
        os_hidden=_bool("os_hidden", one["os_hidden"]) if "os_hidden" in one else False,
        dates=_dates(params),
        visibility=visibility,
        member_status=member_status,
    )


def sort_desc(raw: str) -> bool:
    """A ``sort_dir``: True for desc; raises InvalidInput for anything but asc/desc."""
    if raw not in ("asc", "desc"):
        raise InvalidInput(f"Invalid sort direction: {raw}")
    return raw == "desc"


def _sort_key(raw: str) -> str:
    if raw not in listing.SORT_KEYS:
        raise InvalidInput(f"Invalid sort key: {raw}. It should be one of the following: {', '.join(listing.SORT_KEYS)}.")
    return raw


def _order(params: Mapping[str, list[str]]) -> listing.Order:
    keys_raw, dirs_raw, sort = params.get("sort_key", []), params.get("sort_dir", []), params.get("sort", [])
    if sort and (keys_raw or dirs_raw):
        raise InvalidInput("The sort and sort_key/sort_dir parameters cannot be used together.")
    if sort:
        keys, dirs = [], []
        for part in ",".join(sort).split(","):
            key, _, direction = part.strip().partition(":")
            keys.append(_sort_key(key.strip()))
            dirs.append(sort_desc(direction.strip() or "desc"))
        return listing.Order.build(keys, dirs, dirs[0] if len(dirs) == 1 else True)
    keys = [_sort_key(k) for k in keys_raw] or ["created_at"]
    dirs = [sort_desc(d) for d in dirs_raw]
    if len(dirs) > 1 and len(dirs) != len(keys):
        raise InvalidInput("Number of sort dirs does not match the number of sort keys.")
    default = dirs[0] if len(dirs) == 1 else True
    return listing.Order.build(keys, dirs if len(dirs) > 1 else [default] * len(keys), default)


def list_images(params: Mapping[str, list[str]], *, default_limit: int, max_limit: int) -> ListQuery:
    """``GET /v2/images`` parameters; raises InvalidInput for any malformed one."""
    limit = int_param("limit", params["limit"][-1]) if "limit" in params else default_limit
    marker = params["marker"][-1] if "marker" in params else None
    return ListQuery(filters=_filters(params), order=_order(params), limit=min(limit, max_limit), marker=marker)


def upload_size(content_type: str | None, headers: Any) -> int | None:
    """An upload's declared size (x-openstack-image-size, 400 if bad); the body must be exactly
    application/octet-stream (415). The bytes themselves come from api/body.request_chunks."""
    if _media_type(content_type) != "application/octet-stream":
        raise UnsupportedMediaType(content_type=content_type or "")
    declared = headers.get("x-openstack-image-size")
    size: int | None = None
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise InvalidInput(f"x-openstack-image-size must be a non-negative integer, not {declared!r}") from None
        if size < 0:
            raise InvalidInput("x-openstack-image-size must be a non-negative integer")
    return size
