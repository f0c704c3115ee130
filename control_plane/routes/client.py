"""Client: the caller's own projects (list, history, rename/archive, duplicate) and the
pipeline's per-user session list. A client token only ever reaches its own user's data."""

from __future__ import annotations

from chalice.app import Blueprint

from control_plane import projects
from control_plane.auth import Principal
from control_plane.errors import FieldProblem, InvalidRequest
from control_plane.routes.models import (
    DuplicateResponse,
    ExecutionView,
    ProjectHistory,
    ProjectList,
    ProjectsQuery,
    ProjectSummary,
    ProjectUpdate,
    UserSessions,
)
from control_plane.web import Access, endpoint

bp = Blueprint(__name__)


@endpoint(
    bp,
    "/api/client/projects",
    "GET",
    access=Access.USER,
    summary="The caller's projects, newest first (the admin names the user with user_id)",
    query=ProjectsQuery,
    response=ProjectList,
)
def list_projects_route(principal: Principal, query: ProjectsQuery) -> ProjectList:
    user_id = query.user_id or principal.user_id
    if user_id is None:
        message = "the admin credential names no user; pass ?user_id="
        raise InvalidRequest(message, [FieldProblem("user_id", "required for the admin")])
    return ProjectList(
        projects=[ProjectSummary.from_record(s) for s in projects.of_user(principal, user_id)]
    )


@endpoint(
    bp,
    "/api/client/projects/{session_id}/history",
    "GET",
    access=Access.USER,
    summary="Every build and redeploy of one project, newest first",
    response=ProjectHistory,
)
def project_history_route(principal: Principal, session_id: str) -> ProjectHistory:
    executions = projects.history(principal, session_id)
    return ProjectHistory(
        session_id=session_id,
        executions=[ExecutionView.from_record(item) for item in executions],
    )


@endpoint(
    bp,
    "/api/client/projects/{session_id}",
    "PATCH",
    access=Access.USER,
    summary="Rename or (un)archive a project",
    request=ProjectUpdate,
    response=ProjectSummary,
)
def update_project_route(
    principal: Principal, session_id: str, body: ProjectUpdate
) -> ProjectSummary:
    record = projects.update(principal, session_id, name=body.name, archived=body.archived)
    return ProjectSummary.from_record(record)


@endpoint(
    bp,
    "/api/client/projects/{session_id}/duplicate",
    "POST",
    access=Access.USER,
    summary="Start a new project with the same request, provider and site type",
    response=DuplicateResponse,
    status=202,
)
def duplicate_project_route(principal: Principal, session_id: str) -> DuplicateResponse:
    started = projects.duplicate(principal, session_id)
    return DuplicateResponse(
        session_id=started.session_id, execution_id=started.execution_id, user_id=started.user_id
    )


@endpoint(
    bp,
    "/api/user/{user_id}/sessions",
    "GET",
    access=Access.USER,
    summary="A user's sessions, newest first (that user's token, or the admin)",
    response=UserSessions,
)
def user_sessions_route(principal: Principal, user_id: str) -> UserSessions:
    return UserSessions(
        user_id=user_id,
        sessions=[ProjectSummary.from_record(s) for s in projects.of_user(principal, user_id)],
    )
