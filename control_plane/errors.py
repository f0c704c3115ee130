"""Typed errors of the control plane and the one place that turns them into HTTP answers.

Domain modules raise these; ``app.py`` maps them with :func:`to_response`. Nothing matches on
message text. Step handlers (Lambda tasks) let them propagate so that Step Functions Retry and
Catch match on the class name (``SiteNotReady``, ``UserNotFound`` ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


@dataclass
class ApiError(Exception):
    """Base of every error that has an HTTP meaning."""

    message: str
    fields: list[FieldProblem] = field(default_factory=list)

    status_code = 500
    code = "InternalError"

    def __str__(self) -> str:
        return self.message

    def headers(self) -> dict[str, str]:
        """Extra response headers this error calls for (none by default)."""
        return {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.fields:
            body["fields"] = [{"field": f.field, "message": f.message} for f in self.fields]
        return body


class InvalidRequest(ApiError):
    status_code = 400
    code = "ValidationError"


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "PayloadTooLarge"


class UnsupportedMediaType(ApiError):
    status_code = 415
    code = "UnsupportedMediaType"


class NotSupported(ApiError):
    """A valid request for something this deployment cannot do yet."""

    status_code = 422
    code = "NotSupported"


class Unauthorized(ApiError):
    """No credential, or one that is wrong or expired."""

    status_code = 401
    code = "Unauthorized"


class Forbidden(ApiError):
    """A valid credential that may not do this (another user's data, an admin route)."""

    status_code = 403
    code = "Forbidden"


class TooManyRequests(ApiError):
    status_code = 429
    code = "TooManyRequests"


class NotFound(ApiError):
    status_code = 404
    code = "NotFound"


class Conflict(ApiError):
    status_code = 409
    code = "Conflict"


class UpstreamUnavailable(ApiError):
    """A cloud service the request needs did not answer; nothing was half-written."""

    status_code = 503
    code = "ServiceUnavailable"


# ---- errors of pipeline steps (names are Step Functions error names) ----------------------


class StepFailure(Exception):
    """Base for errors raised by Lambda step handlers."""


class UserNotFound(StepFailure):
    pass


class SessionNotFound(StepFailure):
    pass


class SiteNotReady(StepFailure):
    """The site did not answer as expected yet; the state machine retries with backoff."""


class InvalidStepInput(StepFailure):
    pass
