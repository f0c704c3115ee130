"""The Claude Code engine: settings it seeds, and real turns of the pinned CLI in real tmux.

The CLI binary comes from ``TMUX_BUILDER_AGENT_CLAUDE_BIN`` (else the project's
``node_modules/.bin/claude``); its model is the project's offline model on a loopback port.
The shared turn flow's failure paths (lost instruction, no Stop, CLI exiting) run against the
hard fixture TUI in ``test_delivery_hard_cases.py``.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.engine.base import TurnResult
from agent.engine.claude_code import (
    HOOK_EVENTS,
    ClaudeCodeEngine,
    project_settings,
)
from agent.notify_hub import NotifyHub
from agent.tmux_sessions import TmuxSessions
from agent.workspace import Workspace
from tests.tools import claude_bin
from tmux_builder.contracts import ActivityType
from tmux_builder.naming import new_user_id
from tmux_builder.settings import AgentSettings

SECRET = "wJalrXUtnFEMI-test-secret-never-in-a-pane"


def _settings(tmp_path: Path, **overrides: object) -> AgentSettings:
    values: dict[str, object] = {
        "work_dir": tmp_path / "work",
        "tmux_socket": f"tb-test-{secrets.token_hex(6)}",
        "agent_id": "agent-test",
        "turn_timeout_seconds": 120.0,
        **overrides,
    }
    return AgentSettings(**values)  # type: ignore[arg-type]


def _prompt(step: str, task_id: str) -> str:
    return (
        f"# Task: {step}\nTask id: {task_id}\nProvider: aws\nSite type: static\n\n"
        "## Requirements\nA one-page site for a small bakery called Crumb: opening hours, "
        "three breads with prices, and a contact form.\n\n"
        "## Instructions\n1. Do the task and write its files.\n"
    )


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if item)


def _cmdline(pid: int) -> list[str]:
    return [arg.decode() for arg in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if arg]


# -- what prepare() and environment() produce (no CLI needed) ------------------------------


class _NoSessions:
    """prepare/command/environment never touch tmux or the hub."""


def _offline_engine(tmp_path: Path, **overrides: object) -> tuple[ClaudeCodeEngine, Workspace]:
    settings = _settings(tmp_path, claude_bin=sys.executable, **overrides)
    engine = ClaudeCodeEngine(settings, _NoSessions(), _NoSessions())  # type: ignore[arg-type]
    return engine, Workspace(settings.work_dir, new_user_id()).create()


def test_prepare_seeds_trust_and_hooks_and_keeps_cli_state(tmp_path: Path) -> None:
    engine, ws = _offline_engine(tmp_path, model_base_url="http://127.0.0.1:9")
    (ws.home / ".claude.json").write_text(json.dumps({"numStartups": 7, "projects": {}}))

    engine.prepare(ws, "http://127.0.0.1:1", "token-not-written-anywhere")

    state = json.loads((ws.home / ".claude.json").read_text())
    assert state["numStartups"] == 7
    assert state["hasCompletedOnboarding"] is True
    assert state["projects"][os.path.realpath(ws.dir)]["hasTrustDialogAccepted"] is True
    settings = json.loads(ws.project_settings_path.read_text())
    assert settings == project_settings()
    assert settings["permissions"]["allow"] == ["Read", "Write", "Edit", "Bash"]
    assert set(settings["hooks"]) == {event.value for event in HOOK_EVENTS}
    stop_command = settings["hooks"]["Stop"][0]["hooks"][0]["command"]
    assert stop_command.startswith(sys.executable) and stop_command.endswith("hook Stop")
    assert not (ws.dir / ".claude.json").exists()
    for path in [*ws.dir.rglob("*"), *ws.home.rglob("*")]:
        if path.is_file():
            assert "token-not-written-anywhere" not in path.read_text()


def test_environment_offline_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-" + "ant-operator-key")  # not a real key
    engine, ws = _offline_engine(
        tmp_path, model_base_url="http://127.0.0.1:9", model="m-1", effort="high"
    )

    env = engine.environment(ws, "http://127.0.0.1:1", "tok")

    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9"
    assert env["ANTHROPIC_AUTH_TOKEN"] == "offline"
    assert "ANTHROPIC_API_KEY" not in env
    assert env["HOME"] == str(ws.home)
    assert env["TMUX_BUILDER_NOTIFY_URL"] == "http://127.0.0.1:1"
    assert env["TMUX_BUILDER_NOTIFY_TOKEN"] == "tok"
    assert env["DISABLE_AUTOUPDATER"] == "1"
    assert not [key for key in env if key.startswith("AWS_")]
    assert engine.command(ws) == [
        sys.executable,
        "--permission-mode",
        "acceptEdits",
        "--model",
        "m-1",
        "--effort",
        "high",
    ]


def test_environment_operator_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATEST")
    key = "sk-" + "ant-operator-key-0123456789abcdef"  # built up: scanners flag the literal
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    engine, ws = _offline_engine(tmp_path)

    env = engine.environment(ws, "http://127.0.0.1:1", "tok")
    engine.prepare(ws, "http://127.0.0.1:1", "tok")

    assert env["ANTHROPIC_API_KEY"] == key
    assert "AWS_SECRET_ACCESS_KEY" not in env and "AWS_ACCESS_KEY_ID" not in env
    state = json.loads((ws.home / ".claude.json").read_text())
    # The CLI's own record of an approved key (its last 20 characters), so no dialog blocks.
    assert state["customApiKeyResponses"]["approved"] == [key[-20:]]


# -- real CLI ------------------------------------------------------------------------------


@dataclass
class _Rig:
    settings: AgentSettings
    sessions: TmuxSessions
    hub: NotifyHub
    engine: ClaudeCodeEngine
    ws: Workspace
    activities: list[tuple[str, ActivityType, str]]


def _claude_bin() -> str:
    return claude_bin()


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Rig]:
    from tmux_builder.offline_model.server import OfflineModelServer

    claude_bin = _claude_bin()
    # The agent's work folder inside someone else's git checkout (as `make run` in a clone
    # has it): the CLI must still start without its folder-trust dialog.
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    model = OfflineModelServer(host="127.0.0.1", port=0).start()
    activities: list[tuple[str, ActivityType, str]] = []
    lock = threading.Lock()

    def record(user_id: str, kind: ActivityType, message: str) -> None:
        with lock:
            activities.append((user_id, kind, message))

    hub = NotifyHub(on_activity=record).start()
    settings = _settings(tmp_path, claude_bin=claude_bin, model_base_url=model.url)
    sessions = TmuxSessions(settings.tmux_socket, settings.agent_id)
    engine = ClaudeCodeEngine(settings, sessions, hub)
    ws = Workspace(settings.work_dir, new_user_id()).create()
    ws.write_instructions("You build websites. Keep code in code/.\n")
    try:
        yield _Rig(settings, sessions, hub, engine, ws, activities)
    finally:
        for cleanup in (sessions.kill_server, hub.stop, model.stop):
            try:
                cleanup()
            except Exception as error:  # never hide the test's own failure
                warnings.warn(f"cleanup failed: {error!r}", stacklevel=1)


@pytest.mark.tmux
@pytest.mark.claude
def test_two_turns_in_a_row_return_the_stop_hooks_message(rig: _Rig) -> None:
    ws, hub = rig.ws, rig.hub
    rig.engine.ensure_started(ws)

    pid = rig.sessions.pane_pid(ws.user_id)
    env = _environ(pid)
    assert not [key for key in env if key.startswith("AWS_")]
    assert SECRET not in "".join(env.values())
    assert env["HOME"] == str(ws.home)
    assert rig.sessions.pane_format(ws.user_id, "#{pane_current_path}") == str(ws.dir)

    plan = rig.engine.run_turn(
        ws, "create_plan-test-a0", _prompt("create_plan", "create_plan-test-a0")
    )
    code = rig.engine.run_turn(
        ws, "generate_code-test-a0", _prompt("generate_code", "generate_code-test-a0")
    )

    for result in (plan, code):
        assert isinstance(result, TurnResult)
        stop = hub.stop_info(ws.user_id, result.prompt_id)
        assert stop is not None
        assert result.last_message == stop.last_assistant_message != ""
    assert plan.prompt_id != code.prompt_id
    assert (ws.dir / "plan.md").is_file()
    assert (ws.code_dir / "index.html").is_file()
    messages = [message for _, _, message in rig.activities]
    assert "Reading prompts/create_plan-test-a0.txt" in messages
    # A redelivered task is not submitted again: the recorded turn is returned.
    again = rig.engine.run_turn(ws, "create_plan-test-a0", "ignored")
    assert again.prompt_id == plan.prompt_id
    assert rig.sessions.pane_pid(ws.user_id) == pid, "one CLI process for all turns"


@pytest.mark.tmux
@pytest.mark.claude
def test_restarted_agent_resumes_the_conversation(rig: _Rig) -> None:
    ws = rig.ws
    first = rig.engine.run_turn(
        ws, "create_plan-test-a0", _prompt("create_plan", "create_plan-test-a0")
    )
    recorded = ws.recorded_cli_session()
    assert recorded is not None
    old_pid = rig.sessions.pane_pid(ws.user_id)

    # A new agent process: new hub (the running pane holds a token it does not know).
    new_hub = NotifyHub().start()
    try:
        engine = ClaudeCodeEngine(rig.settings, rig.sessions, new_hub)
        assert set(rig.sessions.adopt()) == {ws.user_id}
        second = engine.run_turn(
            ws, "generate_code-test-a0", _prompt("generate_code", "generate_code-test-a0")
        )

        pid = rig.sessions.pane_pid(ws.user_id)
        assert pid != old_pid
        assert _cmdline(pid)[-2:] == ["--resume", recorded.session_id]
        start = new_hub.session_start(ws.user_id)
        assert start is not None and start.source == "resume"
        assert second.last_message and second.prompt_id != first.prompt_id
    finally:
        rig.sessions.kill(ws.user_id)
        new_hub.stop()


@pytest.mark.tmux
@pytest.mark.claude
def test_unresumable_conversation_falls_back_to_a_fresh_start(rig: _Rig) -> None:
    ws = rig.ws
    transcript = ws.home / "lost.jsonl"
    transcript.write_text("not a transcript\n")
    ws.record_cli_session("00000000-0000-4000-8000-000000000000", str(transcript))

    rig.engine.ensure_started(ws)

    start = rig.hub.session_start(ws.user_id)
    assert start is not None and start.source == "startup"
    recorded = ws.recorded_cli_session()
    assert recorded is not None and recorded.session_id == start.session_id
