"""WebSocket fan-out: 50 browsers on the embedded stack's gateway, from a notify call to a frame.

What runs: moto in server mode provisioned from ``template.yaml`` (the events queue and its
event-source mapping to the real ``apply_agent_events`` handler, the table), the local gateway
serving the control plane's WebSocket handler at ``/ws`` and ``@connections``, the agent's real
notify hub with the agent's :class:`~agent.main.ActivityRelay` and
:class:`~agent.events.EventPublisher`, and the notify client's own ``post`` (what
``tmux-builder-notify status ...`` does from a pane). Each client is a real WebSocket
(``websockets``) that connected with its user's client token and subscribed to its own build.

The path measured: notify client -> notify hub -> relay -> events queue (SQS) -> event-source
mapping -> ``apply_agent_events`` (records the activity, looks up the subscribers, posts) ->
``post_to_connection`` on the gateway -> the frame on the client's socket. Not measured: tmux
and the CLI's hook process (see ``prompt_delivery.py``), API Gateway and Lambda themselves.

25 users with 2 sessions (builds) each: 50 clients. Each round, every user's agent task is on
one of its two sessions (alternating by round) and every user notifies once, all at once (a
burst of 25); a round ends when all 25 frames arrived. ``--one-at-a-time`` sends the next notify
only after the previous frame arrived: the latency of one line with nothing queued before it.
Checked at the end: each client received exactly its own build's lines, so neither another
user's nor its own user's other session's.

    .venv/bin/python bench/websocket_fanout.py              # 25 users x 2 sessions, 20 rounds
    .venv/bin/python bench/websocket_fanout.py --users 5 --rounds 5
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass
class Client:
    user_index: int
    session_index: int
    user_id: str
    session_id: str
    execution_id: str
    socket: Any = None
    received: list[tuple[float, Any]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def listen(self) -> None:
        from websockets.exceptions import ConnectionClosed

        from tmux_builder.realtime_events import parse_server_frame

        while True:
            try:
                text = self.socket.recv()
            except ConnectionClosed:
                return
            with self.arrived:
                self.received.append((time.monotonic(), parse_server_frame(text)))
                self.arrived.notify_all()


def wait_for(client: Client, text: str, deadline: float) -> None:
    from tmux_builder.realtime_events import ActivityEvent

    with client.arrived:
        while not any(
            isinstance(f, ActivityEvent) and f.message == text for _, f in client.received
        ):
            if not client.arrived.wait(timeout=max(0.0, deadline - time.monotonic())):
                raise SystemExit(f"{text!r} never arrived")


def start_stack() -> tuple[Any, Any, Any]:
    """moto + template + in-process handlers + the gateway's WebSocket API (no agents)."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }
    )
    from control_plane.app import app, websocket_handler
    from tmux_builder import aws, settings
    from tmux_builder.local import lambda_runtime
    from tmux_builder.local.gateway import LocalApiServer
    from tmux_builder.local.moto_server import MotoServer
    from tmux_builder.local.provision import provision

    moto = MotoServer().start()
    os.environ["AWS_ENDPOINT_URL"] = moto.endpoint_url
    lambda_runtime.install({"build/lambda/": "control_plane"})
    gateway = LocalApiServer(app, None)
    gateway.serve_websocket(websocket_handler)
    gateway.start()
    stack = provision(
        ROOT / "template.yaml",
        moto.endpoint_url,
        {"Environment": "local", "WebSocketUrl": gateway.websocket_url},
    )
    os.environ.update(stack.environment)
    settings.reload()
    aws.reset()
    return moto, gateway, stack


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=25)
    parser.add_argument("--sessions", type=int, default=2, help="sessions (builds) per user")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait per round")
    parser.add_argument(
        "--one-at-a-time",
        action="store_true",
        help="each notify waits for the previous frame (latency without queueing)",
    )
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # not a log line per connection

    from websockets.sync.client import connect as ws_connect

    from agent import notify_client
    from agent.events import EventPublisher
    from agent.main import ActivityRelay
    from agent.notify_hub import NotifyHub
    from control_plane import auth, sessions, tracking
    from tmux_builder import naming
    from tmux_builder.contracts import AgentTask, PipelineState, Provider, SiteType
    from tmux_builder.local import lambda_runtime
    from tmux_builder.pipeline import Step
    from tmux_builder.realtime_events import ActivityEvent

    moto, gateway, stack = start_stack()
    hub = None
    clients: list[Client] = []
    sockets = contextlib.ExitStack()
    try:
        users = [naming.new_user_id() for _ in range(args.users)]
        for u, user_id in enumerate(users):
            for s in range(args.sessions):
                session_id = naming.new_session_id()
                execution_id = naming.execution_id(user_id, session_id)
                sessions.create(user_id, session_id, Provider.AWS, SiteType.STATIC, "A bench site")
                tracking.create_execution(execution_id, user_id, session_id, "build")
                clients.append(Client(u, s, user_id, session_id, execution_id))

        started = time.monotonic()
        for client in clients:
            token = auth.issue_client_token(client.user_id)
            client.socket = sockets.enter_context(
                ws_connect(f"{gateway.websocket_url}?token={token}", open_timeout=10)
            )
            client.socket.send(
                json.dumps({"action": "subscribe", "execution_id": client.execution_id})
            )
            answer = json.loads(client.socket.recv(timeout=10))
            assert answer["type"] == "subscribed", answer
            threading.Thread(target=client.listen, daemon=True).start()
        print(
            f"{len(clients)} clients connected and subscribed in "
            f"{time.monotonic() - started:.2f} s ({args.users} users x {args.sessions} sessions)"
        )

        relay = ActivityRelay(EventPublisher(stack.outputs["EventsQueueUrl"]))
        hub = NotifyHub(on_activity=relay).start()
        notify_tokens = {user_id: hub.register(user_id) for user_id in users}
        tasks = {
            (c.user_index, c.session_index): AgentTask(
                task_token="bench",
                step=Step.GENERATE_CODE,
                state=PipelineState(
                    execution_id=c.execution_id, user_id=c.user_id, session_id=c.session_id
                ),
            )
            for c in clients
        }
        by_key = {(c.user_index, c.session_index): c for c in clients}

        latencies: list[float] = []
        sent: dict[str, float] = {}
        expected: dict[str, set[str]] = {c.execution_id: set() for c in clients}
        pool = ThreadPoolExecutor(max_workers=8)
        burst_started = time.monotonic()
        for round_number in range(args.rounds):
            active = round_number % args.sessions
            for u in range(args.users):
                relay.working_on(tasks[(u, active)])

            def notify(u: int, round_number: int = round_number, active: int = active) -> None:
                text = f"bench r{round_number} u{u} s{active}"
                path, body = notify_client.build_request(["status", text], None)
                sent[text] = time.monotonic()
                status = notify_client.post(hub.url, notify_tokens[users[u]], path, body)
                assert status < 300, status

            for u in range(args.users):
                expected[by_key[(u, active)].execution_id].add(
                    f"bench r{round_number} u{u} s{active}"
                )
            deadline = time.monotonic() + args.timeout
            if args.one_at_a_time:
                for u in range(args.users):
                    notify(u)
                    wait_for(by_key[(u, active)], f"bench r{round_number} u{u} s{active}", deadline)
            else:
                list(pool.map(notify, range(args.users)))
                for u in range(args.users):
                    wait_for(by_key[(u, active)], f"bench r{round_number} u{u} s{active}", deadline)
        total = time.monotonic() - burst_started
        pool.shutdown()
        time.sleep(0.5)  # anything misrouted would arrive by now

        wrong = 0
        for client in clients:
            got = {f.message for _, f in client.received if isinstance(f, ActivityEvent)}
            foreign = {f.execution_id for _, f in client.received} - {client.execution_id}
            if got != expected[client.execution_id] or foreign:
                wrong += 1
                print(f"client u{client.user_index} s{client.session_index}: got {sorted(got)}")
            for arrived_at, frame in client.received:
                if isinstance(frame, ActivityEvent) and frame.message in sent:
                    latencies.append((arrived_at - sent[frame.message]) * 1000)

        count = len(latencies)
        print(f"{count} frames in {args.rounds} rounds of {args.users} notifies, {total:.2f} s")
        print(
            f"notify -> frame: p50 {percentile(latencies, 0.5):.1f} ms, "
            f"p95 {percentile(latencies, 0.95):.1f} ms, max {max(latencies):.1f} ms, "
            f"mean {statistics.fmean(latencies):.1f} ms"
        )
        print(
            "isolation: "
            + ("every client got exactly its own build's lines" if not wrong else f"{wrong} wrong")
        )
        return 1 if wrong else 0
    finally:
        sockets.close()
        if hub is not None:
            hub.stop()
        gateway.stop()
        lambda_runtime.uninstall()
        moto.stop()


if __name__ == "__main__":
    raise SystemExit(main())
