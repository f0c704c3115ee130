"""The local gateway's WebSocket API: real sockets, API Gateway-shaped events, ``@connections``.

First the gateway alone, with a small handler standing in for the Lambda (what API Gateway
does with a connection, its frames and the management API); then the whole path on moto:
an agent event on the events queue, applied by the real handler, reaches the browser that
follows the build, and nobody else.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chalice import Chalice
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from tmux_builder.local.gateway import LocalApiServer, LocalWebSocketApi

from .conftest import FAKE_CODE_PACKAGE, TEMPLATE


class RecordingHandler:
    """Stands in for the Lambda: refuses ``?token=bad``, echoes frames, records every event."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.disconnected = threading.Event()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        route = event["requestContext"]["routeKey"]
        if route == "$connect":
            if (event.get("queryStringParameters") or {}).get("token") == "bad":
                return {"statusCode": 401, "body": '{"error": "Unauthorized"}'}
            return {"statusCode": 200}
        if route == "$disconnect":
            self.disconnected.set()
            return {"statusCode": 200}
        if event["body"] == "boom":
            raise RuntimeError("handler failed")
        connection_id = event["requestContext"]["connectionId"]
        return {"statusCode": 200, "body": json.dumps({"echo": event["body"], "id": connection_id})}


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture
def gateway(handler: RecordingHandler) -> Iterator[LocalApiServer]:
    server = LocalApiServer(Chalice(app_name="ws-test"), None)
    server.serve_websocket(handler)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def management(gateway: LocalApiServer) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=gateway.websocket_url.replace("ws://", "http://"),
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def connection_id_of(socket: ClientConnection) -> str:
    socket.send("who am i")
    return str(json.loads(socket.recv(timeout=5))["id"])


def test_connect_frames_and_disconnect_are_api_gateway_events(
    gateway: LocalApiServer, handler: RecordingHandler
) -> None:
    with ws_connect(f"{gateway.websocket_url}?token=good&x=1", open_timeout=5) as socket:
        socket.send('{"action": "ping"}')
        answer = json.loads(socket.recv(timeout=5))
    assert handler.disconnected.wait(5)
    connect, message, disconnect = handler.events
    assert answer == {"echo": '{"action": "ping"}', "id": message["requestContext"]["connectionId"]}
    assert connect["queryStringParameters"] == {"token": "good", "x": "1"}
    assert "sec-websocket-key" in {name.lower() for name in connect["headers"]}
    ids = {e["requestContext"]["connectionId"] for e in handler.events}
    assert len(ids) == 1
    for event, route, kind in (
        (connect, "$connect", "CONNECT"),
        (message, "$default", "MESSAGE"),
        (disconnect, "$disconnect", "DISCONNECT"),
    ):
        context = event["requestContext"]
        assert (context["routeKey"], context["eventType"], context["stage"]) == (route, kind, "ws")
        assert context["domainName"].startswith("127.0.0.1:")
        assert context["identity"]["sourceIp"] == "127.0.0.1"
        assert context["apiId"] and context["requestId"]
    assert message["body"] == '{"action": "ping"}' and message["isBase64Encoded"] is False


def test_a_refused_connect_is_an_http_status_and_no_socket(
    gateway: LocalApiServer, handler: RecordingHandler
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(f"{gateway.websocket_url}?token=bad", open_timeout=5)
    assert refused.value.response.status_code == 401
    assert [e["requestContext"]["routeKey"] for e in handler.events] == ["$connect"]
    assert gateway._websocket is not None and gateway._websocket.open_connections == 0


def test_the_management_api_posts_reads_and_closes(gateway: LocalApiServer) -> None:
    client = management(gateway)
    with ws_connect(f"{gateway.websocket_url}?token=good", open_timeout=5) as socket:
        connection_id = connection_id_of(socket)
        client.post_to_connection(ConnectionId=connection_id, Data=b'{"type": "pushed"}')
        assert json.loads(socket.recv(timeout=5)) == {"type": "pushed"}
        info = client.get_connection(ConnectionId=connection_id)
        assert info["Identity"]["SourceIp"] == "127.0.0.1"
        assert info["LastActiveAt"] >= info["ConnectedAt"]
        client.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=5)
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId=connection_id, Data=b"{}")
    with pytest.raises(client.exceptions.GoneException):
        client.get_connection(ConnectionId="never-was")


def test_a_handler_failure_is_an_internal_error_frame(gateway: LocalApiServer) -> None:
    with ws_connect(f"{gateway.websocket_url}?token=good", open_timeout=5) as socket:
        socket.send("boom")
        answer = json.loads(socket.recv(timeout=5))
        assert answer["message"] == "Internal server error"
        socket.send("still open")
        assert json.loads(socket.recv(timeout=5))["echo"] == "still open"


