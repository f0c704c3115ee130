"""Reporting to the control plane: step progress, activity lines and created resources.

The agent does not write these records itself (it only keeps its ``TASK#`` claims); it sends
versioned :class:`AgentEvent` messages to the agent events queue, which the control plane
applies. A progress report that cannot be sent is logged and dropped: progress reporting must
never fail the build itself. A created resource is different: teardown removes only what is
recorded, so a resource report that cannot be sent fails the deploy
(:class:`ResourceNotRecorded`, a ``DeployError`` the state machine retries; the deploy is
idempotent and reports the resource again).
"""

from __future__ import annotations

import logging
from typing import Any

from agent.errors import DeployError
from tmux_builder import aws
from tmux_builder.contracts import (
    Activity,
    ActivityType,
    AgentEventEnvelope,
    AgentTask,
    ResourceCreated,
    StepFailed,
    StepStarted,
    StepSucceeded,
)
from tmux_builder.pipeline import Step

log = logging.getLogger(__name__)


class ResourceNotRecorded(DeployError):
    """A created resource could not be reported; without its record teardown would miss it."""


class EventPublisher:
    def __init__(self, queue_url: str) -> None:
        self._queue_url = queue_url

    def _send(self, event: Any, *, required: bool = False) -> None:
        body = AgentEventEnvelope(event=event).model_dump_json()
        try:
            aws.client("sqs").send_message(QueueUrl=self._queue_url, MessageBody=body)
        except Exception as exc:  # progress reporting must not break the step
            if required:
                raise ResourceNotRecorded(
                    f"could not record {event.kind} {getattr(event, 'resource_id', '')} "
                    f"for teardown: {type(exc).__name__}"
                ) from exc
            log.exception("could not report %s for %s", event.kind, event.execution_id)

    def step_started(self, task: AgentTask) -> None:
        self._send(
            StepStarted(
                execution_id=task.execution_id,
                user_id=task.user_id,
                step=task.step,
                attempt=task.attempt,
            )
        )

    def step_succeeded(self, task: AgentTask, output: dict[str, Any]) -> None:
        self._send(
            StepSucceeded(
                execution_id=task.execution_id,
                user_id=task.user_id,
                step=task.step,
                attempt=task.attempt,
                output=output,
            )
        )

    def step_failed(self, task: AgentTask, error: str, cause: str) -> None:
        self._send(
            StepFailed(
                execution_id=task.execution_id,
                user_id=task.user_id,
                step=task.step,
                attempt=task.attempt,
                error=error,
                cause=cause[:2000],
            )
        )

    def activity(
        self, execution_id: str, user_id: str, type_: ActivityType, message: str, step: Step | None
    ) -> None:
        self._send(
            Activity(
                execution_id=execution_id, user_id=user_id, type=type_, message=message, step=step
            )
        )

    def resource_created(
        self, task: AgentTask, resource_type: str, resource_id: str, metadata: dict[str, str]
    ) -> None:
        self._send(
            ResourceCreated(
                execution_id=task.execution_id,
                user_id=task.user_id,
                session_id=task.session_id,
                resource_type=resource_type,
                resource_id=resource_id,
                metadata=metadata,
            ),
            required=True,
        )
