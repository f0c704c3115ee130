"""The pipeline's Lambda steps: parse the task input, record the step, do the work.

Each state machine Task sends ``{"step", "attempt", "state"}`` (see
``stepfunctions/pipeline.asl.json``) and receives the new state back. A step's outcome is
recorded in the table before the state machine moves on, and errors propagate unchanged so
Retry/Catch match on their class name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from control_plane import (
    health,
    iam_identity,
    realtime_publish,
    requirements_doc,
    routing,
    sessions,
    tracking,
    users,
)
from control_plane.errors import InvalidStepInput
from control_plane.observability import count, logger
from tmux_builder.contracts import ActivityType, PipelineState, utc_now_iso
from tmux_builder.pipeline import Step
from tmux_builder.settings import cloud


class StepInvocation(BaseModel):
    step: Step
    attempt: int = 0
    state: PipelineState


def _invocation(payload: dict[str, Any]) -> StepInvocation:
    try:
        return StepInvocation.model_validate(payload)
    except ValidationError as exc:
        raise InvalidStepInput(f"invalid step input: {exc}") from exc


def run_step(
    payload: dict[str, Any], work: Callable[[PipelineState], PipelineState]
) -> dict[str, Any]:
    invocation = _invocation(payload)
    state, step, attempt = invocation.state, invocation.step, invocation.attempt
    logger.append_keys(execution_id=state.execution_id, user_id=state.user_id, step=step.value)
    if tracking.step_started(state.execution_id, step, attempt):
        realtime_publish.step(state.execution_id, step, state.session_id)
    try:
        new_state = work(state)
    except Exception as exc:
        if tracking.step_failed(state.execution_id, step, attempt, type(exc).__name__, str(exc)):
            realtime_publish.step(state.execution_id, step, state.session_id)
        logger.warning("step failed", extra={"error": type(exc).__name__, "attempt": attempt})
        raise
    if tracking.step_succeeded(state.execution_id, step, attempt):
        realtime_publish.step(state.execution_id, step, state.session_id)
    # The next agent state sends its task to $.route.queue_url: the session's owner, if any.
    new_state = routing.with_route(new_state)
    return new_state.model_dump(mode="json", exclude_none=True)


def _activity(
    state: PipelineState, type_: ActivityType, message: str, step: Step | None = None
) -> None:
    """Record an activity line, and show it to whoever follows the build live."""
    at = utc_now_iso()
    tracking.add_activity(state.execution_id, type_, message, step, at=at)
    realtime_publish.activity(
        state.execution_id, type_, message, step, at=at, session_id=state.session_id
    )


def create_user(state: PipelineState) -> PipelineState:
    """The user exists and has their own cloud identity, which the agent will deploy as."""
    users.get(state.user_id)
    role_arn = iam_identity.ensure_identity(state.user_id)
    users.mark_identity_ready(state.user_id)
    return state.model_copy(update={"identity_role_arn": role_arn})


def create_session(state: PipelineState) -> PipelineState:
    site = sessions.activate(state.user_id, state.session_id)
    _activity(state, ActivityType.STATUS, "Session ready", Step.CREATE_SESSION)
    return state.model_copy(update={"site": site})


def gather_requirements(state: PipelineState) -> PipelineState:
    key = requirements_doc.store_requirements(state)
    return state.model_copy(update={"requirements_key": key})


def health_check(state: PipelineState) -> PipelineState:
    if state.deploy is None:
        raise InvalidStepInput("health_check needs the deploy step's result")
    settings = cloud()

    def progress(message: str) -> None:
        _activity(state, ActivityType.STATUS, message, Step.HEALTH_CHECK)

    result = health.check_site(
        state.deploy,
        budget_seconds=settings.health_check_budget_seconds,
        allow_internal=settings.environment == "local",
        progress=progress,
    )
    _activity(state, ActivityType.STATUS, "Site is online", Step.HEALTH_CHECK)
    return state.model_copy(update={"health": result})


def record_success(payload: dict[str, Any]) -> dict[str, Any]:
    state = PipelineState.model_validate(payload["state"])
    url = state.deploy.url if state.deploy else None
    tracking.update_execution(
        state.execution_id,
        status="succeeded",
        ended_at=utc_now_iso(),
        deployed_url=url,
        state=state.model_dump(mode="json", exclude_none=True),
    )
    if url:
        sessions.record_deployed(state.user_id, state.session_id, url)
    _activity(state, ActivityType.DONE, f"Your site is live at {url}")
    realtime_publish.execution_ended(
        state.execution_id, state.session_id, succeeded=True, deployed_url=url
    )
    count("BuildsSucceeded", mode=state.mode)
    return state.model_dump(mode="json", exclude_none=True)


# Step Functions' own errors carry no cause worth showing; say what they mean.
_STATES_ERROR_CAUSES = {
    "States.HeartbeatTimeout": "the agent stopped reporting progress on this step "
    "(no heartbeat in time): its host may have stopped",
    "States.Timeout": "the step did not finish within its time limit, or the agent stopped "
    "reporting progress on it",
    "States.TaskFailed": "the step failed without saying why",
}


def _error_of(caught: dict[str, Any]) -> tuple[str, str]:
    """Error name and a readable cause from a Catch result (Lambda causes are JSON)."""
    error = str(caught.get("Error") or "UnknownError")
    cause = str(caught.get("Cause") or "")
    try:
        parsed = json.loads(cause)
    except ValueError:
        return error, cause
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return error, str(parsed["errorMessage"])
    return error, cause


def record_failure(payload: dict[str, Any]) -> dict[str, Any]:
    raw_state = payload["state"]
    state = PipelineState.model_validate(raw_state)
    failed: dict[str, Any] = raw_state.get("failed") or {}
    step_name, caught = next(iter(failed.items()), (None, {}))
    error, cause = _error_of(caught)
    step = Step(step_name) if step_name in {s.value for s in Step} else None
    existing = tracking.steps_of(state.execution_id).get(step.value, {}) if step else {}
    cause = cause or existing.get("cause", "") or _STATES_ERROR_CAUSES.get(error, "")
    if step is not None:
        attempt = int(existing.get("attempt", 0))
        if tracking.step_failed(state.execution_id, step, attempt, error, cause):
            realtime_publish.step(state.execution_id, step, state.session_id)
    tracking.update_execution(
        state.execution_id,
        status="failed",
        ended_at=utc_now_iso(),
        failed_step=step.value if step else None,
        error=error,
        cause=cause[:2000],
        state=state.model_dump(mode="json", exclude_none=True),
    )
    where = f" at {step.value}" if step else ""
    _activity(state, ActivityType.ERROR, f"Build failed{where}: {cause or error}", step)
    realtime_publish.execution_ended(
        state.execution_id,
        state.session_id,
        succeeded=False,
        failed_step=step.value if step else None,
        error=error,
        cause=cause,
    )
    count("BuildsFailed", step=step.value if step else "unknown")
    logger.error(
        "pipeline failed",
        extra={"execution_id": state.execution_id, "step": step_name, "error": error},
    )
    return {"error": error, "cause": cause}
