"""Request and response models of the REST API: the documentation of its contracts.

Every route parses its input with one of these through :func:`parse_body`, which turns any
problem into an :class:`~control_plane.errors.InvalidRequest` naming the field.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
)

from control_plane.errors import FieldProblem, InvalidRequest, PayloadTooLarge
from tmux_builder.contracts import Provider, SiteType, StepStatus

MAX_BODY_BYTES = 64 * 1024

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control_chars(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Requirements = Annotated[
    str,
    StringConstraints(min_length=10, max_length=4000),
    AfterValidator(_no_control_chars),
    AfterValidator(_not_blank),
]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 ()\-]{5,18}[0-9]$")]


class FieldErrorBody(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: a stable code, a readable message, and the fields at fault."""

    error: str
    message: str
    fields: list[FieldErrorBody] | None = None


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CreateUserRequest(_Request):
    """``POST /api/create-user``: the seed's body."""

    email: EmailStr = Field(max_length=254)
    phone: Phone | None = None
    host_provider: Provider = Provider.AWS
    site_type: SiteType = SiteType.STATIC
    requirements: Requirements


class CreateUserResponse(BaseModel):
    execution_id: str
    user_id: str
    session_id: str
    is_new_user: bool
    client_token: str = Field(description="signed, expiring token for the client link")
    client_url: str = Field(description="the portal link for this user's session")


class StepError(BaseModel):
    error: str
    cause: str = ""


class StepView(BaseModel):
    name: str
    number: int
    title: str
    status: StepStatus
    started_at: str | None = None
    ended_at: str | None = None
    duration_seconds: float | None = None
    attempts: int = 0
    error: StepError | None = None


class ActivityView(BaseModel):
    at: str
    type: str
    step: str | None = None
    message: str


class E2EView(BaseModel):
    passed: int
    failed: int
    errors: int = 0
    ok: bool
    report_url: str | None = Field(default=None, description="The JUnit XML report")


class FailureView(BaseModel):
    step: str | None
    error: str
    cause: str = ""


class ScreenshotsView(BaseModel):
    """Short-lived links to the screenshot step's pictures."""

    desktop_url: str
    mobile_url: str | None = None
    thumbnail_url: str | None = None


class StatusResponse(BaseModel):
    """``GET /api/status/{execution_id}``."""

    execution_id: str
    user_id: str
    session_id: str
    status: Literal["running", "succeeded", "failed"]
    current_step: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    steps: list[StepView]
    deployed_url: str | None = None
    screenshot_url: str | None = Field(
        default=None, description="The desktop screenshot (same as screenshots.desktop_url)"
    )
    screenshots: ScreenshotsView | None = None
    e2e: E2EView | None = None
    error: FailureView | None = None
    activity: list[ActivityView] = Field(default_factory=list)


M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], raw: bytes | str | None, content_type: str | None) -> M:
    """Validate a JSON request body into ``model``; every problem names its field."""
    if raw is None or raw in (b"", ""):
        raise InvalidRequest(
            "request body is required (JSON object)", [FieldProblem("body", "missing")]
        )
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body is {size} bytes; the limit is {MAX_BODY_BYTES}")
    if content_type and "json" not in content_type.lower():
        raise InvalidRequest(
            "Content-Type must be application/json", [FieldProblem("Content-Type", content_type)]
        )
    try:
        data: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(
            f"request body is not valid JSON: {exc}", [FieldProblem("body", "invalid JSON")]
        ) from exc
    if not isinstance(data, dict):
        raise InvalidRequest(
            "request body must be a JSON object", [FieldProblem("body", "not an object")]
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            FieldProblem(".".join(str(p) for p in err["loc"]) or "body", err["msg"])
            for err in exc.errors()
        ]
        names = ", ".join(sorted({p.field for p in problems}))
        raise InvalidRequest(f"invalid field(s): {names}", problems) from exc
