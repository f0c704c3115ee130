"""Admin: open a session for a user, list and search sessions, look at one, complete, restore
and delete it."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from control_plane import admin_sessions, execution_history, idempotency, links
from control_plane.auth import Principal
from control_plane.execution_history import ExecutionHistory
from control_plane.routes.models import (
    AdminCreateSession,
    AdminSessionCreated,
    ExecutionHistoryQuery,
    ExecutionView,
    RemovedResource,
    ResourceView,
    SessionDeleted,
    SessionDetail,
    SessionList,
    SessionsQuery,
    SessionSummary,
    UserDeleted,
)
from control_plane.web import Access, endpoint

bp = Blueprint(__name__)


@endpoint(
    bp,
    "/api/admin/sessions",
    "POST",
    access=Access.ADMIN,
    summary="Open a session for a user (by e-mail); with an initial request its build starts",
    request=AdminCreateSession,
    response=AdminSessionCreated,
    status=201,
)
def create_session_route(principal: Principal, body: AdminCreateSession) -> AdminSessionCreated:
    opened = admin_sessions.create_session_once(
        email=str(body.email),
        phone=body.phone,
        client_name=body.client_name,
        initial_request=body.initial_request,
        provider=body.host_provider,
        site_type=body.site_type,
        key=idempotency.key_from_headers(bp.current_request.headers),
        lambda_context=bp.lambda_context,
    )
    token, url = links.client_link(opened.user_id)
    return AdminSessionCreated(
        user_id=opened.user_id,
        session_id=opened.session_id,
        execution_id=opened.execution_id,
        is_new_user=opened.is_new_user,
        client_url=url,
        client_token=token,
    )


@endpoint(
    bp,
    "/api/admin/sessions",
    "GET",
    access=Access.ADMIN,
    summary="Sessions, newest first: filter by status group, search e-mail and names",
    query=SessionsQuery,
    response=SessionList,
)
def list_sessions_route(principal: Principal, query: SessionsQuery) -> SessionList:
    page = admin_sessions.list_sessions(
        query.filter, limit=query.limit, cursor=query.cursor, q=query.q
    )
    return SessionList(
        sessions=[SessionSummary.from_record(item) for item in page.items],
        next_cursor=page.next_cursor,
    )


def _detail(record: dict[str, Any]) -> SessionDetail:
    from control_plane import sessions

    executions = sessions.executions(record["user_id"], record["session_id"])
    summary = SessionSummary.from_record(record).model_dump()
    if executions:
        summary["latest_execution_id"] = executions[0]["execution_id"]
    return SessionDetail(
        **summary,
        requirements=record.get("requirements") or "",
        executions=[ExecutionView.from_record(item) for item in executions],
        resources=[
            ResourceView.model_validate(
                {k: item[k] for k in ResourceView.model_fields if k in item}
            )
            for item in admin_sessions.resources_of(record)
        ],
    )


@endpoint(
    bp,
    "/api/admin/sessions/{session_id}",
    "GET",
    access=Access.ADMIN,
    summary="One session: its request, every build and the cloud resources it made",
    response=SessionDetail,
)
def session_detail_route(principal: Principal, session_id: str) -> SessionDetail:
    return _detail(admin_sessions.find(session_id))


@endpoint(
    bp,
    "/api/admin/sessions/{session_id}/complete",
    "POST",
    access=Access.ADMIN,
    summary="Mark a session completed",
    response=SessionSummary,
)
def complete_session_route(principal: Principal, session_id: str) -> SessionSummary:
    return SessionSummary.from_record(admin_sessions.complete(session_id))


@endpoint(
    bp,
    "/api/admin/sessions/{session_id}/restore",
    "POST",
    access=Access.ADMIN,
    summary="Reopen a completed session (live if it has a site, else active)",
    response=SessionSummary,
)
def restore_session_route(principal: Principal, session_id: str) -> SessionSummary:
    return SessionSummary.from_record(admin_sessions.restore(session_id))


@endpoint(
    bp,
    "/api/admin/sessions/{session_id}",
    "DELETE",
    access=Access.ADMIN,
    summary="Delete a session: remove every cloud resource recorded for it",
    response=SessionDeleted,
)
def delete_session_route(principal: Principal, session_id: str) -> SessionDeleted:
    deleted = admin_sessions.delete(session_id)
    return SessionDeleted(
        session_id=session_id,
        status=deleted.status,
        removed=[
            RemovedResource(resource_type=kind, resource_id=resource_id)
            for kind, resource_id in deleted.removed
        ],
    )


@endpoint(
    bp,
    "/api/admin/users/{user_id}",
    "DELETE",
    access=Access.ADMIN,
    summary="Delete a user: every site's resources, the user's cloud identity and tmux session",
    response=UserDeleted,
)
def delete_user_route(principal: Principal, user_id: str) -> UserDeleted:
    deleted = admin_sessions.delete_user(user_id)
    return UserDeleted(
        user_id=user_id,
        status=deleted.status,
        removed=[RemovedResource(resource_type=k, resource_id=r) for k, r in deleted.removed],
    )


@endpoint(
    bp,
    "/api/admin/executions/{execution_id}/history",
    "GET",
    access=Access.ADMIN,
    summary="A build's Step Functions history: each state's input, output, attempts and errors",
    query=ExecutionHistoryQuery,
    response=ExecutionHistory,
)
def execution_history_route(
    principal: Principal, query: ExecutionHistoryQuery, execution_id: str
) -> ExecutionHistory:
    return execution_history.execution_history(execution_id, limit=query.limit, cursor=query.cursor)
