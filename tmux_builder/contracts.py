"""Versioned models for every boundary between the control plane, the state machine and the agent.

These are the documentation of the contracts:

- :class:`PipelineState` is the JSON that flows through the Step Functions execution. It carries
  ids and S3 keys, never code or logs (256 KiB limit).
- :class:`AgentTask` is the SQS message the state machine sends to the agent with
  ``sqs:sendMessage.waitForTaskToken``; :class:`AgentCommand` is what the control plane sends
  on the same queue (teardown). :func:`parse_agent_message` tells them apart by ``kind``.
- :class:`AgentEvent` is what the agent reports back to the control plane through the agent
  events queue (step progress, activity lines, created resources).
- :class:`TeardownFollowUp` is what a teardown pass that could only wait queues for the next
  pass, on the teardown queue.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter

from tmux_builder.naming import SESSION_ID_RE, USER_ID_RE
from tmux_builder.pipeline import Step

CONTRACT_VERSION = 1


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Provider(StrEnum):
    AWS = "aws"
    AZURE = "azure"


class SiteType(StrEnum):
    STATIC = "static"
    DYNAMIC = "dynamic"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SiteSpec(_Model):
    """What create_session decided about the site: where it goes and what it is called."""

    provider: Provider
    site_type: SiteType
    slug: str
    resource_name: str


class DeployResult(_Model):
    url: str
    bucket: str | None = None
    distribution_id: str | None = None
    title: str = ""
    files: int = 0


class E2EResult(_Model):
    passed: int
    failed: int
    errors: int = 0
    skipped: int = 0
    report_key: str
    duration_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.errors == 0 and self.passed > 0


class ScreenshotSet(_Model):
    """Where the screenshot step stored its pictures (artifact bucket keys)."""

    desktop: str
    mobile: str | None = None
    thumbnail: str | None = None


class HealthResult(_Model):
    url: str
    status_code: int
    title: str = ""
    attempts: int = 1
    elapsed_seconds: float = 0.0


class TaskRoute(_Model):
    """Where the state machine sends the session's next agent task (``QueueUrl.$``).

    Every Lambda step sets it from the session's lease (:mod:`control_plane.routing`): the
    owning agent host's own queue while the lease is live, else the shared agent queue.
    """

    queue_url: str
    owner: str | None = None


class PipelineState(_Model):
    """The execution's state document. Each step adds its own field; none is ever rewritten."""

    version: int = CONTRACT_VERSION
    execution_id: str
    user_id: str
    session_id: str
    mode: Literal["build", "redeploy"] = "build"
    # Where a redeploy starts (the state machine's first Choice reads it).
    from_step: Literal["generate_code", "deploy"] | None = None
    source_execution_id: str | None = None
    site: SiteSpec | None = None
    # The user's own cloud identity (tmux-user-{prefix}); the agent deploys as it.
    identity_role_arn: str | None = None
    requirements_key: str | None = None
    plan_key: str | None = None
    snapshot_key: str | None = None
    deploy: DeployResult | None = None
    health: HealthResult | None = None
    screenshots: ScreenshotSet | None = None
    e2e: E2EResult | None = None
    # Set by every Lambda step (and a redeploy's start); read by the agent states' QueueUrl.
    route: TaskRoute | None = None


class AgentTask(_Model):
    """One step handed to the agent. Handling is idempotent on (execution_id, step, attempt)."""

    version: int = CONTRACT_VERSION
    # The state machine's messages carry no kind: a message without one is a task.
    kind: Literal["task"] = "task"
    task_token: str
    step: Step
    attempt: int = 0
    state: PipelineState

    @property
    def execution_id(self) -> str:
        return self.state.execution_id

    @property
    def user_id(self) -> str:
        return self.state.user_id

    @property
    def session_id(self) -> str:
        return self.state.session_id

    @property
    def task_id(self) -> str:
        """Names the prompt file and correlates the engine's signals with this task."""
        return f"{self.step.value}-{self.state.execution_id}-a{self.attempt}"


class AgentCommand(_Model):
    """An order to the agent host outside any pipeline step, sent by the control plane.

    ``teardown_user``: the user is gone; kill their tmux session, remove their session folder
    and CLI home, forget their credentials. Handling is idempotent.
    """

    version: int = CONTRACT_VERSION
    kind: Literal["teardown_user"] = "teardown_user"
    user_id: Annotated[str, Field(pattern=USER_ID_RE.pattern)]


