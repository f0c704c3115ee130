"""Two agent hosts on one machine: builds spread over both; one host is lost (SIGKILL of the
agent and its tmux server, not restarted); its user's next chat message is answered by the other.

The embedded stack runs with ``--agents 2 --no-agent-restart``, short leases (6 s) and one
session per host before a new session is offered to the other host. After the kill, the chat
message goes to the dead host's own chat queue (its lease is still live for a few seconds); the
surviving host drains that queue once the dead host's registration expired, takes the session
over, rebuilds the working copy from the S3 snapshot and the stored conversation, starts a fresh
CLI and answers. The operator CLI shows who is where before and after.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from tests.e2e.launcher import clean_environment, cli, running_stack
from tmux_builder import keys
from tmux_builder.api_client import ApiClient

pytestmark = [pytest.mark.e2e, pytest.mark.tmux, pytest.mark.claude, pytest.mark.browser]
LEASE_SECONDS = "6"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_stack(
        tmp_path_factory.mktemp("two-agents"),
        "--agents",
        "2",
        "--no-agent-restart",
        TMUX_BUILDER_AGENT_LEASE_SECONDS=LEASE_SECONDS,
        TMUX_BUILDER_AGENT_MAX_SESSIONS="1",
    ) as info:
        yield info


def _logs(info: dict[str, Any]) -> str:
    return "\n".join(
        f"--- {p.name} ---\n{p.read_text()[-4000:]}"
        for p in sorted((info["state_dir"] / "logs").glob("agent-*.log"))
    )


def _wait(what: str, until: Any, info: dict[str, Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = until()
        if found:
            return found
        time.sleep(0.3)
    pytest.fail(f"{what} not within {timeout:g} s\n{_logs(info)}")


def _operator(info: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli("--state-dir", str(info["state_dir"]), *args),
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_lost_host_s_user_is_answered_by_the_other_host(stack: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {stack['admin_token']}"}
    api = ApiClient(stack["api_url"], stack["admin_token"])
    builds = [
        api.create_user(
            f"{name}@example.com", f"A site for a {kind} called {name}", "aws", "static"
        )
        for name, kind in (("Spoke", "bicycle repair shop"), ("Leaf", "tea house"))
    ]

    seen: list[Any] = []

    def finished() -> list[dict[str, Any]] | None:
        done = [api.status(b["execution_id"]) for b in builds]
        seen[:] = [(s["status"], s.get("current_step")) for s in done]
        for status in done:
            assert status["status"] != "failed", f"{status}\n{_logs(stack)}"
        return done if all(s["status"] == "succeeded" for s in done) else None

    _wait("both builds", finished, stack, 240)

    # Spread over both hosts, as the operator sees it.
    listed = _operator(stack, "sessions", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["session_id"]: row for row in json.loads(listed.stdout)}
    hosts = {rows[b["session_id"]]["host"] for b in builds}
    assert hosts == {"agent-1", "agent-2"}, rows
    lost = builds[1]
    lost_host = rows[lost["session_id"]]["host"]
    survivor = "agent-1" if lost_host == "agent-2" else "agent-2"
    attach = _operator(stack, "attach", lost["user_id"], "--print-command")
    lost_agent = next(a for a in stack["agents"] if a["agent_id"] == lost_host)
    assert attach.returncode == 0 and lost_agent["tmux_socket"] in attach.stdout, attach

    # The host is lost: the agent and every CLI on it, and it does not come back.
    os.kill(lost_agent["pid"], signal.SIGKILL)
    subprocess.run(
        [shutil.which("tmux") or "tmux", "-L", lost_agent["tmux_socket"], "kill-server"],
        capture_output=True,
        timeout=10,
    )
    killed_at = time.monotonic()
    # The person writes a few seconds later (a receive the dead agent had open when it died
    # would otherwise hide the message for the chat queue's visibility timeout, 120 s). The
    # lost host's lease is still live then: the message goes to its queue, and is drained.
    time.sleep(6)
    sent = requests.post(
        f"{stack['api_url']}/api/sessions/{lost['session_id']}/chat",
        json={"message": "Make the background blue"},
        headers=headers,
        timeout=10,
    )
    assert sent.status_code in (200, 201, 202), sent.text
    message_id = sent.json()["message_id"]

    def answered() -> dict[str, Any] | None:
        history = requests.get(
            f"{stack['api_url']}/api/sessions/{lost['session_id']}/chat",
            headers=headers,
            timeout=10,
        ).json()["messages"]
        question = next(m for m in history if m["message_id"] == message_id)
        assert question["status"] != "failed", f"{question}\n{_logs(stack)}"
        return next((m for m in history if m.get("in_reply_to") == message_id), None)

    answer = _wait("the answer from the other host", answered, stack, 75)
    print(f"\nanswered by {survivor} {time.monotonic() - killed_at:.1f} s after the host was lost")
    assert answer["role"] == "assistant" and answer["text"]

    leases = requests.get(f"{stack['api_url']}/api/admin/leases", headers=headers, timeout=10)
    lease = next(x for x in leases.json()["leases"] if x["session_id"] == lost["session_id"])
    assert (lease["owner"], lease["previous_owner"], lease["takeovers"]) == (
        survivor,
        lost_host,
        1,
    )
    survivor_log = (stack["state_dir"] / "logs" / f"{survivor}.log").read_text()
    assert f"took over session {lost['session_id']} from {lost_host}" in survivor_log
    rebuilt = stack["state_dir"] / "agents" / survivor / "sessions" / lost["user_id"]
    assert (rebuilt / "prompts" / "takeover-summary.txt").is_file()
    assert "now blue" in answer["text"], answer
    # What chat changed is saved for the next host that may take the session over.
    s3 = boto3.client(
        "s3",
        endpoint_url=stack["aws_endpoint"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.head_object(
        Bucket=stack["outputs"]["ArtifactsBucket"],
        Key=keys.session_code_snapshot(lost["user_id"], lost["session_id"]),
    )
    # The other user's session stayed where it was.
    other = next(x for x in leases.json()["leases"] if x["session_id"] == builds[0]["session_id"])
    assert other["owner"] == survivor and other["takeovers"] == 0
