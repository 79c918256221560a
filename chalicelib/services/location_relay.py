"""An external (http/https) location's bytes, read through the guarded web client for a caller who may not see it.

A location URL may carry credentials or signatures (``http://user:secret@host/...``),
and policy shows it only to admins and the owner's project (``get_image_location``).
Redirecting anyone else there would hand them the URL, so their download is read
here and passed through the function, within ``proxy_max_bytes``. Nothing here
may echo the URL: the web client's own errors name it, so they are replaced.
"""
from __future__ import annotations

from chalicelib.domain.errors import DomainError, Forbidden, ServiceUnavailable
from chalicelib.ports import WebClient

_READ = 1024 * 1024
_UNREADABLE = "the image's external location could not be read"


def too_large(image_id: str, size: int | None, limit: int) -> Forbidden:
    """The refusal for an external image the function cannot pass through (``size`` None: more than ``limit``)."""
    has = f"{size} bytes" if size is not None else f"more than {limit} bytes"
    return Forbidden(
        f"Image {image_id}'s data is at an external location, served directly only to callers who may see "
        f"the image's locations; through the API at most {limit} bytes can be served, and this image has {has}."
    )


def read_external(web: WebClient | None, image_id: str, url: str, limit: int) -> bytes:
    """The whole body at ``url`` (2xx); raises Forbidden past ``limit`` bytes, ServiceUnavailable when it
    cannot be read (the message never names the URL)."""
    if web is None:
        raise Forbidden(f"Image {image_id}'s data is at an external location, served only to callers who may see it.")
    try:
        response, _ = web.open(url)
    except DomainError:
        raise ServiceUnavailable(detail=_UNREADABLE) from None
    try:
        if not 200 <= response.status < 300:
            raise ServiceUnavailable(detail=f"{_UNREADABLE} (it answered {response.status})")
        parts: list[bytes] = []
        size = 0
        while True:
            try:
                chunk = response.read(min(_READ, limit + 1 - size))
            except Exception:  # the adapter's response object: a reset or a short body (IncompleteRead)
                raise ServiceUnavailable(detail=_UNREADABLE) from None
            if not chunk:
                return b"".join(parts)
            size += len(chunk)
            if size > limit:
                raise too_large(image_id, None, limit)
            parts.append(chunk)
    finally:
        response.close()
