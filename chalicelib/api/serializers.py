"""Domain -> Glance JSON: image documents, collections, versions, and response helpers."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable, Mapping
from urllib.parse import urlencode

from chalice.app import HeadersType, Response

from chalicelib.api.versions import VERSIONS
from chalicelib.domain.context import RequestContext
from chalicelib.domain.images import Image, Location
from chalicelib.domain.policy import can_see_locations
from chalicelib.domain.rules import HIDDEN_PROPERTIES
from chalicelib.domain.stores import StoreCatalog
from chalicelib.domain.tasks import Task

if TYPE_CHECKING:
    from chalicelib.config import Settings
    from chalicelib.domain.stores import Store
    from chalicelib.services.stores import Stores
    from chalicelib.services.image_data import Download
    from chalicelib.services.imports import UploadTicket
    from chalicelib.services.uploads import MultipartTicket

JSON = {"Content-Type": "application/json; charset=UTF-8"}


def isotime(when: datetime) -> str:
    """Glance's timestamps: second precision, trailing Z."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class LocationDisplay:
    """show_multiple_locations / show_image_direct_url, and who is asking (get_image_location)."""

    multiple: bool = False
    direct_url: bool = False
    ctx: RequestContext | None = None
    catalog: StoreCatalog | None = None  # names each location's store (Glance's enabled_backends)

    def locations(self, image: Image) -> list[Location]:
        return list(image.locations) if self.ctx is not None and can_see_locations(image, self.ctx) else []


def locations_view(locations: Iterable[Location], catalog: StoreCatalog | None = None) -> list[dict[str, Any]]:
    """Locations as Glance returns them: url and metadata with the location's ``store`` (validation_data is
    write-only)."""
    shown = []
    for loc in locations:
        metadata = dict(loc.metadata)
        store = catalog.store_of(loc.url) if catalog is not None else None
        if store is not None:
            metadata["store"] = store
        shown.append({"url": loc.url, "metadata": metadata})
    return shown


def image_view(image: Image, shown: LocationDisplay = LocationDisplay()) -> dict[str, Any]:
    """The image as Glance shows it: every core attribute, extra properties flattened."""
    doc: dict[str, Any] = {
        k: v for k, v in image.extra_properties.items() if k not in HIDDEN_PROPERTIES
    }
    doc.update(
        id=image.id,
        name=image.name,
        status=image.status.value,
        visibility=image.visibility,
        protected=image.protected,
        os_hidden=image.os_hidden,
        owner=image.owner,
        container_format=image.container_format,
        disk_format=image.disk_format,
        min_disk=image.min_disk,
        min_ram=image.min_ram,
        size=image.size,
        virtual_size=image.virtual_size,
        checksum=image.checksum,
        os_hash_algo=image.os_hash_algo,
        os_hash_value=image.os_hash_value,
        tags=sorted(image.tags),
        created_at=isotime(image.created_at),
        updated_at=isotime(image.updated_at),
        self=f"/v2/images/{image.id}",
        file=f"/v2/images/{image.id}/file",
        schema="/v2/schemas/image",
    )
    visible = shown.locations(image)
    if shown.multiple:
        doc["locations"] = locations_view(visible, shown.catalog)  # [] means "allowed, but none"
    if shown.direct_url and visible:
        doc["direct_url"] = visible[0].url
    stores = shown.catalog.stores_of(visible) if shown.catalog is not None else []
    if stores:
        doc["stores"] = ",".join(stores)  # the stores of the locations the caller may see, in their order
    return doc


# Room kept in a page's byte budget for what is not an image: the links (which repeat the query) and the schema.
_PAGE_ENVELOPE = 16_384


def images_view(
    images: Iterable[Image], params: Mapping[str, list[str]], next_marker: str | None,
    shown: LocationDisplay = LocationDisplay(), max_bytes: int | None = None,
) -> dict[str, Any]:
    """A listing page with Glance's ``first`` and ``next`` links.

    A page whose JSON would pass ``max_bytes`` (what the front can answer: 1 MB behind a load balancer,
    6 MB from Lambda) ends after the last image that fits, with a ``next`` link from it; Glance clients
    follow ``next``, so a large ``limit`` costs them requests, never a failed one. At least one image is kept.
    """
    views: list[dict[str, Any]] = []
    budget = None if max_bytes is None else max(max_bytes - _PAGE_ENVELOPE, 0)
    used = 0
    for image in images:
        view = image_view(image, shown)
        if budget is not None:
            used += len(json.dumps(view)) + 2  # ", " between items; json.dumps escapes to ASCII: chars are bytes
            if used > budget and views:
                next_marker = views[-1]["id"]
                break
        views.append(view)
    return page_view("images", views, params, next_marker)


def page_view(collection: str, items: list[dict[str, Any]], params: Mapping[str, list[str]],
              next_marker: str | None) -> dict[str, Any]:
    """``{collection: items, first, next (when a marker is given), schema}``: the query kept, the marker replaced."""
    rest = [(k, v) for k, values in params.items() if k != "marker" for v in values]
    doc: dict[str, Any] = {
        collection: items,
        "first": f"/v2/{collection}" + (f"?{urlencode(rest)}" if rest else ""),
        "schema": f"/v2/schemas/{collection}",
    }
    if next_marker is not None:
        doc["next"] = f"/v2/{collection}?" + urlencode(rest + [("marker", next_marker)])
    return doc


def versions_view(base_url: str) -> dict[str, Any]:
    """The version document; links point at ``base_url``/v2/."""
    href = base_url.rstrip("/") + "/v2/"
    return {
        "versions": [
            {"id": vid, "status": status, "links": [{"rel": "self", "href": href}]} for vid, status in VERSIONS
        ]
    }


