"""Fan-out: what the control plane records reaches the WebSocket connections following it,
through the management API (``post_to_connection``) of the local gateway, a real stand-in for
API Gateway's; connections that are gone are dropped; a failed post never fails a recording."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice import Chalice
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from control_plane import agent_events, chat, realtime, realtime_fanout, realtime_publish, store
from control_plane.app import websocket_handler
from tmux_builder import keys, settings
from tmux_builder.contracts import (
    Activity,
    ActivityType,
    AgentEventEnvelope,
    ChatAnswered,
    StepStarted,
    StepSucceeded,
)
from tmux_builder.local.gateway import LocalApiServer
from tmux_builder.pipeline import Step
from tmux_builder.realtime_events import (
    ActivityEvent,
    ChatEvent,
    DeployedEvent,
    StepEvent,
    parse_server_frame,
)

from .test_realtime import Build, connect, make_build, send


@pytest.fixture(scope="module")
def gateway(stack: Any) -> Iterator[LocalApiServer]:
    server = LocalApiServer(Chalice(app_name="unused"), None)
    server.serve_websocket(websocket_handler)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def live(gateway: LocalApiServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Live updates on, posting to the local gateway."""
    monkeypatch.setenv("TMUX_BUILDER_WEBSOCKET_URL", gateway.websocket_url)
    settings.reload()
    realtime_fanout.reset()
    try:
        yield gateway.websocket_url
    finally:
        monkeypatch.undo()
        settings.reload()
        realtime_fanout.reset()


def open_socket(url: str, token: str) -> ClientConnection:
    return ws_connect(f"{url}?token={token}", open_timeout=5)


def subscribe(socket: ClientConnection, **topic: str) -> None:
    socket.send(json.dumps({"action": "subscribe", **topic}))
    answer = parse_server_frame(socket.recv(timeout=5))
    assert answer.type == "subscribed", answer


def apply(event: Any) -> None:
    agent_events.apply(AgentEventEnvelope(event=event).model_dump_json())


def test_an_agent_activity_reaches_the_follower_and_a_gone_connection_is_dropped(
    live: str,
) -> None:
    build: Build = make_build()
    # A connection API Gateway forgot without a $disconnect: recorded, subscribed, no socket.
    gone_id, _ = connect(build.token)
    send(gone_id, {"action": "subscribe", "execution_id": build.execution_id})
    with open_socket(live, build.token) as socket:
        subscribe(socket, execution_id=build.execution_id)
        assert len(realtime.subscribers(build.execution_id, None)) == 2

        apply(
            Activity(
                execution_id=build.execution_id,
                user_id=build.user_id,
                type=ActivityType.PROGRESS,
                message="50",
                step=Step.GENERATE_CODE,
            )
        )

        frame = parse_server_frame(socket.recv(timeout=5))
        assert isinstance(frame, ActivityEvent)
        assert (frame.v, frame.execution_id, frame.session_id) == (
            1,
            build.execution_id,
            build.session_id,
        )
        assert (frame.activity_type, frame.message, frame.step) == (
            ActivityType.PROGRESS,
            "50",
            Step.GENERATE_CODE,
        )
    # The post to the gone connection answered 410: its records went with it.
    assert list(store.query(keys.ws_connection_partition(gone_id))) == []
    assert gone_id not in realtime.subscribers(build.execution_id, build.session_id)


def test_step_and_deployed_events_follow_what_the_table_recorded(live: str) -> None:
    build = make_build()
    with open_socket(live, build.token) as socket:
        subscribe(socket, session_id=build.session_id)
        apply(
            StepStarted(
                execution_id=build.execution_id, user_id=build.user_id, step=Step.DEPLOY, attempt=1
            )
        )
        started = parse_server_frame(socket.recv(timeout=5))
        url = "http://127.0.0.1:9/site/"
        apply(
            StepSucceeded(
                execution_id=build.execution_id,
                user_id=build.user_id,
                step=Step.DEPLOY,
                attempt=1,
                output={"url": url},
            )
        )
        succeeded = parse_server_frame(socket.recv(timeout=5))
        deployed = parse_server_frame(socket.recv(timeout=5))
        # A repeated delivery changes nothing in the table, so nothing is sent again.
        apply(
            StepStarted(
                execution_id=build.execution_id, user_id=build.user_id, step=Step.DEPLOY, attempt=1
            )
        )
        with pytest.raises(TimeoutError):
            socket.recv(timeout=0.5)
    assert isinstance(started, StepEvent) and isinstance(succeeded, StepEvent)
    assert (started.step, started.status, started.attempt) == (Step.DEPLOY, "running", 1)
    assert started.ended_at is None and started.started_at
    assert (succeeded.status, succeeded.ended_at is not None) == ("succeeded", True)
    assert deployed == DeployedEvent(
        at=deployed.at, execution_id=build.execution_id, session_id=build.session_id, url=url
    )


def test_a_chat_answer_is_the_turn_the_history_shows(live: str, client: Any) -> None:
    build = make_build()
    message_id = chat.new_message_id()
    store.put_new(
        {
            **keys.chat_message(build.session_id, message_id),
            "message_id": message_id,
            "role": "user",
            "text": "make it blue",
            "status": "queued",
            "at": "2026-01-01T00:00:00.000Z",
            "user_id": build.user_id,
            "session_id": build.session_id,
            "execution_id": build.execution_id,
        }
    )
    with open_socket(live, build.token) as socket:
        subscribe(socket, execution_id=build.execution_id)
        apply(
            ChatAnswered(
                execution_id=None,
                user_id=build.user_id,
                session_id=build.session_id,
                message_id=message_id,
                answer="Done: the background is blue.",
            )
        )
        frame = parse_server_frame(socket.recv(timeout=5))
    history = client.http.get(
        f"/api/sessions/{build.session_id}/chat",
        headers={"Authorization": f"Bearer {build.token}"},
    )
    assert isinstance(frame, ChatEvent)
    assert frame.execution_id == build.execution_id  # the build the question was sent during
    assert frame.turn == json.loads(history.body)["messages"][-1]
    assert frame.turn["text"] == "Done: the background is blue."


def test_a_failed_post_never_fails_the_recording(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = make_build()
    connection_id, _ = connect(build.token)
    send(connection_id, {"action": "subscribe", "execution_id": build.execution_id})
    monkeypatch.setenv("TMUX_BUILDER_WEBSOCKET_URL", "ws://127.0.0.1:9/ws")  # nothing listens
    settings.reload()
    realtime_fanout.reset()
    try:
        apply(
            Activity(
                execution_id=build.execution_id,
                user_id=build.user_id,
                type=ActivityType.STATUS,
                message="still recorded",
            )
        )
        from control_plane import tracking

        recorded = [a["message"] for a in tracking.recent_activity(build.execution_id)]
        assert recorded == ["still recorded"]
        # Not gone, just unreachable: the connection is kept.
        assert realtime.subscribers(build.execution_id, None) == [connection_id]
    finally:
        monkeypatch.undo()
        settings.reload()
        realtime_fanout.reset()


def test_publishing_is_off_without_a_websocket_url(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_run(*args: Any) -> list[str]:
        raise AssertionError("looked up subscribers with live updates off")

    monkeypatch.setattr(realtime, "subscribers", must_not_run)
    monkeypatch.setenv("TMUX_BUILDER_WEBSOCKET_URL", "")
    settings.reload()
    try:
        assert not realtime_publish.enabled()
        realtime_publish.activity("x", ActivityType.STATUS, "nothing to send")
    finally:
        monkeypatch.undo()
        settings.reload()
