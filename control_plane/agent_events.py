"""Applying what the agent reports (steps, activity lines, created resources) to the table.

The agent has no access to these records (least privilege; it only keeps its own ``TASK#``
claims): it sends :class:`AgentEvent` messages to the
agent events queue and this handler records them. Delivery is at least once and unordered, so
every write here is idempotent or forward-only (see :mod:`control_plane.tracking`).
"""

from __future__ import annotations

from typing import Any

from control_plane import chat, realtime_publish, tracking
from tmux_builder.contracts import (
    Activity,
    AgentEventEnvelope,
    ChatAnswered,
    ResourceCreated,
    StepFailed,
    StepStarted,
    StepSucceeded,
)
from tmux_builder.pipeline import Step

# Stored answers also go to the browsers following the session (WebSocket push).
chat.on_turn_recorded(realtime_publish.chat_turn)


def apply(body: str) -> None:
    event = AgentEventEnvelope.model_validate_json(body).event
    match event:
        case StepStarted():
            if tracking.step_started(event.execution_id, event.step, event.attempt, at=event.at):
                realtime_publish.step(event.execution_id, event.step)
        case StepSucceeded():
            if tracking.step_succeeded(
                event.execution_id, event.step, event.attempt, output=event.output, at=event.at
            ):
                _record_outcome(event.execution_id, event.step, event.output)
                realtime_publish.step(event.execution_id, event.step)
                realtime_publish.step_outcome(event.execution_id, event.step, event.output)
        case StepFailed():
            if tracking.step_failed(
                event.execution_id, event.step, event.attempt, event.error, event.cause, at=event.at
            ):
                realtime_publish.step(event.execution_id, event.step)
        case Activity():
            tracking.add_activity(
                event.execution_id, event.type, event.message, event.step, at=event.at
            )
            realtime_publish.activity(
                event.execution_id, event.type, event.message, event.step, at=event.at
            )
        case ChatAnswered():
            chat.record_answer(event)
        case ResourceCreated():
            tracking.record_resource(
                event.user_id,
                event.session_id,
                event.resource_type,
                event.resource_id,
                event.metadata,
            )


def _record_outcome(execution_id: str, step: Step, output: dict[str, Any]) -> None:
    """Copy what a person wants to see on the status page onto the execution record."""
    if step is Step.DEPLOY and output.get("url"):
        tracking.update_execution(execution_id, deployed_url=output["url"])
    elif step is Step.SCREENSHOT and output.get("desktop"):
        tracking.update_execution(
            execution_id,
            screenshots={k: output[k] for k in ("desktop", "mobile", "thumbnail") if output.get(k)},
        )
    elif step is Step.E2E_TESTS and "passed" in output:
        tracking.update_execution(
            execution_id,
            e2e={
                **{k: output.get(k, 0) for k in ("passed", "failed", "errors", "skipped")},
                "report_key": output.get("report_key"),
            },
        )
