"""Executions, their steps, activity and created resources, as recorded in the table.

Events arrive at least once and, from the agent, possibly out of order. Step records therefore
only move forward: a record changes only for a newer attempt, or for the same attempt to a
later status (pending < running < succeeded/failed). Stale or repeated events are dropped.
"""

from __future__ import annotations

import secrets
from typing import Any

from control_plane import store
from tmux_builder import keys
from tmux_builder.contracts import ActivityType, StepStatus, utc_now_iso
from tmux_builder.pipeline import Step, step_number

_RANK = {
    StepStatus.PENDING: 0,
    StepStatus.RUNNING: 1,
    StepStatus.SUCCEEDED: 2,
    StepStatus.FAILED: 2,
}
_FORWARD_ONLY = (
    "attribute_not_exists(#pk) OR #attempt < :attempt OR (#attempt = :attempt AND #rank < :rank)"
)


def create_execution(execution_id: str, user_id: str, session_id: str, mode: str) -> None:
    now = utc_now_iso()
    store.put_new(
        {
            **keys.execution(execution_id),
            **keys.user_executions_index(user_id, now),
            "execution_id": execution_id,
            "user_id": user_id,
            "session_id": session_id,
            "mode": mode,
            "status": "running",
            "started_at": now,
        }
    )


def get_execution(execution_id: str) -> dict[str, Any] | None:
    return store.get(keys.execution(execution_id))


def update_execution(execution_id: str, **fields: Any) -> None:
    store.update(
        keys.execution(execution_id),
        fields,
        condition="attribute_exists(#pk)",
        names={"#pk": keys.PK},
    )


def _move_step(
    execution_id: str,
    step: Step,
    attempt: int,
    status: StepStatus,
    fields: dict[str, Any],
    if_missing: dict[str, Any],
) -> bool:
    try:
        store.update(
            keys.step(execution_id, step),
            {
                "execution_id": execution_id,
                "step": step.value,
                "number": step_number(step),
                "status": status.value,
                "status_rank": _RANK[status],
                "attempt": attempt,
                "attempts": attempt + 1,
                **fields,
            },
            if_missing=if_missing,
            condition=_FORWARD_ONLY,
            names={"#pk": keys.PK, "#attempt": "attempt", "#rank": "status_rank"},
            values={":attempt": attempt, ":rank": _RANK[status]},
        )
    except store.ConditionFailed:
        return False
    return True


def step_started(execution_id: str, step: Step, attempt: int, at: str | None = None) -> bool:
    at = at or utc_now_iso()
    return _move_step(
        execution_id,
        step,
        attempt,
        StepStatus.RUNNING,
        {"attempt_started_at": at, "ended_at": None},
        {"started_at": at},
    )


def step_succeeded(
    execution_id: str,
    step: Step,
    attempt: int,
    output: dict[str, Any] | None = None,
    at: str | None = None,
) -> bool:
    at = at or utc_now_iso()
    return _move_step(
        execution_id,
        step,
        attempt,
        StepStatus.SUCCEEDED,
        {"ended_at": at, "output": output or None},
        {"started_at": at},
    )


def step_failed(
    execution_id: str, step: Step, attempt: int, error: str, cause: str = "", at: str | None = None
) -> bool:
    at = at or utc_now_iso()
    return _move_step(
        execution_id,
        step,
        attempt,
        StepStatus.FAILED,
        {"ended_at": at, "error": error, "cause": cause[:2000]},
        {"started_at": at},
    )


def steps_of(execution_id: str) -> dict[str, dict[str, Any]]:
    """The recorded steps by name.

    An item without its attributes is skipped: moto (the embedded stack) applies an UpdateItem
    to the stored item in place, so a concurrent query can see a new step item holding only its
    key for a moment. DynamoDB itself never shows a half-applied update.
    """
    items = store.query(keys.execution_partition(execution_id), sk_prefix=keys.STEP_PREFIX)
    return {item["step"]: item for item in items if "step" in item and "status" in item}


def add_activity(
    execution_id: str,
    type_: ActivityType,
    message: str,
    step: Step | None = None,
    at: str | None = None,
) -> None:
    at = at or utc_now_iso()
    store.put(
        {
            **keys.event(execution_id, at, secrets.token_hex(4)),
            "at": at,
            "type": type_.value,
            "step": step.value if step else None,
            "message": message[:2000],
        }
    )


def recent_activity(execution_id: str, limit: int = 50) -> list[dict[str, Any]]:
    return list(
        store.query(
            keys.execution_partition(execution_id),
            sk_prefix=keys.EVENT_PREFIX,
            newest_first=True,
            limit=limit,
        )
    )


def record_resource(
    user_id: str,
    session_id: str,
    resource_type: str,
    resource_id: str,
    metadata: dict[str, str] | None = None,
) -> None:
    """Remember a cloud resource so teardown can remove it; repeated reports are harmless."""
    store.update(
        keys.resource(user_id, resource_type, resource_id),
        {
            "user_id": user_id,
            "session_id": session_id,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "metadata": metadata or None,
            "status": "active",
        },
        if_missing={"created_at": utc_now_iso()},
    )


def resources_of(user_id: str) -> list[dict[str, Any]]:
    pk, prefix = keys.resources_of(user_id)
    return list(store.query(pk, sk_prefix=prefix))
