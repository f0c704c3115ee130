"""Starting a build: the user, the session, the execution record, then the state machine.

Order matters: every record the pipeline reads is written before ``StartExecution``, and if
the state machine cannot be started the execution is marked failed with the reason, so a
caller never gets an id that leads nowhere. Starting is idempotent per execution id: the
execution record is a conditional put and only the call that wrote it starts the machine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from control_plane import sessions, store, tracking, users
from control_plane.api_models import CreateUserRequest
from control_plane.errors import UpstreamUnavailable
from control_plane.observability import count
from tmux_builder import aws, naming
from tmux_builder.contracts import PipelineState, Provider, SiteType
from tmux_builder.settings import cloud


@dataclass(frozen=True)
class BuildStarted:
    execution_id: str
    user_id: str
    session_id: str
    is_new_user: bool


@dataclass(frozen=True)
class SessionOpened:
    user_id: str
    session_id: str
    # None when the session was opened without requirements (nothing to build yet).
    execution_id: str | None
    is_new_user: bool


def start_build(request: CreateUserRequest) -> BuildStarted:
    user = users.find_or_create(request.email, request.phone)
    session_id = naming.new_session_id()
    sessions.create(
        user.user_id,
        session_id,
        request.host_provider,
        request.site_type,
        request.requirements,
        email=request.email,
    )
    execution_id = start_session_build(user.user_id, session_id)
    return BuildStarted(execution_id, user.user_id, session_id, user.is_new)


def start_build_once(
    request: CreateUserRequest, *, key: str | None, lambda_context: Any = None
) -> BuildStarted:
    """:func:`start_build`, answered from the first call when replayed (see ``idempotency``)."""
    from control_plane import idempotency

    return idempotency.once(
        "create-user",
        key=key,
        payload=request.model_dump(mode="json"),
        result_type=BuildStarted,
        work=lambda: start_build(request),
        lambda_context=lambda_context,
    )


def open_session(
    user: users.UserRef,
    *,
    email: str,
    provider: Provider,
    site_type: SiteType,
    requirements: str | None,
    client_name: str | None = None,
    name: str | None = None,
) -> SessionOpened:
    """A new session of ``user``; its build starts at once when there are requirements."""
    session_id = naming.new_session_id()
    sessions.create(
        user.user_id,
        session_id,
        provider,
        site_type,
        requirements or "",
        email=email,
        client_name=client_name,
        name=name,
        status=sessions.SessionStatus.REQUESTED if requirements else sessions.SessionStatus.ACTIVE,
    )
    execution_id = start_session_build(user.user_id, session_id) if requirements else None
    return SessionOpened(user.user_id, session_id, execution_id, user.is_new)


def start_session_build(user_id: str, session_id: str) -> str:
    """Build an existing session from its stored requirements; a repeated call starts nothing."""
    execution_id = naming.execution_id(user_id, session_id)
    try:
        tracking.create_execution(execution_id, user_id, session_id, mode="build")
    except store.ConditionFailed:
        return execution_id  # an earlier call started it (or is starting it)
    sessions.record_execution(user_id, session_id, execution_id)
    state = PipelineState(execution_id=execution_id, user_id=user_id, session_id=session_id)
    start_state_machine(execution_id, state)
    return execution_id


def start_state_machine(execution_id: str, state: PipelineState) -> None:
    """Start the pipeline for a recorded execution; on failure the record says why (503)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        aws.client("stepfunctions").start_execution(
            stateMachineArn=cloud().state_machine_arn,
            name=execution_id,
            input=json.dumps(state.model_dump(mode="json", exclude_none=True)),
        )
    except (ClientError, BotoCoreError) as exc:
        tracking.update_execution(
            execution_id, status="failed", error="StartExecutionFailed", cause=str(exc)[:500]
        )
        raise UpstreamUnavailable("the build pipeline could not be started; try again") from exc
    count("BuildsStarted", mode=state.mode)