def stores_view(stores: "Stores", region: str, *, detail: bool) -> list[dict[str, Any]]:
    """``GET /v2/info/stores[/detail]`` as Glance's InfoController answers: id, description when set, ``default``
    and ``read-only`` as the string "true" where they hold; detail adds type, weight and the store's properties
    (glance_store's s3 ones, with the bucket, region, prefix and storage class of this deployment)."""
    shown = []
    for store in stores.catalog.stores:
        doc: dict[str, Any] = {"id": store.id}
        if store.description:
            doc["description"] = store.description
        if store.id == stores.catalog.default:
            doc["default"] = "true"
        if store.read_only:
            doc["read-only"] = "true"
        if detail:
            doc["type"] = store.kind
            doc["properties"] = {} if store.kind != "s3" else _s3_properties(store, region)
            doc["weight"] = store.weight
        shown.append(doc)
    return shown


# Uploads go multipart past one 8 MiB part, in 8 MiB parts, one at a time (adapters.s3_store.PART_SIZE).
_PART_MIB = 8


def _s3_properties(store: "Store", region: str) -> dict[str, Any]:
    return {
        "s3_store_large_object_size": _PART_MIB, "s3_store_large_object_chunk_size": _PART_MIB,
        "s3_store_thread_pools": 1,
        "s3_store_bucket": store.bucket, "s3_store_region": store.region or region,
        "s3_store_prefix": store.prefix, "s3_store_storage_class": store.storage_class or "STANDARD",
    }


def discovery_headers(settings: "Settings") -> dict[str, str]:
    """What Glance's create answer advertises: the enabled import methods (openstacksdk's
    ``create --import`` reads them) and the store ids; a header is left out when its list is empty (RFC 7230)."""
    methods = ",".join(settings.imports.import_methods)
    headers = {"OpenStack-image-import-methods": methods} if methods else {}
    headers["OpenStack-image-store-ids"] = ",".join(settings.catalog().ids())
    return headers


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response with Glance's content type."""
    return Response(body=json.dumps(body), status_code=status, headers={**JSON, **(headers or {})})


def no_content() -> Response:
    """204 with no body."""
    # Not JSON: python-glanceclient parses any application/json body, even an empty one.
    return Response(body="", status_code=204, headers={"Content-Type": "text/html; charset=UTF-8"})


def accepted() -> Response:
    """202 with no body (the new location API)."""
    return Response(body="", status_code=202, headers={"Content-Type": "text/html; charset=UTF-8"})


def download_response(plan: "Download") -> Response:
    """204 without data; a redirect to the store; or the bytes (206 for a range) with Glance's headers."""
    if plan.empty:
        return no_content()
    headers: HeadersType = {}
    if plan.image.checksum:
        headers["Content-MD5"] = plan.image.checksum  # hex, as Glance sends it (not RFC 1864 base64)
    if plan.url is not None:
        # The client's Range travels with it to the store, which answers 206 itself.
        return Response(body="", status_code=302, headers={**headers, "Location": plan.url, "Content-Type": "text/plain"})
    headers["Content-Type"] = "application/octet-stream"
    if plan.partial and plan.byte_range is not None:
        headers["Content-Range"] = plan.byte_range.content_range
        return Response(body=plan.body, status_code=206, headers=headers)
    return Response(body=plan.body, status_code=200, headers=headers)


# Listed tasks leave these out, and image_id/request_id/user_id too (Glance's _format_task_stub).
_TASK_DETAIL_ONLY = ("input", "result", "message")


def task_view(task: Task, *, detail: bool = True) -> dict[str, Any]:
    """A task as Glance shows it; image_id, request_id, user_id (detail only) and expires_at only when set."""
    doc: dict[str, Any] = {
        "id": task.id,
        "type": task.type,
        "status": task.status.value,
        "owner": task.owner,
        "input": dict(task.input) if task.input is not None else None,
        "result": dict(task.result) if task.result is not None else None,
        "message": task.message,
        "created_at": isotime(task.created_at),
        "updated_at": isotime(task.updated_at),
        "self": f"/v2/tasks/{task.id}",
        "schema": "/v2/schemas/task",
    }
    if detail:
        for key in ("image_id", "request_id", "user_id"):
            if getattr(task, key) is not None:
                doc[key] = getattr(task, key)
    else:
        for key in _TASK_DETAIL_ONLY:
            doc.pop(key)
    if task.expires_at is not None:  # Glance adds it only once set (_format_task, _format_task_stub)
        doc["expires_at"] = isotime(task.expires_at)
    return doc


def tasks_view(tasks: Iterable[Task], params: Mapping[str, list[str]], next_marker: str | None) -> dict[str, Any]:
    """A task listing page with Glance's ``first`` and ``next`` links."""
    return page_view("tasks", [task_view(t, detail=False) for t in tasks], params, next_marker)


def upload_view(ticket: "UploadTicket | MultipartTicket") -> dict[str, Any]:
    """The upload-url extension's answer: one presigned PUT, or a multipart upload and a page of part URLs."""
    from chalicelib.services.imports import UploadTicket

    if isinstance(ticket, UploadTicket):
        return {"url": ticket.url, "method": "PUT", "headers": dict(ticket.headers), "expires_in": ticket.expires_in}
    return {
        "multipart": True, "method": "PUT", "upload_id": ticket.upload_id, "size": ticket.plan.size,
        "part_size": ticket.plan.part_size, "part_count": ticket.plan.part_count,
        "parts": [{"part_number": p.number, "url": p.url, "size": p.size} for p in ticket.parts],
        "next_part": ticket.next_part, "headers": dict(ticket.headers), "expires_in": ticket.expires_in,
    }
