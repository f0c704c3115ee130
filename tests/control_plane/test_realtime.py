"""The WebSocket API's handlers, called as API Gateway calls them (hand-built events), against
the embedded AWS: who may connect, what a connection may follow, its frames, and cleanup."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from control_plane import app as app_module
from control_plane import auth, realtime, sessions, store, tracking
from tmux_builder import keys, naming
from tmux_builder.contracts import Provider, SiteType
from tmux_builder.local.lambda_runtime import LambdaContext
from tmux_builder.realtime_events import (
    ErrorFrame,
    PongFrame,
    SubscribedFrame,
    UnsubscribedFrame,
    parse_server_frame,
)


@dataclass(frozen=True)
class Build:
    user_id: str
    session_id: str
    execution_id: str
    token: str


def make_build() -> Build:
    """A user with one site and one build, written straight to the table (no pipeline)."""
    user_id = naming.new_user_id()
    session_id = naming.new_session_id()
    execution_id = naming.execution_id(user_id, session_id)
    sessions.create(user_id, session_id, Provider.AWS, SiteType.STATIC, "A tea shop site")
    tracking.create_execution(execution_id, user_id, session_id, "build")
    return Build(user_id, session_id, execution_id, auth.issue_client_token(user_id))


def ws_event(
    route_key: str,
    connection_id: str,
    *,
    body: str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An event as API Gateway's WebSocket API sends it to a Lambda proxy integration."""
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route_key, "MESSAGE")
    event: dict[str, Any] = {
        "requestContext": {
            "routeKey": route_key,
            "eventType": event_type,
            "connectionId": connection_id,
            "messageDirection": "IN",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "stage": "ws",
            "apiId": "abc123",
            "requestId": str(uuid.uuid4()),
            "connectedAt": 1_700_000_000_000,
            "requestTimeEpoch": 1_700_000_000_000,
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "pytest"},
        },
        "isBase64Encoded": False,
    }
    if route_key == "$connect":
        event["queryStringParameters"] = query
        event["headers"] = headers or {"Host": "abc123.execute-api.us-east-1.amazonaws.com"}
    if body is not None:
        event["body"] = body
    return event


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    context = LambdaContext(
        function_name="tmux-builder-websocket",
        function_version="$LATEST",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:tmux-builder-websocket",
        memory_limit_in_mb=512,
        aws_request_id=event["requestContext"]["requestId"],
        log_group_name="/aws/lambda/tmux-builder-websocket",
        log_stream_name="test",
    )
    return app_module.websocket_handler(event, context)


def connect(token: str | None) -> tuple[str, dict[str, Any]]:
    connection_id = f"conn-{uuid.uuid4().hex[:12]}="
    query = {"token": token} if token is not None else None
    return connection_id, invoke(ws_event("$connect", connection_id, query=query))


def send(connection_id: str, frame: dict[str, Any] | str) -> Any:
    body = frame if isinstance(frame, str) else json.dumps(frame)
    answer = invoke(ws_event("$default", connection_id, body=body))
    assert answer["statusCode"] == 200
    return parse_server_frame(answer["body"])


@pytest.fixture
def alice(stack: Any) -> Build:
    return make_build()


@pytest.fixture
def bob(stack: Any) -> Build:
    return make_build()


# ------------------------------------------------------------------------------ $connect


def test_a_client_token_connects_and_is_recorded_as_its_user(alice: Build) -> None:
    connection_id, answer = connect(alice.token)
    assert answer["statusCode"] == 200
    record = store.get(keys.ws_connection(connection_id))
    assert record is not None
    assert (record["role"], record["user_id"]) == ("client", alice.user_id)
    assert record["source_ip"] == "203.0.113.7"
    assert record[keys.EXPIRES_AT] > record["connected_at"] + 2 * 3600


def test_the_admin_token_connects(stack: Any, admin_token: str) -> None:
    connection_id, answer = connect(admin_token)
    assert answer["statusCode"] == 200
    record = store.get(keys.ws_connection(connection_id))
    assert record is not None and record["role"] == "admin"
    assert "user_id" not in record