class TeardownFollowUp(_Model):
    """One more teardown pass, queued (with a delay) on the teardown queue by the pass before.

    A pass whose only failures are waits (a CloudFront distribution still being disabled, a
    security group whose instance is still shutting down) queues it; the teardown queue's
    handler runs teardown again for what is left (:mod:`control_plane.teardown_followup`).
    ``session_id`` set: one site; unset: the whole user. ``attempt`` is the number of the
    pass this message asks for (the first, synchronous pass is 1), so the chain is bounded.
    """

    version: int = CONTRACT_VERSION
    kind: Literal["teardown_followup"] = "teardown_followup"
    user_id: Annotated[str, Field(pattern=USER_ID_RE.pattern)]
    session_id: Annotated[str, Field(pattern=SESSION_ID_RE.pattern)] | None = None
    attempt: Annotated[int, Field(ge=1)] = 1


def _message_kind(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("kind") or "task")
    return str(getattr(value, "kind", "task"))


AgentMessage = Annotated[
    Annotated[AgentTask, Tag("task")] | Annotated[AgentCommand, Tag("teardown_user")],
    Discriminator(_message_kind),
]


@lru_cache(maxsize=1)
def _agent_message_adapter() -> TypeAdapter[AgentTask | AgentCommand]:
    return TypeAdapter(AgentMessage)


def parse_agent_message(body: str | bytes) -> AgentTask | AgentCommand:
    """A body of the agent queue: a task (no ``kind``, or ``"task"``) or a command.

    Raises :class:`pydantic.ValidationError` for anything else.
    """
    return _agent_message_adapter().validate_json(body)


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # Not part of this execution: a redeploy starts at generate_code or deploy.
    SKIPPED = "skipped"


class EventKind(StrEnum):
    STEP_STARTED = "step_started"
    STEP_SUCCEEDED = "step_succeeded"
    STEP_FAILED = "step_failed"
    ACTIVITY = "activity"
    RESOURCE_CREATED = "resource_created"
    CHAT_ANSWERED = "chat_answered"


class ActivityType(StrEnum):
    """The notify verbs (the seed's, plus what the hooks report)."""

    ACK = "ack"
    STATUS = "status"
    PROGRESS = "progress"
    SUMMARY = "summary"
    DONE = "done"
    ERROR = "error"
    DEPLOYED = "deployed"


class _EventBase(_Model):
    version: int = CONTRACT_VERSION
    execution_id: str
    user_id: str
    at: str = Field(default_factory=utc_now_iso)


class StepStarted(_EventBase):
    kind: Literal[EventKind.STEP_STARTED] = EventKind.STEP_STARTED
    step: Step
    attempt: int = 0


class StepSucceeded(_EventBase):
    kind: Literal[EventKind.STEP_SUCCEEDED] = EventKind.STEP_SUCCEEDED
    step: Step
    attempt: int = 0
    output: dict[str, Any] = Field(default_factory=dict)


class StepFailed(_EventBase):
    kind: Literal[EventKind.STEP_FAILED] = EventKind.STEP_FAILED
    step: Step
    attempt: int = 0
    error: str
    cause: str = ""


class Activity(_EventBase):
    kind: Literal[EventKind.ACTIVITY] = EventKind.ACTIVITY
    step: Step | None = None
    type: ActivityType
    message: str = ""


class ResourceCreated(_EventBase):
    kind: Literal[EventKind.RESOURCE_CREATED] = EventKind.RESOURCE_CREATED
    session_id: str
    resource_type: str
    resource_id: str
    metadata: dict[str, str] = Field(default_factory=dict)


class ChatMessage(_Model):
    """A person's chat message on the chat queue (FIFO, message group = session)."""

    version: int = CONTRACT_VERSION
    kind: Literal["chat"] = "chat"
    message_id: str
    user_id: str
    session_id: str
    execution_id: str | None = None
    text: str
    at: str = Field(default_factory=utc_now_iso)


class ChatAnswered(_EventBase):
    """The AI's answer to one chat message (its turn's final message), or why there is none."""

    kind: Literal[EventKind.CHAT_ANSWERED] = EventKind.CHAT_ANSWERED
    execution_id: str | None = None  # type: ignore[assignment]  # chat outlives builds
    session_id: str
    message_id: str
    answer: str = ""
    error: str | None = None


AgentEvent = Annotated[
    StepStarted | StepSucceeded | StepFailed | Activity | ResourceCreated | ChatAnswered,
    Field(discriminator="kind"),
]


class AgentEventEnvelope(BaseModel):
    """The SQS body on the agent events queue."""

    model_config = ConfigDict(extra="ignore")
    event: AgentEvent
