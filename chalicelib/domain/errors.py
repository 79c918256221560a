"""Domain error hierarchy: fault nouns with message templates, no HTTP words."""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the domain and services raise on purpose."""

    template = "An error occurred."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.message = message if message is not None else self.template.format(**kwargs)
        super().__init__(self.message)


class InvalidInput(DomainError):
    """The request is malformed or violates a schema rule."""

    template = "Invalid input: {detail}"


class Unauthenticated(DomainError):
    """No identity could be established for the caller."""

    template = "This server could not verify that you are authorized to access the document you requested."


class Forbidden(DomainError):
    """The caller can see the resource but may not do this."""

    template = "You are not authorized to complete {action} action."


class ReadonlyProperty(Forbidden):
    """A read-only attribute was given on create or update."""

    template = "Attribute '{name}' is read-only."


class ReservedProperty(Forbidden):
    """A reserved attribute name was used."""

    template = "Attribute '{name}' is reserved."


class ProtectedImage(Forbidden):
    """A protected image cannot be deleted."""

    template = "Image {image_id} is protected and cannot be deleted."


class NotFound(DomainError):
    """The resource does not exist or the caller may not see it."""

    template = "No image found with ID {image_id}"


class Conflict(DomainError):
    """The request conflicts with the resource's current state."""

    template = "{detail}"


class Duplicate(Conflict):
    """A resource with this identity already exists."""

    template = "Image with identifier {image_id} already exists!"


class InvalidTransition(Conflict):
    """The status machine does not allow this transition."""

    template = "Image status transition from {current} to {target} is not allowed"


class BadTransition(InvalidInput):
    """A transition error that Glance reports as 400 (delete, PATCH)."""

    template = "Image status transition from {current} to {target} is not allowed"


class ConcurrentUpdate(Conflict):
    """The stored item moved between read and conditional write."""

    template = "Image {image_id} was changed by another request; try again."


class QuotaExceeded(DomainError):
    """A per-image or per-project limit would be exceeded."""

    template = "Maximum {what} exceeded; limit is {limit}."


class Gone(DomainError):
    """The resource went away while the request was being served."""

    template = "Image {image_id} was deleted during the upload."


class RangeNotSatisfiable(DomainError):
    """A Range/Content-Range that does not fit the image."""

    template = "Requested range not satisfiable: {detail}"


class UnsupportedMediaType(DomainError):
    """The request's Content-Type is not one this operation accepts."""

    template = "Unsupported Content-Type: {content_type}"


class MethodNotImplemented(DomainError):
    """A method the API does not implement at all."""

    template = "The server does not support this method."


class MethodNotAllowed(DomainError):
    """The path exists but not with this method; ``allowed`` names the methods it serves."""

    template = "The method {method} is not allowed for this resource."


class ImageFormatMismatch(UnsupportedMediaType):
    """The data is not in the image's disk_format."""

    template = "Image format {detected} does not match disk_format {expected}."


class UnsafeImage(UnsupportedMediaType):
    """The data failed the format inspector's safety checks."""

    template = "Image failed safety checks: {detail}"


class Unreachable(InvalidInput):
    """An outbound http(s) target could not be reached (refused, timed out): 400 for a request, retried by imports."""

    template = "Could not reach {url}: {detail}"


class ServiceUnavailable(DomainError):
    """A backing service the operation needs is not available."""

    template = "The service is unavailable: {detail}"


class TransientFault(ServiceUnavailable):
    """A backing service failed in a way that may pass (throttled, conflicting transaction, 5xx, connection):
    retried by the write path, answered 503 with Retry-After once the retries run out."""

    template = "The service is busy ({detail}); try again."


class BackendFailure(DomainError):
    """A backing service refused in a way a retry will not fix (denied, missing table, unknown fault).

    Deliberately absent from the error map: it is a server fault, not the caller's.
    """

    template = "The image service could not complete the request."


class TaskNotFound(NotFound):
    """No task with this id, it expired, or the caller may not see it (Glance hides all three)."""

    template = "Task with the given ID {task_id} not found"


class InvalidTaskTransition(Conflict):
    """The task status machine does not allow this transition."""

    template = "Task status transition from {current} to {target} is not allowed"
