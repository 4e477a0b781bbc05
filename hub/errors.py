"""The hub's errors. Each knows its HTTP status and renders as a TAXII 2.1 error message."""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    """Base of every error the hub reports to a client."""

    status = 500
    title = "Internal error"

    def __init__(self, description: str = "", *, details: dict[str, Any] | None = None) -> None:
        super().__init__(description or self.title)
        self.description = description
        self.details = details

    def to_taxii(self) -> dict[str, Any]:
        """The TAXII 2.1 error message (section 3.6.1) for this error."""
        body: dict[str, Any] = {"title": self.title, "http_status": str(self.status)}
        if self.description:
            body["description"] = self.description
        if self.details:
            body["details"] = self.details
        return body


class BadRequest(HubError):
    status = 400
    title = "Bad request"


class Unauthorized(HubError):
    status = 401
    title = "Authentication required"


class Forbidden(HubError):
    status = 403
    title = "Forbidden"


class NotFound(HubError):
    status = 404
    title = "Not found"


class NotAcceptable(HubError):
    status = 406
    title = "Not acceptable"


class PayloadTooLarge(HubError):
    status = 413
    title = "Request entity too large"


class UnsupportedMediaType(HubError):
    status = 415
    title = "Unsupported media type"


class Unprocessable(HubError):
    status = 422
    title = "Unprocessable content"


class Conflict(HubError):
    status = 409
    title = "Conflict"


class _RetryLater(HubError):
    """An error the client should retry after a while (sent as Retry-After)."""

    def __init__(self, description: str, retry_after: int) -> None:
        super().__init__(description)
        self.retry_after = max(1, retry_after)  # seconds


class ServiceUnavailable(_RetryLater):
    status = 503
    title = "Service unavailable"


class TooManyRequests(_RetryLater):
    status = 429
    title = "Too many requests"


def title_for(status: int, fallback: str) -> str:
    """The hub's own title for an HTTP status, so one status never has two titles."""
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        NotAcceptable,
        PayloadTooLarge,
        UnsupportedMediaType,
        Unprocessable,
        Conflict,
        TooManyRequests,
        ServiceUnavailable,
    ):
        if cls.status == status:
            return cls.title
    return fallback