@pytest.mark.parametrize(
    "token",
    [None, "", "not-a-token", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"],
    ids=["missing", "empty", "garbage", "forged"],
)
def test_a_bad_or_missing_token_is_refused_and_nothing_is_recorded(
    stack: Any, token: str | None
) -> None:
    connection_id, answer = connect(token)
    assert answer["statusCode"] == 401
    assert json.loads(answer["body"])["error"] == "Unauthorized"
    assert list(store.query(keys.ws_connection_partition(connection_id))) == []


def test_an_expired_client_token_is_refused(alice: Build) -> None:
    expired = auth.issue_client_token(alice.user_id, ttl_seconds=-60)
    connection_id, answer = connect(expired)
    assert answer["statusCode"] == 401
    assert "expired" in json.loads(answer["body"])["message"]
    assert store.get(keys.ws_connection(connection_id)) is None


def test_a_client_connection_ends_with_its_token(alice: Build) -> None:
    """The socket may stay open (API Gateway keeps it up to 2 h), but no event reaches it and
    no frame is taken once the link's token has expired."""
    short = auth.issue_client_token(alice.user_id, ttl_seconds=2)
    connection_id, answer = connect(short)
    assert answer["statusCode"] == 200
    record = store.get(keys.ws_connection(connection_id))
    assert record is not None and record[keys.EXPIRES_AT] <= time.time() + 2
    assert send(connection_id, {"action": "subscribe", "execution_id": alice.execution_id}) == (
        SubscribedFrame(execution_id=alice.execution_id)
    )
    assert realtime.subscribers(alice.execution_id, None) == [connection_id]

    time.sleep(3)

    assert realtime.subscribers(alice.execution_id, None) == []
    refused = send(connection_id, {"action": "subscribe", "session_id": alice.session_id})
    assert isinstance(refused, ErrorFrame) and "reconnect" in refused.message


# ------------------------------------------------------------------------------ frames


def test_a_client_subscribes_to_its_own_build_and_site(alice: Build) -> None:
    connection_id, _ = connect(alice.token)
    answer = send(connection_id, {"action": "subscribe", "execution_id": alice.execution_id})
    assert answer == SubscribedFrame(execution_id=alice.execution_id)
    assert answer.to_json() == json.dumps(
        {"v": 1, "type": "subscribed", "execution_id": alice.execution_id}, separators=(",", ":")
    )
    answer = send(connection_id, {"action": "subscribe", "session_id": alice.session_id})
    assert answer == SubscribedFrame(session_id=alice.session_id)
    assert realtime.subscribers(alice.execution_id, None) == [connection_id]
    assert realtime.subscribers(None, alice.session_id) == [connection_id]
    # Both topics name the connection once.
    assert realtime.subscribers(alice.execution_id, alice.session_id) == [connection_id]


def test_a_client_cannot_follow_another_users_build_or_site(alice: Build, bob: Build) -> None:
    connection_id, _ = connect(alice.token)
    answer = send(connection_id, {"action": "subscribe", "execution_id": bob.execution_id})
    assert isinstance(answer, ErrorFrame)
    assert answer.field == "execution_id"
    assert "another user" in answer.message
    answer = send(connection_id, {"action": "subscribe", "session_id": bob.session_id})
    assert isinstance(answer, ErrorFrame) and answer.field == "session_id"
    assert realtime.subscribers(bob.execution_id, bob.session_id) == []


def test_the_admin_may_follow_anything(stack: Any, admin_token: str, bob: Build) -> None:
    connection_id, _ = connect(admin_token)
    answer = send(connection_id, {"action": "subscribe", "session_id": bob.session_id})
    assert answer == SubscribedFrame(session_id=bob.session_id)
    assert realtime.subscribers(None, bob.session_id) == [connection_id]


def test_an_unknown_build_is_not_found(alice: Build) -> None:
    connection_id, _ = connect(alice.token)
    unknown = naming.execution_id(alice.user_id, naming.new_session_id())
    answer = send(connection_id, {"action": "subscribe", "execution_id": unknown})
    assert isinstance(answer, ErrorFrame)
    assert (answer.field, answer.message) == ("execution_id", f"no build with id {unknown!r}")


def test_unsubscribe_stops_the_events(alice: Build) -> None:
    connection_id, _ = connect(alice.token)
    send(connection_id, {"action": "subscribe", "execution_id": alice.execution_id})
    answer = send(connection_id, {"action": "unsubscribe", "execution_id": alice.execution_id})
    assert answer == UnsubscribedFrame(execution_id=alice.execution_id)
    assert realtime.subscribers(alice.execution_id, None) == []


def test_ping_answers_pong(alice: Build) -> None:
    connection_id, _ = connect(alice.token)
    answer = send(connection_id, {"action": "ping"})
    assert answer == PongFrame()
    assert answer.to_json() == '{"v":1,"type":"pong"}'


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ("{not json", "body"),
        ({"action": "dance"}, "action"),
        ({"execution_id": "x"}, "action"),
        ({"action": "subscribe"}, "execution_id"),
        ({"action": "subscribe", "execution_id": "../../etc"}, "execution_id"),
        ({"action": "subscribe", "session_id": "sess_1"}, "session_id"),
        ("x" * 5000, "body"),
    ],
    ids=["not-json", "unknown-action", "no-action", "no-topic", "bad-exec", "bad-session", "huge"],
)
def test_a_bad_frame_gets_an_error_naming_the_field(
    alice: Build, frame: dict[str, Any] | str, field: str
) -> None:
    connection_id, _ = connect(alice.token)
    answer = send(connection_id, frame)
    assert isinstance(answer, ErrorFrame)
    assert answer.field == field, answer
    assert answer.v == 1 and answer.message


