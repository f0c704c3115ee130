"""The notify hub (auth, prompt mapping, waiters, activity) and the notify client end to end."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent import notify_client
from agent.notify_hub import (
    MAX_BODY_BYTES,
    HubTimeout,
    NotifyHub,
    SessionEnded,
    StopInfo,
    UnknownUser,
    describe_tool,
)
from tmux_builder.contracts import ActivityType
from tmux_builder.naming import new_user_id

ActivityLog = list[tuple[str, ActivityType, str]]


class _Recorder:
    """Collects activities; wakes a test waiting for a number of them."""

    def __init__(self) -> None:
        self.items: ActivityLog = []
        self._cond = threading.Condition()

    def __call__(self, user_id: str, kind: ActivityType, message: str) -> None:
        with self._cond:
            self.items.append((user_id, kind, message))
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> ActivityLog:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.items) >= count, timeout), self.items
            return list(self.items)


@pytest.fixture
def activities() -> _Recorder:
    return _Recorder()


@pytest.fixture
def hub(activities: _Recorder) -> Iterator[NotifyHub]:
    notify_hub = NotifyHub(on_activity=activities).start()
    try:
        yield notify_hub
    finally:
        notify_hub.stop()


def _post(hub: NotifyHub, token: str | None, path: str, payload: Any) -> int:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return notify_client.post(hub.url, token or "", path, body)


def _hook(event: str, **fields: Any) -> dict[str, Any]:
    return {
        "session_id": "cli-session-1",
        "transcript_path": "/home/x/.claude/projects/p/cli-session-1.jsonl",
        "cwd": "/work/sessions/u",
        "hook_event_name": event,
        **fields,
    }


def test_unknown_or_missing_token_is_refused(hub: NotifyHub) -> None:
    user_id = new_user_id()
    hub.register(user_id)

    assert _post(hub, "not-a-token", "/hook/SessionStart", _hook("SessionStart")) == 401
    assert _post(hub, None, "/notify", {"type": "status", "message": "x"}) == 401
    assert hub.session_start(user_id) is None


def test_token_speaks_only_for_its_own_user(hub: NotifyHub) -> None:
    alice, bob = new_user_id(), new_user_id()
    alice_token = hub.register(alice)
    hub.register(bob)
    prompt = _hook("UserPromptSubmit", prompt="Read prompts/t1.txt", prompt_id="p1", user_id=bob)

    assert _post(hub, alice_token, "/hook/UserPromptSubmit", prompt) == 200

    assert hub.submitted_prompt(alice, "t1") == "p1"
    assert hub.submitted_prompt(bob, "t1") is None


def test_register_again_revokes_the_old_token(hub: NotifyHub) -> None:
    user_id = new_user_id()
    old = hub.register(user_id)
    new = hub.register(user_id)

    assert _post(hub, old, "/hook/SessionStart", _hook("SessionStart")) == 401
    assert _post(hub, new, "/hook/SessionStart", _hook("SessionStart", source="startup")) == 200
    hub.unregister(user_id)
    assert _post(hub, new, "/hook/SessionStart", _hook("SessionStart")) == 401
    with pytest.raises(UnknownUser):
        hub.session_start(user_id)


def test_bad_requests(hub: NotifyHub) -> None:
    token = hub.register(new_user_id())

    assert _post(hub, token, "/hook/NoSuchEvent", _hook("x")) == 404
    assert _post(hub, token, "/elsewhere", {}) == 404
    assert _post(hub, token, "/hook/Stop", b"{not json") == 400
    assert _post(hub, token, "/hook/Stop", {"no_session_id": True}) == 400
    assert _post(hub, token, "/notify", {"type": "shout", "message": "x"}) == 400
    assert _post(hub, token, "/notify", {"type": "progress", "message": "150"}) == 400
    big = json.dumps(_hook("Stop", last_assistant_message="x" * MAX_BODY_BYTES)).encode()
    assert _post(hub, token, "/hook/Stop", big) == 413


def test_prompt_id_maps_to_task_and_first_submission_counts(hub: NotifyHub) -> None:
    user_id = new_user_id()
    token = hub.register(user_id)
    line = "Read prompts/create_plan-abc.def-a0.txt and do what it says."

    for prompt_id in ("first", "second"):
        hook = _hook("UserPromptSubmit", prompt=line, prompt_id=prompt_id)
        assert _post(hub, token, "/hook/UserPromptSubmit", hook) == 200
    chat = _hook("UserPromptSubmit", prompt="make the header blue", prompt_id="chat")
    assert _post(hub, token, "/hook/UserPromptSubmit", chat) == 200

    assert hub.wait_submitted(user_id, "create_plan-abc.def-a0", timeout=0) == "first"


def test_waiters_wake_on_signals(hub: NotifyHub) -> None:
    user_id = new_user_id()
    token = hub.register(user_id)
    results: dict[str, Any] = {}

    def wait_all() -> None:
        results["ready"] = hub.wait_ready(user_id, timeout=10)
        results["prompt_id"] = hub.wait_submitted(user_id, "t1", timeout=10)
        results["stop"] = hub.wait_stopped(user_id, results["prompt_id"], timeout=10)

    waiter = threading.Thread(target=wait_all)
    waiter.start()
    started = time.monotonic()
    _post(hub, token, "/hook/SessionStart", _hook("SessionStart", source="startup"))
    _post(
        hub,
        token,
        "/hook/UserPromptSubmit",
        _hook("UserPromptSubmit", prompt="prompts/t1.txt", prompt_id="p1"),
    )
    _post(
        hub, token, "/hook/Stop", _hook("Stop", prompt_id="p1", last_assistant_message="All done.")
    )
    waiter.join(timeout=10)

    assert time.monotonic() - started < 5, "waiters must wake on the signal, not on the timeout"
    assert results["ready"].session_id == "cli-session-1"
    assert results["ready"].source == "startup"
    assert results["prompt_id"] == "p1"
    assert results["stop"] == StopInfo(
        "All done.", "cli-session-1", "/home/x/.claude/projects/p/cli-session-1.jsonl"
    )


def test_waits_time_out_or_end_with_the_session(hub: NotifyHub) -> None:
    user_id = new_user_id()
    token = hub.register(user_id)

    with pytest.raises(HubTimeout):
        hub.wait_ready(user_id, timeout=0.05)
    _post(hub, token, "/hook/SessionEnd", _hook("SessionEnd", reason="other"))
    with pytest.raises(SessionEnded):
        hub.wait_stopped(user_id, "p1", timeout=5)
    with pytest.raises(UnknownUser):
        hub.wait_ready(new_user_id(), timeout=0)


def test_stop_without_prompt_id_ends_the_last_submitted_turn(hub: NotifyHub) -> None:
    user_id = new_user_id()
    token = hub.register(user_id)
    _post(
        hub,
        token,
        "/hook/UserPromptSubmit",
        _hook("UserPromptSubmit", prompt="prompts/a.txt", prompt_id="pa"),
    )
    _post(hub, token, "/hook/Stop", _hook("Stop", last_assistant_message="ok"))

    assert hub.wait_stopped(user_id, "pa", timeout=0).last_assistant_message == "ok"


def test_tool_use_notifications_and_notify_calls_become_activity(
    hub: NotifyHub, activities: _Recorder
) -> None:
    user_id = new_user_id()
    token = hub.register(user_id)
    write = {"file_path": "/work/sessions/u/code/index.html", "content": "<html>"}
    _post(hub, token, "/hook/PreToolUse", _hook("PreToolUse", tool_name="Write", tool_input=write))
    _post(
        hub, token, "/hook/PostToolUse", _hook("PostToolUse", tool_name="Write", tool_input=write)
    )
    idle = _hook("Notification", message="Claude is waiting", notification_type="idle_prompt")
    _post(hub, token, "/hook/Notification", idle)
    ask = _hook("Notification", message="Claude needs your permission to use Bash")
    _post(hub, token, "/hook/Notification", ask)
    _post(hub, token, "/notify", {"version": 1, "type": "progress", "message": "75"})
    _post(hub, token, "/notify", {"type": "deployed", "message": "https://example.test/"})

    assert activities.wait_for(5) == [
        (user_id, ActivityType.STATUS, "Writing code/index.html"),
        (user_id, ActivityType.STATUS, "Wrote code/index.html"),
        (user_id, ActivityType.STATUS, "Claude needs your permission to use Bash"),
        (user_id, ActivityType.PROGRESS, "75"),
        (user_id, ActivityType.DEPLOYED, "https://example.test/"),
    ]


def test_describe_tool() -> None:
    assert describe_tool("Read", {"file_path": "/s/plan.md"}, "/s", done=False) == "Reading plan.md"
    assert describe_tool("Bash", {"command": "npm test\nmore"}, "/s", done=True) == "Ran npm test"
    assert describe_tool("Write", {"file_path": "/etc/x"}, "/s", done=False) == "Writing /etc/x"
    assert describe_tool("Mystery", None, "/s", done=False) == "Using Mystery"


# -- the client, as the CLI runs it -------------------------------------------------------


def _run_client(
    args: list[str], env: dict[str, str], stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
    return subprocess.run(
        [sys.executable, "-I", "-m", "agent.notify_client", *args],
        input=stdin,
        env=full_env,
        capture_output=True,
        timeout=30,
        cwd=Path(__file__).parent,  # -I: a folder of the caller must not shadow the package
    )


def test_client_end_to_end(hub: NotifyHub, activities: _Recorder) -> None:
    user_id = new_user_id()
    env = {notify_client.URL_ENV: hub.url, notify_client.TOKEN_ENV: hub.register(user_id)}

    start = _run_client(["hook", "SessionStart"], env, json.dumps(_hook("SessionStart")).encode())
    status = _run_client(["status", "Planning the site"], env)
    progress = _run_client(["progress", "40"], env)
    done = _run_client(["done"], env)

    for proc in (start, status, progress, done):
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    assert hub.wait_ready(user_id, timeout=0).session_id == "cli-session-1"
    assert activities.wait_for(3) == [
        (user_id, ActivityType.STATUS, "Planning the site"),
        (user_id, ActivityType.PROGRESS, "40"),
        (user_id, ActivityType.DONE, ""),
    ]


def test_client_never_fails_the_cli_but_reports_usage_errors(hub: NotifyHub) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    unreachable = {
        notify_client.URL_ENV: f"http://127.0.0.1:{closed_port}",
        notify_client.TOKEN_ENV: "t",
    }
    bad_token = {notify_client.URL_ENV: hub.url, notify_client.TOKEN_ENV: "wrong"}

    for env in (unreachable, bad_token, {}):
        proc = _run_client(["hook", "Stop"], env, b'{"session_id": "s"}')
        assert proc.returncode == 0
        assert proc.stdout == b""
        assert b"not reported" in proc.stderr
    for args in ([], ["shout", "x"], ["progress", "lots"], ["status"], ["hook"], ["hook", "a/b"]):
        proc = _run_client(args, unreachable)
        assert proc.returncode == 2, args
        assert proc.stdout == b""


def test_client_shrinks_oversized_hook_bodies() -> None:
    payload = _hook(
        "PostToolUse", tool_name="Read", tool_response={"content": "x" * MAX_BODY_BYTES}
    )

    path, body = notify_client.build_request(["hook", "PostToolUse"], json.dumps(payload).encode())

    assert path == "/hook/PostToolUse"
    assert len(body) < MAX_BODY_BYTES
    assert json.loads(body)["session_id"] == "cli-session-1"
