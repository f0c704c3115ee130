"""The WebSocket protocol: every frame the portal sends and receives, as versioned models.

These models are the documentation of the wire format (``docs/realtime.md`` explains it for
people). The control plane builds server frames from them (:mod:`control_plane.realtime` and
:mod:`control_plane.realtime_publish`); tests and the benchmark parse what arrives with
:func:`parse_server_frame`.

Client -> server (JSON text frames): ``subscribe`` / ``unsubscribe`` naming exactly one of
``execution_id`` or ``session_id``, and ``ping``.

Server -> client: answers (``subscribed``, ``unsubscribed``, ``pong``, ``error``) and events
(``step``, ``activity``, ``chat``, ``deployed``, ``screenshot``, ``execution``). Every server
frame carries ``"v": 1``; events also carry ``at`` (ISO time), ``session_id`` and, when there
is one, ``execution_id``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from tmux_builder.contracts import ActivityType, StepStatus, utc_now_iso
from tmux_builder.naming import EXECUTION_ID_RE, SESSION_ID_RE
from tmux_builder.pipeline import Step

PROTOCOL_VERSION = 1
# API Gateway refuses larger frames (32 KB); our biggest event, a chat answer, stays below.
MAX_FRAME_BYTES = 32 * 1024


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    v: Literal[1] = 1  # PROTOCOL_VERSION

    def to_json(self) -> str:
        """The frame as sent: JSON, optional fields that are unset left out."""
        return self.model_dump_json(exclude_none=True)


# ------------------------------------------------------------------ client -> server


class _ClientFrame(BaseModel):
    # Unknown keys are ignored: a newer portal may send more than this version reads.
    model_config = ConfigDict(extra="ignore", frozen=True)


class TopicFrame(_ClientFrame):
    """``subscribe`` / ``unsubscribe`` one build (``execution_id``) or site (``session_id``)."""

    action: Literal["subscribe", "unsubscribe"]
    execution_id: Annotated[str, Field(pattern=EXECUTION_ID_RE.pattern)] | None = None
    session_id: Annotated[str, Field(pattern=SESSION_ID_RE.pattern)] | None = None

    @model_validator(mode="after")
    def _exactly_one_topic(self) -> TopicFrame:
        if (self.execution_id is None) == (self.session_id is None):
            raise ValueError("name exactly one of execution_id or session_id")
        return self


class PingFrame(_ClientFrame):
    action: Literal["ping"]


ClientFrame = Annotated[TopicFrame | PingFrame, Field(discriminator="action")]


@lru_cache(maxsize=1)
def _client_frame_adapter() -> TypeAdapter[TopicFrame | PingFrame]:
    return TypeAdapter(ClientFrame)


def parse_client_frame(body: str | bytes) -> TopicFrame | PingFrame:
    """A frame from a browser; :class:`pydantic.ValidationError` if it is not one."""
    return _client_frame_adapter().validate_json(body)


# ------------------------------------------------------------------ answers


class SubscribedFrame(_Frame):
    type: Literal["subscribed"] = "subscribed"
    execution_id: str | None = None
    session_id: str | None = None


class UnsubscribedFrame(_Frame):
    type: Literal["unsubscribed"] = "unsubscribed"
    execution_id: str | None = None
    session_id: str | None = None


class PongFrame(_Frame):
    type: Literal["pong"] = "pong"


class ErrorFrame(_Frame):
    """A frame was refused: malformed (``field`` names what is wrong) or not the caller's."""

    type: Literal["error"] = "error"
    message: str
    field: str | None = None


# ------------------------------------------------------------------ events


class _Event(_Frame):
    at: str = Field(default_factory=utc_now_iso)
    execution_id: str | None = None
    session_id: str


class StepEvent(_Event):
    """A pipeline step moved (started, retried, succeeded, failed), as the table recorded it."""

    type: Literal["step"] = "step"
    step: Step
    status: StepStatus
    attempt: int = 0
    started_at: str | None = None
    ended_at: str | None = None
    # On failure: the error's name (Step Functions' error) and its readable cause.
    error: str | None = None
    cause: str | None = None


class ActivityEvent(_Event):
    """An activity line: what the AI or a step reported (raw text as recorded)."""

    type: Literal["activity"] = "activity"
    activity_type: ActivityType
    message: str = ""
    step: Step | None = None


class ChatEvent(_Event):
    """A stored chat turn: the same JSON the chat history route returns for one turn."""

    type: Literal["chat"] = "chat"
    turn: dict[str, Any]


class DeployedEvent(_Event):
    type: Literal["deployed"] = "deployed"
    url: str


class ScreenshotLinks(BaseModel):
    """Short-lived links, as the status route's ``screenshots``."""

    model_config = ConfigDict(frozen=True)

    desktop_url: str
    mobile_url: str | None = None
    thumbnail_url: str | None = None


class ScreenshotEvent(_Event):
    """The screenshot step stored its pictures: artifact keys by viewport, and links."""

    type: Literal["screenshot"] = "screenshot"
    keys: dict[str, str]
    screenshots: ScreenshotLinks | None = None


class ExecutionEvent(_Event):
    """The build ended (the pipeline's success or failure path recorded it)."""

    type: Literal["execution"] = "execution"
    status: Literal["succeeded", "failed"]
    deployed_url: str | None = None
    failed_step: str | None = None
    error: str | None = None
    cause: str | None = None


RealtimeEvent = (
    StepEvent | ActivityEvent | ChatEvent | DeployedEvent | ScreenshotEvent | ExecutionEvent
)

ServerFrame = Annotated[
    SubscribedFrame
    | UnsubscribedFrame
    | PongFrame
    | ErrorFrame
    | StepEvent
    | ActivityEvent
    | ChatEvent
    | DeployedEvent
    | ScreenshotEvent
    | ExecutionEvent,
    Field(discriminator="type"),
]


@lru_cache(maxsize=1)
def _server_frame_adapter() -> TypeAdapter[Any]:
    return TypeAdapter(ServerFrame)


def parse_server_frame(body: str | bytes) -> Any:
    """A frame the server sent (any of :data:`ServerFrame`); ValidationError otherwise."""
    return _server_frame_adapter().validate_json(body)
