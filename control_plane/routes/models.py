"""Request, query and response models of the admin, client and onboarding routes.

The portal and the operator CLI are written against these shapes. Records from the table become
responses through the ``from_record`` constructors, so a stored attribute that is missing (an
older item) gives a default, never a 500.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

from control_plane.api_models import Phone, Requirements
from tmux_builder.contracts import Provider, SiteType

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control(value: str) -> str:
    if _CONTROL_BUT_LINES.search(value):
        raise ValueError("must not contain control characters")
    return value


def _single_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    if not value.strip():
        raise ValueError("must not be blank")
    return value


PersonName = Annotated[
    str, StringConstraints(min_length=1, max_length=100), AfterValidator(_single_line)
]
ProjectName = Annotated[
    str, StringConstraints(min_length=1, max_length=80), AfterValidator(_single_line)
]
Reason = Annotated[str, StringConstraints(max_length=500), AfterValidator(_no_control)]
Email = Annotated[EmailStr, Field(max_length=254)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------ onboarding


class OnboardingRequestBody(_Request):
    """``POST /api/requests``: a member of the public asks for a site."""

    name: PersonName
    email: Email
    phone: Phone | None = None
    initial_request: Requirements
    host_provider: Provider = Provider.AWS
    site_type: SiteType = SiteType.STATIC


class OnboardingAccepted(BaseModel):
    request_id: str
    status: Literal["pending", "approved"]
    message: str
    client_url: str | None = None
    client_token: str | None = None
    execution_id: str | None = None
    session_id: str | None = None
    user_id: str | None = None


class RequestsQuery(_Query):
    status: Literal["pending", "approved", "rejected", "all"] = "all"
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2048)


class OnboardingRequestView(BaseModel):
    request_id: str
    name: str
    email: str
    phone: str | None = None
    initial_request: str
    host_provider: str
    site_type: str
    status: Literal["pending", "approved", "rejected"]
    created_at: str
    decided_at: str | None = None
    execution_id: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    reason: str | None = None

    @classmethod
    def from_record(cls, item: dict[str, Any]) -> OnboardingRequestView:
        return cls.model_validate({k: item.get(k) for k in cls.model_fields if k in item})


class RequestList(BaseModel):
    requests: list[OnboardingRequestView]
    next_cursor: str | None = None


class ApprovalResponse(BaseModel):
    request_id: str
    status: Literal["approved"] = "approved"
    user_id: str
    session_id: str
    execution_id: str
    client_url: str
    client_token: str


class RejectBody(_Request):
    reason: Reason | None = None


class RejectionResponse(BaseModel):
    request_id: str
    status: Literal["rejected"] = "rejected"


# --------------------------------------------------------------------------------- sessions


class AdminCreateSession(_Request):
    """``POST /api/admin/sessions``: a session for a user, built now if there is a request."""

    email: Email
    phone: Phone | None = None
    client_name: PersonName | None = None
    initial_request: Requirements | None = None
    host_provider: Provider = Provider.AWS
    site_type: SiteType = SiteType.STATIC


class AdminSessionCreated(BaseModel):
    user_id: str
    session_id: str
    execution_id: str | None = Field(description="null when the session has no request yet")
    is_new_user: bool
    client_url: str
    client_token: str


class SessionsQuery(_Query):
    filter: Literal["all", "active", "completed", "deleted"] = "all"
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2048)
    q: str | None = Field(default=None, max_length=100)


SessionStatusName = Literal[
    "requested", "active", "live", "completed", "deleted", "delete_failed", "deleting"
]


class ProjectSummary(BaseModel):
    """A session as its client sees it in a list."""

    session_id: str
    user_id: str
    client_name: str | None = None
    name: str
    status: SessionStatusName
    archived: bool = False
    created_at: str
    deployed_url: str | None = None
    latest_execution_id: str | None = None

    @classmethod
    def from_record(cls, item: dict[str, Any]) -> Self:
        values = {k: item[k] for k in cls.model_fields if item.get(k) is not None}
        values.setdefault("name", item.get("slug") or "Untitled project")
        values.setdefault("created_at", item.get("activated_at") or "")
        return cls.model_validate(values)


class SessionSummary(ProjectSummary):
    """A session as the admin sees it in a list."""

    email: str | None = None


class ExecutionView(BaseModel):
    execution_id: str
    mode: str = "build"
    status: str = "running"
    started_at: str | None = None
    ended_at: str | None = None

    @classmethod
    def from_record(cls, item: dict[str, Any]) -> ExecutionView:
        return cls.model_validate({k: item[k] for k in cls.model_fields if item.get(k) is not None})


class ResourceView(BaseModel):
    resource_type: str
    resource_id: str
    status: str = "active"


class SessionDetail(SessionSummary):
    requirements: str
    executions: list[ExecutionView]
    resources: list[ResourceView]


class SessionList(BaseModel):
    sessions: list[SessionSummary]
    next_cursor: str | None = None


class ExecutionHistoryQuery(_Query):
    """``GET /api/admin/executions/{execution_id}/history``: a page of state runs."""

    limit: int = Field(default=50, ge=1, le=200, description="state runs per page")
    cursor: str | None = Field(
        default=None, pattern=r"^[0-9]{1,6}$", description="next_cursor of the previous page"
    )


class RemovedResource(BaseModel):
    resource_type: str
    resource_id: str


class UserDeleted(BaseModel):
    user_id: str
    # "deleting": what is left only waits for AWS; a queued later pass finishes the job.
    status: Literal["deleted", "deleting"] = "deleted"
    removed: list[RemovedResource]


class SessionDeleted(BaseModel):
    session_id: str
    status: Literal["deleted", "deleting"] = "deleted"
    removed: list[RemovedResource]


# ---------------------------------------------------------------------------------- client


class ProjectsQuery(_Query):
    user_id: str | None = Field(
        default=None, max_length=64, description="whose projects (required for the admin)"
    )


class ProjectList(BaseModel):
    projects: list[ProjectSummary]


class ProjectHistory(BaseModel):
    session_id: str
    executions: list[ExecutionView]


class ProjectUpdate(_Request):
    """``PATCH /api/client/projects/{session_id}``: at least one of the fields."""

    name: ProjectName | None = None
    archived: bool | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> ProjectUpdate:
        if self.name is None and self.archived is None:
            raise ValueError("give at least one of name, archived")
        return self


class DuplicateResponse(BaseModel):
    session_id: str
    execution_id: str
    user_id: str


class UserSessions(BaseModel):
    user_id: str
    sessions: list[ProjectSummary]