def test_concurrent_posts_arrive_whole_and_in_order_per_sender(gateway: LocalApiServer) -> None:
    client = management(gateway)
    with ws_connect(f"{gateway.websocket_url}?token=good", open_timeout=5) as socket:
        connection_id = connection_id_of(socket)

        def sender(number: int) -> None:
            for seq in range(25):
                frame = json.dumps({"sender": number, "seq": seq, "pad": "x" * 2000})
                client.post_to_connection(ConnectionId=connection_id, Data=frame.encode())

        threads = [threading.Thread(target=sender, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        received = [json.loads(socket.recv(timeout=10)) for _ in range(6 * 25)]
        for thread in threads:
            thread.join()
    for number in range(6):
        assert [f["seq"] for f in received if f["sender"] == number] == list(range(25))


def test_idle_and_oversized_connections_are_closed(handler: RecordingHandler) -> None:
    server = LocalApiServer(Chalice(app_name="ws-limits"), None)
    server.mount("/ws", LocalWebSocketApi(handler, idle_timeout=0.3, max_frame_bytes=1024))
    with server:
        url = f"ws://127.0.0.1:{server.port}/ws"
        with (
            ws_connect(f"{url}?token=good", open_timeout=5) as socket,
            pytest.raises(ConnectionClosed) as idle,
        ):
            socket.recv(timeout=5)
        assert idle.value.rcvd is not None and idle.value.rcvd.code == 1001
        with ws_connect(f"{url}?token=good", open_timeout=5) as socket:
            socket.send("x" * 2048)
            with pytest.raises(ConnectionClosed) as big:
                socket.recv(timeout=5)
        assert big.value.rcvd is not None and big.value.rcvd.code == 1009


def test_a_plain_http_request_is_told_to_upgrade(gateway: LocalApiServer) -> None:
    import requests

    response = requests.get(gateway.websocket_url.replace("ws://", "http://"), timeout=5)
    assert response.status_code == 426
    assert response.headers["Upgrade"] == "websocket"


# ------------------------------------------------------------------ the whole path, on moto


@pytest.fixture(scope="module")
def embedded(moto_server: Any) -> Iterator[dict[str, Any]]:
    """The template provisioned into moto, the real handlers in-process, the gateway serving
    the control plane's WebSocket handler: the embedded stack without agents."""
    from control_plane import realtime_fanout
    from control_plane.app import app, websocket_handler
    from tmux_builder import aws, settings
    from tmux_builder.local import lambda_runtime
    from tmux_builder.local.provision import provision

    saved = dict(os.environ)
    os.environ["AWS_ENDPOINT_URL"] = moto_server.endpoint_url
    lambda_runtime.install({"fake_code/": FAKE_CODE_PACKAGE, "build/lambda/": "control_plane"})
    gateway = LocalApiServer(app, None)
    gateway.serve_websocket(websocket_handler)
    gateway.start()
    try:
        stack = provision(
            TEMPLATE,
            moto_server.endpoint_url,
            {"Environment": "local", "WebSocketUrl": gateway.websocket_url},
        )
        os.environ.update(stack.environment)
        settings.reload()
        aws.reset()
        realtime_fanout.reset()
        yield {"stack": stack, "gateway": gateway}
    finally:
        gateway.stop()
        lambda_runtime.install({"fake_code/": FAKE_CODE_PACKAGE})
        os.environ.clear()
        os.environ.update(saved)
        settings.reload()
        aws.reset()
        realtime_fanout.reset()


def _build() -> tuple[str, str, str, str]:
    from control_plane import auth, sessions, tracking
    from tmux_builder import naming
    from tmux_builder.contracts import Provider, SiteType

    user_id, session_id = naming.new_user_id(), naming.new_session_id()
    execution_id = naming.execution_id(user_id, session_id)
    sessions.create(user_id, session_id, Provider.AWS, SiteType.STATIC, "A bakery site")
    tracking.create_execution(execution_id, user_id, session_id, "build")
    return user_id, session_id, execution_id, auth.issue_client_token(user_id)


def test_an_agent_event_reaches_its_users_socket_and_no_other(embedded: dict[str, Any]) -> None:
    from agent.events import EventPublisher
    from tmux_builder.contracts import ActivityType
    from tmux_builder.pipeline import Step
    from tmux_builder.realtime_events import ActivityEvent, parse_server_frame

    stack, gateway = embedded["stack"], embedded["gateway"]
    assert stack.environment["TMUX_BUILDER_WEBSOCKET_URL"] == gateway.websocket_url
    alice, bob = _build(), _build()
    url = gateway.websocket_url
    with (
        ws_connect(f"{url}?token={alice[3]}", open_timeout=5) as alice_socket,
        ws_connect(f"{url}?token={bob[3]}", open_timeout=5) as bob_socket,
    ):
        for socket, build in ((alice_socket, alice), (bob_socket, bob)):
            socket.send(json.dumps({"action": "subscribe", "execution_id": build[2]}))
            assert json.loads(socket.recv(timeout=5))["type"] == "subscribed"
        # Bob tries to follow Alice's build: refused, 403.
        bob_socket.send(json.dumps({"action": "subscribe", "session_id": alice[1]}))
        refused = json.loads(bob_socket.recv(timeout=5))
        assert (refused["type"], refused["field"]) == ("error", "session_id")

        started = time.monotonic()
        # What the agent does with `notify progress 40` in Alice's pane: the events queue.
        EventPublisher(stack.outputs["EventsQueueUrl"]).activity(
            alice[2], alice[0], ActivityType.PROGRESS, "40", Step.GENERATE_CODE
        )
        frame = parse_server_frame(alice_socket.recv(timeout=10))
        elapsed = time.monotonic() - started

        assert isinstance(frame, ActivityEvent)
        assert (frame.execution_id, frame.session_id, frame.message) == (alice[2], alice[1], "40")
        assert frame.activity_type is ActivityType.PROGRESS and frame.step is Step.GENERATE_CODE
        assert elapsed < 10
        with pytest.raises(TimeoutError):
            bob_socket.recv(timeout=0.5)
