"""The Claude Code engine on the offline model's scripted hard cases, with the real CLI in tmux.

Each case is asked for by a marker in the task's prompt file (``tmux_builder.offline_model.
scenarios``): a slow turn runs into the turn timeout, a failing tool call is recovered from, and a
tool the session does not allow (WebFetch) is denied, by the PermissionRequest hook or, when a
dialog shows anyway, by the engine pressing Escape on the hub's Notification.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.engine.base import PermissionDenied, TurnTimeout, permission_denied_line
from agent.engine.claude_code import PERMISSION_DENIED_MESSAGE, ClaudeCodeEngine
from agent.notify_hub import HookEvent, HookPayload, NotifyHub, PermissionAsk
from agent.tmux_sessions import TmuxSessions
from agent.workspace import Workspace
from tests.tools import claude_bin
from tmux_builder.contracts import ActivityType
from tmux_builder.naming import new_user_id
from tmux_builder.offline_model.scenarios import PERMISSION_URL, TOOL_ERROR_COMMAND
from tmux_builder.settings import AgentSettings

DENIED_LINE = permission_denied_line("WebFetch")


def _prompt(step: str, task_id: str, marker: str = "") -> str:
    return (
        f"# Task: {step}\nTask id: {task_id}\nProvider: aws\nSite type: static\n\n"
        "## Requirements\nA one-page site for a small bakery called Crumb: opening hours, "
        f"three breads with prices, and a contact form.\n{marker}\n\n"
        "## Instructions\n1. Do the task and write its files.\n"
    )


@dataclass
class _Rig:
    settings: AgentSettings
    sessions: TmuxSessions
    hub: NotifyHub
    ws: Workspace
    activities: list[str]

    def engine(self, cls: type[ClaudeCodeEngine] = ClaudeCodeEngine) -> ClaudeCodeEngine:
        return cls(self.settings, self.sessions, self.hub)

    def messages(self) -> list[str]:
        return list(self.activities)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[_Rig]:
    from tmux_builder.offline_model.server import OfflineModelServer

    binary = claude_bin()
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    model = OfflineModelServer(host="127.0.0.1", port=0).start()
    activities: list[str] = []
    lock = threading.Lock()

    def record(user_id: str, kind: ActivityType, message: str) -> None:
        with lock:
            activities.append(message)

    hub = NotifyHub(on_activity=record).start()
    settings = AgentSettings(
        work_dir=tmp_path / "work",
        tmux_socket=f"tb-hard-{secrets.token_hex(6)}",
        agent_id="agent-test",
        turn_timeout_seconds=60.0,
        claude_bin=binary,
        model_base_url=model.url,
    )
    sessions = TmuxSessions(settings.tmux_socket, settings.agent_id)
    ws = Workspace(settings.work_dir, new_user_id()).create()
    ws.write_instructions("You build websites. Keep code in code/.\n")
    try:
        yield _Rig(settings, sessions, hub, ws, activities)
    finally:
        for cleanup in (sessions.kill_server, hub.stop, model.stop):
            try:
                cleanup()
            except Exception as error:  # never hide the test's own failure
                warnings.warn(f"cleanup failed: {error!r}", stacklevel=1)


def _wait_for(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


# -- real CLI ------------------------------------------------------------------------------


@pytest.mark.tmux
@pytest.mark.claude
def test_slow_turn_times_out_with_the_pane_tail(rig: _Rig) -> None:
    engine, ws = rig.engine(), rig.ws
    engine.ensure_started(ws)
    task = "create_plan-slow-a0"

    started = time.monotonic()
    with pytest.raises(TurnTimeout) as caught:
        engine.run_turn(
            ws, task, _prompt("create_plan", task, "[offline-model: slow 8s]"), timeout=2.5
        )

    assert time.monotonic() - started < 6
    assert "did not end within 2.5 s" in str(caught.value)
    assert f"Read prompts/{task}.txt" in caught.value.pane_tail
    # The CLI's state is unknown after a timeout: its session is gone, the next turn restarts.
    assert not rig.sessions.is_alive(ws.user_id)
    assert not (ws.dir / "plan.md").exists()


@pytest.mark.tmux
@pytest.mark.claude
def test_tool_error_is_recovered_from_and_the_files_are_written(rig: _Rig) -> None:
    engine, ws = rig.engine(), rig.ws
    task = "create_plan-toolerr-a0"

    result = engine.run_turn(ws, task, _prompt("create_plan", task, "[offline-model: tool-error]"))

    assert result.last_message.startswith("Wrote `plan.md`")
    assert "Recovered from a tool error" in result.last_message
    assert "Exit code 1" in result.last_message
    plan = (ws.dir / "plan.md").read_text()
    assert "Crumb" in plan and "offline-model" not in plan
    assert (ws.dir / f"summary-{task}.md").is_file()
    assert f"Running {TOOL_ERROR_COMMAND}" in rig.messages()
    assert result.denied_permissions == ()


@pytest.mark.tmux
@pytest.mark.claude
def test_permission_ask_is_denied_by_the_hook_and_the_turn_goes_on(rig: _Rig) -> None:
    engine, ws = rig.engine(), rig.ws
    task = "create_plan-perm-a0"

    result = engine.run_turn(ws, task, _prompt("create_plan", task, "[offline-model: permission]"))

    assert result.denied_permissions == ("WebFetch",)
    assert f"asked for permission to use WebFetch on {PERMISSION_URL}; it was denied" in (
        result.last_message
    )
    # The model read the hook's message: the policy, not a person's "no".
    assert "runs unattended" in result.last_message
    assert (ws.dir / "plan.md").is_file()
    _wait_for(lambda: DENIED_LINE in rig.messages())
    assert rig.messages().count(DENIED_LINE) == 1
    assert "Claude needs your permission" not in rig.messages()
    assert not (ws.dir / ".claude" / "settings.local.json").exists(), "no rule was added"


class _NoPermissionHookEngine(ClaudeCodeEngine):
    """Settings without the PermissionRequest hook: the CLI shows its dialog and waits."""

    def prepare(self, ws: Workspace, hub_url: str, token: str) -> None:
        super().prepare(ws, hub_url, token)
        settings = json.loads(ws.project_settings_path.read_text())
        del settings["hooks"][HookEvent.PERMISSION_REQUEST.value]
        ws.project_settings_path.write_text(json.dumps(settings))


@pytest.mark.tmux
@pytest.mark.claude
def test_a_permission_dialog_is_denied_with_escape_and_the_turn_fails_clearly(
    rig: _Rig,
) -> None:
    engine, ws = rig.engine(_NoPermissionHookEngine), rig.ws
    task = "create_plan-dialog-a0"

    started = time.monotonic()
    with pytest.raises(PermissionDenied) as caught:
        engine.run_turn(ws, task, _prompt("create_plan", task, "[offline-model: permission]"))
    elapsed = time.monotonic() - started

    # Notification comes ~6 s after the dialog; the engine notices within a liveness slice.
    assert elapsed < 20
    assert "permission dialog for WebFetch" in str(caught.value)
    # The tail is captured when the engine gives up; the dialog (or its dismissal) is in it.
    assert "WebFetch" in caught.value.pane_tail or "example.com" in caught.value.pane_tail
    _wait_for(lambda: DENIED_LINE in rig.messages())
    assert "Claude needs your permission" not in rig.messages()
    assert not (ws.dir / "plan.md").exists()
    # Escape left the CLI at its input: the next turn runs in the same process.
    pid = rig.sessions.pane_pid(ws.user_id)
    task = "create_plan-after-a0"
    result = engine.run_turn(ws, task, _prompt("create_plan", task))
    assert result.last_message.startswith("Wrote `plan.md`")
    assert rig.sessions.pane_pid(ws.user_id) == pid


# -- the hub's side, no CLI ----------------------------------------------------------------


def test_hub_names_the_tool_of_a_permission_dialog_and_leaves_reporting_to_the_watcher() -> None:
    activities: list[str] = []
    asks: list[PermissionAsk] = []
    hub = NotifyHub(on_activity=lambda _u, _k, message: activities.append(message)).start()
    try:
        user = new_user_id()
        hub.register(user)
        hub.on_permission(user, lambda _user, ask: asks.append(ask))
        base = {"session_id": "s1"}
        fetch = {"url": PERMISSION_URL, "prompt": "x"}
        hub.handle_hook(
            user,
            HookEvent.PRE_TOOL_USE,
            HookPayload(**base, tool_name="WebFetch", tool_input=fetch),
        )
        hub.handle_hook(
            user,
            HookEvent.PERMISSION_REQUEST,
            HookPayload(**base, tool_name="WebFetch", tool_input=fetch),
        )
        notice = {"message": "Claude needs your permission"}
        hub.handle_hook(
            user,
            HookEvent.NOTIFICATION,
            HookPayload(**base, **notice, notification_type="permission_prompt"),
        )
        hub.handle_hook(
            user,
            HookEvent.NOTIFICATION,
            HookPayload(**base, message="Claude is waiting", notification_type="idle_prompt"),
        )
        # Older CLIs: no notification_type, the tool in the message.
        hub.handle_hook(
            user,
            HookEvent.NOTIFICATION,
            HookPayload(**base, message="Claude needs your permission to use WebSearch"),
        )
        _wait_for(lambda: len(activities) >= 1)
    finally:
        hub.stop()

    assert asks == [
        PermissionAsk("WebFetch", fetch, dialog=False),
        PermissionAsk("WebFetch", fetch, dialog=True, message="Claude needs your permission"),
        PermissionAsk(
            "WebSearch",
            fetch,
            dialog=True,
            message="Claude needs your permission to use WebSearch",
        ),
    ]
    assert activities == ["Fetching https://example.com/"]


def test_the_denial_message_names_the_allowed_tools() -> None:
    assert "Read, Write, Edit, Bash" in PERMISSION_DENIED_MESSAGE
