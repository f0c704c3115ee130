"""Redeploy: a new execution of the same state machine that starts at ``generate_code`` or
``deploy`` and reuses the site's names, so the bucket, the distribution and the URL stay.

The new execution is built from the source execution's final state (recorded by the success
and failure paths). Only one execution of a session runs at a time.
"""

from __future__ import annotations

from typing import Any, Literal

from control_plane import routing, sessions, store, tracking
from control_plane.auth import Principal, require_access
from control_plane.builds import start_state_machine
from control_plane.errors import Conflict, NotFound
from tmux_builder import keys, naming
from tmux_builder.contracts import PipelineState

FromStep = Literal["generate_code", "deploy"]


def _session_executions(user_id: str, session_id: str) -> list[dict[str, Any]]:
    pk, prefix = keys.executions_of(user_id)
    return [
        item
        for item in store.query(pk, sk_prefix=prefix, index=keys.GSI1)
        if item.get("session_id") == session_id
    ]


def start_redeploy(execution_id: str, principal: Principal, from_step: FromStep) -> str:
    if not naming.EXECUTION_ID_RE.match(execution_id):
        raise NotFound(f"no build with id {execution_id!r}")
    record = tracking.get_execution(execution_id)
    if record is None:
        raise NotFound(f"no build with id {execution_id!r}")
    require_access(principal, record["user_id"])
    user_id, session_id = record["user_id"], record["session_id"]

    source = PipelineState.model_validate(
        record.get("state") or record | {"execution_id": execution_id}
    )
    if source.site is None or source.requirements_key is None:
        raise Conflict("this build never got as far as naming its site; start a new build instead")
    if from_step == "deploy" and source.snapshot_key is None:
        raise Conflict("this build has no generated code to deploy; redeploy from generate_code")
    if from_step == "generate_code" and source.plan_key is None:
        raise Conflict("this build has no plan yet; start a new build instead")

    executions = _session_executions(user_id, session_id)
    running = [e["execution_id"] for e in executions if e.get("status") == "running"]
    if running:
        raise Conflict(f"build {running[0]} of this site is still running; wait for it to end")
    new_id = naming.execution_id(user_id, session_id, redeploy=len(executions))
    state = PipelineState(
        execution_id=new_id,
        user_id=user_id,
        session_id=session_id,
        mode="redeploy",
        from_step=from_step,
        source_execution_id=execution_id,
        site=source.site,
        requirements_key=source.requirements_key,
        plan_key=source.plan_key,
        snapshot_key=source.snapshot_key,
        identity_role_arn=source.identity_role_arn,
        route=routing.task_route(session_id),
    )
    try:
        tracking.create_execution(new_id, user_id, session_id, mode="redeploy")
    except store.ConditionFailed as exc:  # another redeploy took this number first
        raise Conflict("a redeploy of this site is already being started") from exc
    tracking.update_execution(new_id, from_step=from_step, source_execution_id=execution_id)
    sessions.record_execution(user_id, session_id, new_id)
    start_state_machine(new_id, state)
    return new_id
