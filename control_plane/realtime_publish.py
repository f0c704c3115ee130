"""Telling connected browsers what was just recorded.

Called right after a change is written to the table (agent events, the Lambda steps, chat
answers): build the versioned event (:mod:`tmux_builder.realtime_events`), find the
connections following the build or the site, post it to each.

A live update is a courtesy on top of the record: every function here logs and returns on any
error, so publishing never fails the recording (nor the step, nor the SQS batch). Without a
WebSocket API configured (``TMUX_BUILDER_WEBSOCKET_URL`` empty) they do nothing at all.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec

from control_plane import realtime, realtime_fanout, store, tracking
from control_plane.observability import logger
from tmux_builder import aws, keys
from tmux_builder.contracts import ActivityType, StepStatus
from tmux_builder.pipeline import Step
from tmux_builder.realtime_events import (
    ActivityEvent,
    ChatEvent,
    DeployedEvent,
    ExecutionEvent,
    RealtimeEvent,
    ScreenshotEvent,
    ScreenshotLinks,
    StepEvent,
)
from tmux_builder.settings import cloud

if TYPE_CHECKING:
    from control_plane.chat import ChatTurn

P = ParamSpec("P")
_SESSIONS_KEPT = 2048
_session_lock = threading.Lock()
# execution id -> session id: fixed for an execution's life, so a publisher asks once.
_session_of_execution: OrderedDict[str, str] = OrderedDict()


def enabled() -> bool:
    return bool(cloud().websocket_url)


def _best_effort(function: Callable[P, None]) -> Callable[P, None]:
    """Skip when live updates are off; log and swallow any failure (see the module docstring)."""

    @functools.wraps(function)
    def publish_safely(*args: P.args, **kwargs: P.kwargs) -> None:
        if not enabled():
            return
        try:
            function(*args, **kwargs)
        except Exception:
            logger.exception("live update not sent", extra={"publisher": function.__name__})

    return publish_safely


def publish(event: RealtimeEvent) -> realtime_fanout.FanOutResult:
    """Post ``event`` to every connection following its build or its site."""
    connections = realtime.subscribers(event.execution_id, event.session_id)
    return realtime_fanout.send_all(connections, event.to_json())


def _session_id(execution_id: str) -> str | None:
    with _session_lock:
        found = _session_of_execution.get(execution_id)
    if found is not None:
        return found
    record = tracking.get_execution(execution_id)
    if record is None:
        return None
    session_id = str(record["session_id"])
    with _session_lock:
        _session_of_execution[execution_id] = session_id
        while len(_session_of_execution) > _SESSIONS_KEPT:
            _session_of_execution.popitem(last=False)
    return session_id


# --------------------------------------------------------------------------- publishers


@_best_effort
def step(execution_id: str, step_name: Step, session_id: str | None = None) -> None:
    """The step as now recorded (read back, so the event says what the status route says)."""
    session_id = session_id or _session_id(execution_id)
    item = store.get(keys.step(execution_id, step_name))
    if session_id is None or item is None or "status" not in item:
        return
    status = StepStatus(item["status"])
    failed = status is StepStatus.FAILED
    publish(
        StepEvent(
            execution_id=execution_id,
            session_id=session_id,
            step=step_name,
            status=status,
            attempt=int(item.get("attempt", 0)),
            started_at=item.get("attempt_started_at") or item.get("started_at"),
            ended_at=item.get("ended_at") if status is not StepStatus.RUNNING else None,
            error=item.get("error") if failed else None,
            cause=item.get("cause") if failed else None,
        )
    )


@_best_effort
def activity(
    execution_id: str,
    type_: ActivityType,
    message: str,
    step_name: Step | None = None,
    *,
    at: str | None = None,
    session_id: str | None = None,
) -> None:
    session_id = session_id or _session_id(execution_id)
    if session_id is None:
        return
    event = ActivityEvent(
        execution_id=execution_id,
        session_id=session_id,
        activity_type=type_,
        message=message[:2000],
        step=step_name,
    )
    publish(event.model_copy(update={"at": at}) if at else event)


@_best_effort
def step_outcome(execution_id: str, step_name: Step, output: dict[str, Any]) -> None:
    """What a person waits for: the live URL after deploy, the pictures after screenshot."""
    session_id = _session_id(execution_id)
    if session_id is None:
        return
    if step_name is Step.DEPLOY and output.get("url"):
        publish(DeployedEvent(execution_id=execution_id, session_id=session_id, url=output["url"]))
    elif step_name is Step.SCREENSHOT and output.get("desktop"):
        stored = {k: str(output[k]) for k in ("desktop", "mobile", "thumbnail") if output.get(k)}
        links = {f"{viewport}_url": _presigned(key) for viewport, key in stored.items()}
        publish(
            ScreenshotEvent(
                execution_id=execution_id,
                session_id=session_id,
                keys=stored,
                screenshots=ScreenshotLinks.model_validate(links),
            )
        )


def _presigned(key: str) -> str:
    return str(
        aws.client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": cloud().artifacts_bucket, "Key": key}, ExpiresIn=3600
        )
    )


@_best_effort
def execution_ended(
    execution_id: str,
    session_id: str,
    *,
    succeeded: bool,
    deployed_url: str | None = None,
    failed_step: str | None = None,
    error: str | None = None,
    cause: str | None = None,
) -> None:
    publish(
        ExecutionEvent(
            execution_id=execution_id,
            session_id=session_id,
            status="succeeded" if succeeded else "failed",
            deployed_url=deployed_url,
            failed_step=failed_step,
            error=error,
            cause=cause[:2000] if cause else None,
        )
    )


@_best_effort
def chat_turn(user_id: str, session_id: str, turn: ChatTurn) -> None:
    """A :func:`control_plane.chat.on_turn_recorded` listener: the stored turn, as history shows it.

    The event names the build the question was sent during (so a page following that build
    gets it too); a page following the site gets every turn.
    """
    question_id = turn.in_reply_to or turn.message_id
    question = store.get(keys.chat_message(session_id, question_id)) or {}
    publish(
        ChatEvent(
            execution_id=question.get("execution_id"),
            session_id=session_id,
            turn=turn.model_dump(mode="json"),
        )
    )
