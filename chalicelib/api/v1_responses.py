"""Domain -> v1 responses: image documents, listings, metadata headers, data (reference 11).

``GET /v1/images/{id}`` follows v2's download design with one difference:
a v1 client reads the data *and* the metadata headers from one response
(glanceclient v1 verifies the body against ``x-image-meta-checksum``), so an
image that fits the proxy limit (``proxy_max_bytes``) is served through the
function with every header. A larger one answers 302 to a short-lived
presigned URL, the metadata headers on the redirect; ``curl -L`` and
glanceclient (requests) follow it and S3 sends the bytes.
"""
from __future__ import annotations

from typing import Iterable

from chalice.app import HeadersType, Response

from chalicelib.api.serializers import json_response
from chalicelib.api.v1_headers import image_headers, image_meta
from chalicelib.domain.images import Image
from chalicelib.domain.members import Member
from chalicelib.services.image_data import Download

OCTET = "application/octet-stream"
_SUMMARY = ("id", "name", "disk_format", "container_format", "checksum", "size")


def images_list(images: Iterable[Image], detail: bool) -> Response:
    """``{"images": [...]}``: the six summary fields, or the full document for ``/detail``."""
    docs = [image_meta(im) for im in images]
    if not detail:
        docs = [{k: doc[k] for k in _SUMMARY} for doc in docs]
    return json_response({"images": docs})


def _etag(image: Image) -> dict[str, str]:
    return {"ETag": image.checksum} if image.checksum else {}


def image_document(image: Image, status: int = 200) -> Response:
    """``{"image": {...}}`` with the ETag; 201 adds the Location of the new image."""
    headers = _etag(image)
    if status == 201:
        headers["Location"] = f"/v1/images/{image.id}"
    return json_response({"image": image_meta(image)}, status, headers)


def metadata(image: Image) -> Response:
    """HEAD: the metadata as headers, no body."""
    # Not octet-stream: Chalice (as API Gateway) refuses a binary type unless Accept names it, and there are no bytes.
    headers: HeadersType = {**image_headers(image), **_etag(image), "Content-Type": "text/html; charset=UTF-8"}
    return Response(body="", status_code=200, headers=headers)


def data(plan: Download) -> Response:
    """GET: the bytes with the metadata headers, or a redirect to the store carrying them."""
    headers = {**image_headers(plan.image), **_etag(plan.image)}
    if plan.url is not None:
        return Response(body="", status_code=302, headers={**headers, "Location": plan.url, "Content-Type": "text/plain"})
    return Response(body=plan.body or b"", status_code=200, headers={**headers, "Content-Type": OCTET})


def deleted() -> Response:
    """v1's delete answers 200 with no body."""
    return Response(body="", status_code=200, headers={"Content-Type": "text/html; charset=UTF-8"})


def member_view(member: Member) -> dict[str, object]:
    """A v1 membership: members never re-share here, so can_share is false."""
    return {"member_id": member.member_id, "can_share": False}


def members_list(members: Iterable[Member]) -> Response:
    return json_response({"members": [member_view(m) for m in members]})


def member_document(member: Member) -> Response:
    return json_response({"member": member_view(member)})


def shared_images(images: Iterable[Image]) -> Response:
    return json_response({"shared_images": [{"image_id": im.id, "can_share": False} for im in images]})
