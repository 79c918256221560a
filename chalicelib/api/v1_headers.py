"""v1 metadata headers both ways: ``x-image-meta-*`` -> V1Meta, and an image -> headers (reference 11).

Pure: no request objects, no settings. As Glance's ``get_image_meta_from_headers``:
names are case-insensitive and ``-`` in a field name reads as ``_``; any
``x-image-meta-`` header outside the allowed list is 400 "Bad header";
``size``/``min_disk``/``min_ram`` (and ``virtual_size``) are non-negative
integers; ``is_public``/``protected``/``deleted`` are boolean words (Glance
took any word, and read a typo as false; here a non-boolean is 400).

python-glanceclient percent-encodes every header name and value (RFC 8187,
bug #1766235), so both are percent-decoded; response values are
percent-encoded where they hold ``%`` or anything outside printable ASCII,
which HTTP headers cannot carry. A decoded name or value holding a control
character (``%00``, ``%0A``...) is 400, never cut.
"""
from __future__ import annotations

import unicodedata
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping
from urllib.parse import quote, unquote

from chalicelib.domain import v1
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.images import Image
from chalicelib.domain.rules import HIDDEN_PROPERTIES

PREFIX = "x-image-meta-"
PROPERTY_PREFIX = "x-image-meta-property-"
COPY_FROM = "x-glance-api-copy-from"
PURGE_PROPS = "x-glance-registry-purge-props"
TRUE_WORDS = frozenset({"1", "t", "true", "on", "y", "yes"})
FALSE_WORDS = frozenset({"0", "f", "false", "off", "n", "no"})
# Printable ASCII except '%': left as is in response header values.
_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in "%")
_TOKEN_SAFE = "!#$&'*+-.^_`|~"
# "None" means "not given" here (Glance read virtual_size "None" as null and any non-true word as false).
_NULLABLE = frozenset({"virtual_size", *v1.BOOLEANS})


def parse_bool(name: str, raw: str) -> bool:
    """A boolean word (oslo's strutils vocabulary); raises InvalidInput for anything else."""
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise InvalidInput(f"Invalid value for {name}: {raw!r}; expected a boolean (true or false).")


def parse_int(name: str, raw: str) -> int:
    """A non-negative integer; raises InvalidInput naming the header and value."""
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidInput(f"Cannot convert image {name} '{raw}' to an integer.") from None
    if value < 0:
        raise InvalidInput(f"Image {name} must be a non-negative integer, not {value}.")
    return value


def parse_meta(headers: Mapping[str, str], *, size_cap: int | None = None) -> v1.V1Meta:
    """The image metadata a v1 request carries; raises InvalidInput for a bad header or value.

    A declared ``size`` above ``size_cap`` is 400 here, as in Glance's v1 deserializer.
    """
    fields: dict[str, Any] = {}
    properties: dict[str, str] = {}
    for raw_name, raw_value in _decoded(headers.items()):
        name = raw_name.lower()
        if name.startswith(PREFIX) or name == COPY_FROM:
            _check_printable(raw_name, raw_value)
        if name.startswith(PROPERTY_PREFIX):
            key = name[len(PROPERTY_PREFIX):].replace("-", "_")
            if not key:
                raise InvalidInput(f"Bad header: {raw_name}")
            properties[key] = raw_value
        elif name.startswith(PREFIX):
            key = name[len(PREFIX):].replace("-", "_")
            if key not in v1.FIELDS:
                raise InvalidInput(f"Bad header: {raw_name}")
            if key in _NULLABLE and raw_value.strip() == "None":
                continue  # python-glanceclient v1 sends str(None) for a flag the user did not give
            fields[key] = _typed(key, raw_value)
        elif name == COPY_FROM:
            fields["copy_from"] = raw_value
    if size_cap is not None and fields.get("size") is not None and fields["size"] > size_cap:
        raise InvalidInput(f"Denying attempt to upload image larger than {size_cap} bytes.")
    return v1.V1Meta(fields, properties)


def _check_printable(name: str, value: str) -> None:
    """Raise InvalidInput when a decoded header name or value holds a control character (NUL, CR, LF, DEL...):
    stores and clients cut or split at them, so ``a%00b`` would silently become something else."""
    for text, what in ((name, "name"), (value, "value")):
        bad = next((c for c in text if unicodedata.category(c) == "Cc"), None)
        if bad is not None:
            raise InvalidInput(f"Invalid header {what} for {name!r}: control character U+{ord(bad):04X} is not allowed.")


def _decoded(items: Iterable[tuple[str, str]]) -> Iterable[tuple[str, str]]:
    for name, value in items:
        yield unquote(name), unquote(value)


def _typed(key: str, raw: str) -> Any:
    if key in v1.INTEGERS:
        return parse_int(key, raw)
    if key in v1.BOOLEANS:
        return parse_bool(key, raw)
    return raw


def purge_props(headers: Mapping[str, str]) -> bool:
    """``x-glance-registry-purge-props`` (default true); raises InvalidInput when not a boolean word."""
    raw = headers.get(PURGE_PROPS)
    return True if raw is None else parse_bool(PURGE_PROPS, unquote(raw))


def v1_time(when: datetime | None) -> str | None:
    """v1's timestamps: ISO 8601 in UTC with microseconds, no zone suffix."""
    return None if when is None else when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


def image_meta(image: Image) -> dict[str, Any]:
    """The v1 image document (detail listing, create/update bodies). Never a location."""
    deleted = image.status.value == "deleted"
    return {
        "id": image.id,
        "name": image.name,
        "size": image.size,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "checksum": image.checksum,
        "status": image.status.value,
        "is_public": image.visibility == "public",
        "min_ram": image.min_ram,
        "min_disk": image.min_disk,
        "owner": image.owner,
        "protected": image.protected,
        "virtual_size": image.virtual_size,
        "created_at": v1_time(image.created_at),
        "updated_at": v1_time(image.updated_at),
        "deleted_at": v1_time(image.updated_at) if deleted else None,
        "deleted": deleted,
        "properties": {k: v for k, v in image.extra_properties.items() if k not in HIDDEN_PROPERTIES},
    }


def image_headers(image: Image) -> dict[str, str]:
    """The metadata as ``x-image-meta-*`` headers (None values left out), as Glance's image_meta_to_http_headers."""
    meta = image_meta(image)
    headers = {}
    for key, value in meta.pop("properties").items():
        if value is not None:
            headers[PROPERTY_PREFIX + quote(key.lower(), safe=_TOKEN_SAFE)] = quote(str(value), safe=_SAFE)
    for key, value in meta.items():
        if value is not None:
            headers[PREFIX + key] = quote(str(value), safe=_SAFE)
    return headers
