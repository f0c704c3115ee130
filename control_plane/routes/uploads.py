"""Upload routes: presign a POST for a file, check it once posted, list a session's files.

See :mod:`control_plane.uploads` for the flow and why the file never passes through the API.
"""

from __future__ import annotations

from typing import Annotated

from chalice.app import Blueprint
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from control_plane import uploads
from control_plane.auth import Principal
from control_plane.web import Access, endpoint
from tmux_builder.naming import SESSION_ID_RE, USER_ID_RE

uploads_bp = Blueprint(__name__)

SessionId = Annotated[str, StringConstraints(pattern=SESSION_ID_RE.pattern)]
UserId = Annotated[str, StringConstraints(pattern=USER_ID_RE.pattern)]


class UploadRequest(BaseModel):
    """``POST /api/upload``: what the caller is about to post."""

    model_config = ConfigDict(extra="forbid")

    session_id: SessionId
    filename: str = Field(
        min_length=1,
        max_length=255,
        description="the file's name on the caller's machine; shown, never used in a key",
    )
    content_type: str = Field(
        default="",
        max_length=255,
        description="must be the extension's type; empty means the extension's type",
    )
    size: StrictInt = Field(ge=1, le=uploads.MAX_UPLOAD_BYTES)
    user_id: UserId | None = Field(
        default=None, description="optional: the session's owner, checked when given"
    )


class UploadTicket(BaseModel):
    """Post the file as ``multipart/form-data`` to ``url``: every field, then ``file`` last."""

    upload_id: str
    url: str
    fields: dict[str, str]
    expires_in: int
    max_bytes: int
    stored_name: str


class UploadView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    upload_id: str
    session_id: str
    stored_name: str
    content_type: str
    size: int
    display_name: str
    kind: uploads.UploadKind
    stored_at: str


class UploadList(BaseModel):
    uploads: list[UploadView]


class UploadListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: SessionId
    user_id: UserId | None = None


@endpoint(
    uploads_bp,
    "/api/upload",
    "POST",
    access=Access.USER,
    summary="Start an upload: a presigned S3 POST for one jpg, png, pdf, doc, docx or txt file",
    request=UploadRequest,
    response=UploadTicket,
    status=201,
)
def start_upload_route(principal: Principal, body: UploadRequest) -> UploadTicket:
    ticket = uploads.start_upload(
        principal,
        session_id=body.session_id,
        filename=body.filename,
        content_type=body.content_type,
        size=body.size,
        user_id=body.user_id,
    )
    return UploadTicket.model_validate(ticket, from_attributes=True)


@endpoint(
    uploads_bp,
    "/api/upload/{upload_id}/complete",
    "POST",
    access=Access.USER,
    summary="Check the posted file by its bytes; keep it, or delete it and say why",
    response=UploadView,
)
def complete_upload_route(principal: Principal, upload_id: str) -> UploadView:
    return UploadView.model_validate(uploads.complete_upload(principal, upload_id))


@endpoint(
    uploads_bp,
    "/api/uploads",
    "GET",
    access=Access.USER,
    summary="The accepted uploads of a session",
    response=UploadList,
    query=UploadListQuery,
)
def list_uploads_route(principal: Principal, query: UploadListQuery) -> UploadList:
    found = uploads.list_uploads(principal, query.session_id, query.user_id)
    return UploadList(uploads=[UploadView.model_validate(u) for u in found])