def test_a_frame_from_an_unknown_connection_is_refused(stack: Any, alice: Build) -> None:
    answer = send("never-connected=", {"action": "subscribe", "session_id": alice.session_id})
    assert isinstance(answer, ErrorFrame)
    assert "reconnect" in answer.message
    assert realtime.subscribers(None, alice.session_id) == []


def test_one_connection_follows_a_bounded_number_of_topics(alice: Build) -> None:
    connection_id, _ = connect(alice.token)
    owned = [make_build() for _ in range(2)]
    for build in owned:  # the admin path is not needed: the limit counts any subscription
        store.put(
            {
                **keys.ws_subscription(connection_id, keys.ws_session_topic(build.session_id)),
                "topic": keys.ws_session_topic(build.session_id),
            }
        )
    original = realtime.MAX_SUBSCRIPTIONS
    realtime.MAX_SUBSCRIPTIONS = 2
    try:
        answer = send(connection_id, {"action": "subscribe", "session_id": alice.session_id})
    finally:
        realtime.MAX_SUBSCRIPTIONS = original
    assert isinstance(answer, ErrorFrame) and "at most 2" in answer.message


# ------------------------------------------------------------------------------ $disconnect


def test_disconnect_removes_the_connection_and_its_subscriptions(alice: Build) -> None:
    connection_id, _ = connect(alice.token)
    send(connection_id, {"action": "subscribe", "execution_id": alice.execution_id})
    send(connection_id, {"action": "subscribe", "session_id": alice.session_id})
    assert len(list(store.query(keys.ws_connection_partition(connection_id)))) == 3

    answer = invoke(ws_event("$disconnect", connection_id))

    assert answer["statusCode"] == 200
    assert list(store.query(keys.ws_connection_partition(connection_id))) == []
    assert realtime.subscribers(alice.execution_id, alice.session_id) == []


def test_the_realtime_route_names_the_websocket_url(
    client: Any, alice: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tmux_builder import settings

    headers = {"Authorization": f"Bearer {alice.token}"}
    monkeypatch.setenv("TMUX_BUILDER_WEBSOCKET_URL", "")
    settings.reload()
    try:
        assert client.http.get("/api/realtime", headers=headers).status_code == 422
        monkeypatch.setenv("TMUX_BUILDER_WEBSOCKET_URL", "wss://abc123.example/ws")
        settings.reload()
        response = client.http.get("/api/realtime", headers=headers)
        assert response.status_code == 200
        assert json.loads(response.body) == {"url": "wss://abc123.example/ws", "version": 1}
        assert client.http.get("/api/realtime").status_code == 401
    finally:
        monkeypatch.undo()
        settings.reload()
