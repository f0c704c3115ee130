"""Starting a build: the user, the session, the execution record, then the state machine.

Order matters: every record the pipeline reads is written before ``StartExecution``, and if
the state machine cannot be started the execution is marked failed with the reason, so a
caller never gets an id that leads nowhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from control_plane import sessions, tracking, users
from control_plane.api_models import CreateUserRequest
from control_plane.errors import FieldProblem, NotSupported, UpstreamUnavailable
from tmux_builder import aws, naming
from tmux_builder.contracts import PipelineState, Provider, SiteType
from tmux_builder.settings import cloud

# What this deployment can build today. Azure and dynamic sites join with their deployers.
SUPPORTED = {(Provider.AWS, SiteType.STATIC)}


@dataclass(frozen=True)
class BuildStarted:
    execution_id: str
    user_id: str
    session_id: str
    is_new_user: bool


def start_build(request: CreateUserRequest) -> BuildStarted:
    if (request.host_provider, request.site_type) not in SUPPORTED:
        field = "host_provider" if request.host_provider is not Provider.AWS else "site_type"
        message = (
            f"{request.host_provider.value}/{request.site_type.value} sites are not available "
            "in this deployment yet; use host_provider=aws and site_type=static"
        )
        raise NotSupported(message, [FieldProblem(field, message)])
    user = users.find_or_create(request.email, request.phone)
    session_id = naming.new_session_id()
    sessions.create(
        user.user_id, session_id, request.host_provider, request.site_type, request.requirements
    )
    execution_id = naming.execution_id(user.user_id, session_id)
    tracking.create_execution(execution_id, user.user_id, session_id, mode="build")
    state = PipelineState(execution_id=execution_id, user_id=user.user_id, session_id=session_id)
    _start_state_machine(execution_id, state)
    return BuildStarted(execution_id, user.user_id, session_id, user.is_new)


def _start_state_machine(execution_id: str, state: PipelineState) -> None:
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
