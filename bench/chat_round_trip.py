"""Chat round trip: from the API call to the answer stored in the table, with the real parts.

What runs: moto in server mode provisioned from ``template.yaml`` (the FIFO chat queue, the
events queue and its event-source mapping to the real ``apply_agent_events`` handler, the
table), the Chalice app (``POST /api/sessions/{id}/chat`` through Chalice's test client), the
agent's real :class:`~agent.chat_consumer.ChatConsumer`, and the pinned Claude Code CLI in real
tmux on the offline model, which reads the chat prompt file and the site and writes the change.
Not measured: API Gateway and Lambda cold starts (the handlers run in-process), and a real
model's thinking time (the offline model answers at once): the figures are the platform's own
overhead around a turn.

One user, one session, messages one after another (a session's messages are serialized by
design). The site is seeded into the user's session folder, as if a build had run. Prints, per
message and as median/p95: the POST's latency, and the time until the answer is stored (polled
every 10 ms from the table).

    .venv/bin/python bench/chat_round_trip.py            # 20 round trips
    .venv/bin/python bench/chat_round_trip.py --n 50
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MESSAGES = (
    "make the background blue",
    "add a section about our opening hours",
    "dark mode please",
    "change the headline to Bread worth waking up for",
    "use a light theme",
    "remove the hours section",
    "use green as the main colour",
    "what is the weather like?",
)
REQUIREMENTS = (
    "A one-page site for a small bakery called Crumb with three breads and a contact form."
)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=20, help="round trips (default 20)")
    args = parser.parse_args()

    from chalice.test import Client

    from agent.chat_consumer import AnswerPublisher, ChatConsumer, PaneCapture
    from agent.engine.claude_code import ClaudeCodeEngine, resolve_claude_bin
    from agent.notify_hub import NotifyHub
    from agent.tmux_sessions import TmuxSessions
    from agent.workspace import Workspace
    from control_plane import chat
    from tmux_builder import aws, settings
    from tmux_builder.local import lambda_runtime
    from tmux_builder.local.moto_server import MotoServer
    from tmux_builder.local.provision import provision
    from tmux_builder.offline_model.server import OfflineModelServer
    from tmux_builder.offline_model.site_design import design_site
    from tmux_builder.offline_model.site_writer import write_site

    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }
    )
    work = Path(tempfile.mkdtemp(prefix="tmux-builder-bench-chat-"))
    server = MotoServer().start()
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint_url
    lambda_runtime.install({"control_plane/": "control_plane"})
    model = OfflineModelServer().start()
    hub = NotifyHub().start()
    agent_settings = settings.AgentSettings(
        work_dir=work / "agent",
        tmux_socket=f"tb-bench-{secrets.token_hex(4)}",
        model_base_url=model.url,
        turn_timeout_seconds=120,
    )
    sessions = TmuxSessions(agent_settings.tmux_socket, "agent-bench")
    consumer: ChatConsumer | None = None
    try:
        outputs = provision(
            ROOT / "template.yaml",
            server.endpoint_url,
            {"Environment": "local", "SiteEdge": "http://127.0.0.1:9"},
        )
        os.environ.update(outputs.environment)
        settings.reload()
        aws.reset()
        cloud = settings.cloud()
        admin_token = aws.client("secretsmanager").get_secret_value(
            SecretId=outputs.outputs["AdminTokenSecretArn"]
        )["SecretString"]
        from control_plane.app import app

        client = Client(app)
        created = client.http.post(
            "/api/create-user",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {admin_token}"},
            body=json.dumps({"email": "bench@example.com", "requirements": REQUIREMENTS}),
        )
        build = json.loads(created.body)
        user_id, session_id = build["user_id"], build["session_id"]
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {build['client_token']}",
        }

        ws = Workspace(agent_settings.work_dir, user_id).create()
        ws.write_instructions("You build websites. Keep the site's code in code/.\n")
        for path, text in write_site(design_site(REQUIREMENTS)).items():
            (ws.dir / path).write_text(text)
        engine = ClaudeCodeEngine(agent_settings, sessions, hub)
        turns: list[float] = []
        run_turn = engine.run_turn

        def timed_turn(*args: Any, **kwargs: Any) -> Any:
            """The CLI's part of a round trip."""
            started = time.perf_counter()
            try:
                return run_turn(*args, **kwargs)
            finally:
                turns.append(time.perf_counter() - started)

        engine.run_turn = timed_turn  # type: ignore[method-assign]
        print(f"Claude Code: {resolve_claude_bin(agent_settings)}; offline model {model.url}")
        started = time.monotonic()
        engine.ensure_started(ws)
        print(f"CLI start (not in the figures): {time.monotonic() - started:.2f} s\n")
        consumer = ChatConsumer(
            cloud.chat_queue_url,
            agent_settings.work_dir,
            engine,
            AnswerPublisher(cloud.events_queue_url),
            PaneCapture(cloud.artifacts_bucket, sessions),
            turn_timeout=120,
            wait_seconds=1,
        ).start()

        accepted: list[float] = []
        round_trips: list[float] = []
        print(f"{'#':>3}  {'POST ms':>8}  {'answer s':>8}  {'turn s':>7}  message")
        for n in range(args.n):
            text = MESSAGES[n % len(MESSAGES)]
            t0 = time.perf_counter()
            response = client.http.post(
                f"/api/sessions/{session_id}/chat",
                headers=headers,
                body=json.dumps({"message": text}),
            )
            t1 = time.perf_counter()
            if response.status_code != 202:
                raise SystemExit(f"POST failed: {response.status_code} {response.body!r}")
            message_id = json.loads(response.body)["message_id"]
            status = _wait_answered(chat, session_id, message_id, timeout=120)
            t2 = time.perf_counter()
            accepted.append(t1 - t0)
            round_trips.append(t2 - t0)
            turn = turns[-1]
            print(
                f"{n + 1:>3}  {1000 * (t1 - t0):>8.1f}  {t2 - t0:>8.2f}  {turn:>7.2f}  "
                f"{text} ({status})"
            )

        print(f"\n{args.n} round trips, one session")
        print(
            f"POST accepted: median {1000 * statistics.median(accepted):.1f} ms, "
            f"p95 {1000 * percentile(accepted, 0.95):.1f} ms"
        )
        print(
            f"answer stored: median {statistics.median(round_trips):.2f} s, "
            f"p95 {percentile(round_trips, 0.95):.2f} s, max {max(round_trips):.2f} s"
        )
        outside = [total - turn for total, turn in zip(round_trips, turns, strict=True)]
        print(
            f"  of which the CLI turn (run_turn): median {statistics.median(turns):.2f} s, "
            f"p95 {percentile(turns, 0.95):.2f} s"
        )
        print(
            "  the rest (queues, prompt file, answer event, table): median "
            f"{1000 * statistics.median(outside):.0f} ms, "
            f"p95 {1000 * percentile(outside, 0.95):.0f} ms"
        )
    finally:
        if consumer is not None:
            consumer.stop()
            consumer.join(10)
        for cleanup in (sessions.kill_server, hub.stop, model.stop, server.stop):
            try:
                cleanup()
            except Exception as error:
                print(f"cleanup failed: {error!r}", file=sys.stderr)
        lambda_runtime.uninstall()
    return 0


def _wait_answered(chat: Any, session_id: str, message_id: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        turns, _ = chat.history(session_id, limit=500)
        mine = next(t for t in turns if t.message_id == message_id)
        if mine.status != "queued":
            return str(mine.status)
        time.sleep(0.01)
    raise SystemExit(f"no answer to {message_id} within {timeout:g} s")


if __name__ == "__main__":
    sys.exit(main())
