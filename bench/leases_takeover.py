"""Takeover time: from the moment a lost host's lease expires to the next answered chat message.

What runs: the embedded stack (``tmux-builder up --agents 2 --no-agent-restart``, the offline
model, leases of ``--lease-seconds``) as a subprocess in a temporary state folder. One site is
built; the agent host holding its session is lost (SIGKILL of the agent and of its tmux server);
the person sends a chat message ``--send-after`` seconds later. The other host drains the lost
host's queues once its registration expired, takes the session over (working copy rebuilt from
the S3 snapshot and the stored conversation, a fresh CLI) and answers.

Printed per run: when the lease expired (from the lease the API lists just before the kill),
kill -> answer, lease expiry -> answer, and message sent -> answer; then medians. Each run starts
a new stack (a lost host stays lost).

    .venv/bin/python bench/leases_takeover.py                   # one run, ~2 min
    .venv/bin/python bench/leases_takeover.py --runs 3 --lease-seconds 10
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _wait(what: str, check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise SystemExit(f"{what}: not within {timeout:g} s")


def one_run(lease_seconds: float, send_after: float) -> dict[str, float]:
    import requests

    from tests.e2e.launcher import running_stack
    from tmux_builder.api_client import ApiClient

    state = Path(tempfile.mkdtemp(prefix="tmux-builder-takeover-"))
    try:
        with running_stack(
            state,
            "--agents",
            "2",
            "--no-agent-restart",
            TMUX_BUILDER_AGENT_LEASE_SECONDS=str(lease_seconds),
        ) as stack:
            headers = {"Authorization": f"Bearer {stack['admin_token']}"}
            api = ApiClient(stack["api_url"], stack["admin_token"])
            build = api.create_user(
                "bench@example.com", "A site for a bakery called Crumb", "aws", "static"
            )
            _wait(
                "the build",
                lambda: api.status(build["execution_id"])["status"] == "succeeded",
                300,
            )

            def lease() -> dict[str, Any]:
                listed = requests.get(
                    f"{stack['api_url']}/api/admin/leases", headers=headers, timeout=10
                ).json()["leases"]
                return dict(next(x for x in listed if x["session_id"] == build["session_id"]))

            held = lease()
            agent = next(a for a in stack["agents"] if a["agent_id"] == held["owner"])
            os.kill(agent["pid"], signal.SIGKILL)
            subprocess.run(
                [shutil.which("tmux") or "tmux", "-L", agent["tmux_socket"], "kill-server"],
                capture_output=True,
                timeout=10,
            )
            killed = time.monotonic()
            expires = killed + held["seconds_left"]
            time.sleep(send_after)
            sent_at = time.monotonic()
            message_id = requests.post(
                f"{stack['api_url']}/api/sessions/{build['session_id']}/chat",
                json={"message": "Make the background blue"},
                headers=headers,
                timeout=10,
            ).json()["message_id"]

            def answered() -> bool:
                history = requests.get(
                    f"{stack['api_url']}/api/sessions/{build['session_id']}/chat",
                    headers=headers,
                    timeout=10,
                ).json()["messages"]
                return any(m.get("in_reply_to") == message_id for m in history)

            _wait("the answer", answered, 180)
            done = time.monotonic()
            return {
                "lease_left_at_kill": held["seconds_left"],
                "kill_to_answer": done - killed,
                "expiry_to_answer": done - expires,
                "sent_to_answer": done - sent_at,
            }
    finally:
        shutil.rmtree(state, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--lease-seconds", type=float, default=6.0)
    parser.add_argument(
        "--send-after", type=float, default=6.0, help="seconds between the kill and the message"
    )
    args = parser.parse_args()
    runs = []
    for number in range(1, args.runs + 1):
        result = one_run(args.lease_seconds, args.send_after)
        runs.append(result)
        print(
            f"run {number}: lease had {result['lease_left_at_kill']:.1f} s left at the kill; "
            f"kill -> answer {result['kill_to_answer']:.1f} s, lease expiry -> answer "
            f"{result['expiry_to_answer']:.1f} s, "
            f"message -> answer {result['sent_to_answer']:.1f} s",
            flush=True,
        )
    for key in ("kill_to_answer", "expiry_to_answer", "sent_to_answer"):
        print(f"median {key}: {statistics.median(r[key] for r in runs):.1f} s")
    print(
        f"(lease {args.lease_seconds:g} s, message {args.send_after:g} s after the kill; "
        f"load average {os.getloadavg()[0]:.1f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
