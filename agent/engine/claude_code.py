"""The Claude Code CLI (pinned 2.1.329) as the engine in the pane.

Unattended start needs three things the CLI otherwise asks a person for: onboarding done and
the session folder trusted (``$HOME/.claude.json``), and tool permissions
(``.claude/settings.json`` allows Read, Write, Edit and Bash; ``--permission-mode acceptEdits``).
Bypass mode is not used: as root it refuses to start without ``IS_SANDBOX``.

Any other tool (WebFetch, WebSearch...) would make the CLI ask, and nobody is there to answer.
The ``PermissionRequest`` hook answers for that person, always "deny" with a message the model
reads (checked with 2.1.329: the tool result is an error carrying the message, no dialog shows,
the model goes on and the turn ends with ``Stop``). The decision is printed by the hook command
itself, so it holds even when the hub is unreachable; the hub only hears of the ask, for the
activity line. Should a dialog show anyway, the engine answers it with Escape (see
:mod:`agent.engine.base`); 2.1.329 then ends the turn ("Interrupted") without ``Stop``.

State comes from hooks configured in the session's ``.claude/settings.json``; each runs
``<this python> -I -m agent.notify_client hook <Event>``, which POSTs the hook's JSON to the
notify hub. The interpreter's absolute path makes the hook independent of the pane's PATH, and
``-I`` keeps the session folder (the hook's cwd) off ``sys.path``.

Readiness: SessionStart fires before the UI is drawn. The input is ready when the TUI has taken
the terminal: the pane switches to the alternate screen (and mouse reporting) in the same frame
as the input box appears, 0.1-0.2 s after SessionStart. :meth:`wait_input_ready` waits for
``#{alternate_on}``, a terminal mode tmux tracks, not text on the screen. (Bytes pasted earlier
wait in the pty and were taken in every trial too; the wait makes it certain rather than likely.)
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.engine.base import Engine, EngineExited, EngineNotReady
from agent.notify_client import TOKEN_ENV, URL_ENV
from agent.notify_hub import HookEvent
from agent.pane_user import PaneUserError, pane_user_from_setting
from agent.workspace import atomic_write, read_regular_text

if TYPE_CHECKING:
    from agent.notify_hub import NotifyHub, SessionStartInfo, StopInfo
    from agent.pane_user import PaneUser
    from agent.tmux_sessions import TmuxSessions
    from agent.workspace import Workspace
    from tmux_builder.settings import AgentSettings

logger = logging.getLogger(__name__)

_PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CLAUDE_BIN = _PROJECT_ROOT / "node_modules" / ".bin" / "claude"
ALLOWED_TOOLS = ["Read", "Write", "Edit", "Bash"]
HOOK_EVENTS = (
    HookEvent.SESSION_START,
    HookEvent.USER_PROMPT_SUBMIT,
    HookEvent.PRE_TOOL_USE,
    HookEvent.POST_TOOL_USE,
    HookEvent.STOP,
    HookEvent.NOTIFICATION,
    HookEvent.PERMISSION_REQUEST,
    HookEvent.SESSION_END,
)
_TOOL_EVENTS = frozenset({HookEvent.PRE_TOOL_USE, HookEvent.POST_TOOL_USE})
# Seconds Claude Code gives a hook; the client itself gives up after 10 s.
HOOK_TIMEOUT_SECONDS = 15
OFFLINE_AUTH_TOKEN = "offline"
# What the model reads when it asks for a tool beyond ALLOWED_TOOLS.
PERMISSION_DENIED_MESSAGE = (
    "Permission denied: this session runs unattended and only allows "
    + ", ".join(ALLOWED_TOOLS)
    + ". Do the task without this tool, and say in your answer what you could not do."
)
# Model-backend variables passed through from the agent's environment when no model_base_url is
# configured. Deliberately absent: AWS access keys, profiles and Google credential files (no cloud
# credential ever enters the AI's environment); Bedrock works with its API key.
MODEL_ENV_PASSTHROUGH = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_MODEL",
    "ANTHROPIC_SMALL_FAST_MODEL",
    "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "CLAUDE_CODE_USE_BEDROCK",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_REGION",
    "ANTHROPIC_BEDROCK_BASE_URL",
    "CLAUDE_CODE_USE_VERTEX",
    "CLOUD_ML_REGION",
    "ANTHROPIC_VERTEX_PROJECT_ID",
)
_BASE_PATH = ("/usr/local/bin", "/usr/bin", "/bin")
_TUI_READY_FORMAT = "#{alternate_on}"
_TUI_POLL_SECONDS = 0.02


def resolve_claude_bin(settings: AgentSettings) -> Path:
    """The configured CLI, else the project's pinned install; EngineNotReady if neither exists."""
    candidate = Path(settings.claude_bin) if settings.claude_bin else DEFAULT_CLAUDE_BIN
    if not os.access(candidate, os.X_OK):
        raise EngineNotReady(f"Claude Code CLI not found or not executable: {candidate}")
    return candidate.absolute()


def hook_command(event: HookEvent) -> str:
    """The shell command a hook runs (Claude Code hands hook commands to a shell)."""
    return f"{shlex.quote(sys.executable)} -I -m agent.notify_client hook {event.value}"


def permission_decision() -> dict[str, Any]:
    """The ``PermissionRequest`` hook's answer (its stdout): deny, and tell the model why."""
    return {
        "hookSpecificOutput": {
            "hookEventName": HookEvent.PERMISSION_REQUEST.value,
            "decision": {"behavior": "deny", "message": PERMISSION_DENIED_MESSAGE},
        }
    }


def permission_hook_command() -> str:
    """Report the ask to the hub, then print the denial (whatever the report's outcome)."""
    decision = shlex.quote(json.dumps(permission_decision()))
    return f"{hook_command(HookEvent.PERMISSION_REQUEST)}; printf '%s\\n' {decision}"


def project_settings() -> dict[str, Any]:
    """The session folder's ``.claude/settings.json``: permissions and hooks, no secrets."""
    hooks: dict[str, list[dict[str, Any]]] = {}
    for event in HOOK_EVENTS:
        command = (
            permission_hook_command()
            if event is HookEvent.PERMISSION_REQUEST
            else hook_command(event)
        )
        entry: dict[str, Any] = {
            "hooks": [{"type": "command", "command": command, "timeout": HOOK_TIMEOUT_SECONDS}]
        }
        if event in _TOOL_EVENTS or event is HookEvent.PERMISSION_REQUEST:
            entry["matcher"] = "*"
        hooks[event.value] = [entry]
    return {"permissions": {"allow": list(ALLOWED_TOOLS)}, "hooks": hooks}


class ClaudeCodeEngine(Engine):
    """Claude Code in the user's tmux pane."""

    name = "claude-code"

    def __init__(self, settings: AgentSettings, sessions: TmuxSessions, hub: NotifyHub) -> None:
        super().__init__(sessions, hub, turn_timeout=settings.turn_timeout_seconds)
        self.settings = settings
        # The user the panes run as (the same setting gives it to TmuxSessions in agent.main).
        self.pane_user = pane_user_from_setting(settings.pane_user)

    # -- adapter --------------------------------------------------------------------------

    def prepare(self, ws: Workspace, hub_url: str, token: str) -> None:
        ws.create()
        self._seed_home(ws)
        atomic_write(ws.project_settings_path, json.dumps(project_settings(), indent=2) + "\n")
        if self.pane_user is not None:
            self._share_with_pane_user(ws, self.pane_user)

    def command(self, ws: Workspace) -> list[str]:
        argv = [str(resolve_claude_bin(self.settings)), "--permission-mode", "acceptEdits"]
        if self.settings.model:
            argv += ["--model", self.settings.model]
        if self.settings.effort:
            argv += ["--effort", self.settings.effort]
        recorded = ws.recorded_cli_session()
        # --resume with an id whose transcript is gone exits at once; start fresh instead.
        if recorded is not None and Path(recorded.transcript_path).is_file():
            argv += ["--resume", recorded.session_id]
        return argv

    def environment(self, ws: Workspace, hub_url: str, token: str) -> dict[str, str]:
        env = {
            "HOME": str(ws.home),
            "PATH": _minimal_path(),
            "LANG": os.environ.get("LANG") or "C.UTF-8",
            "SHELL": shutil.which("bash") or "/bin/sh",
            URL_ENV: hub_url,
            TOKEN_ENV: token,
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            # Subagents hand their work back before the turn ends (its Stop means "done").
            "CLAUDE_CODE_DISABLE_BACKGROUND_TASKS": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
        }
        env.update(self._model_environment())
        return env

    def wait_input_ready(self, ws: Workspace, deadline: float) -> None:
        """Wait until the TUI has switched the pane to the alternate screen (see module doc)."""
        while self.sessions.pane_format(ws.user_id, _TUI_READY_FORMAT) != "1":
            if not self.sessions.is_alive(ws.user_id):
                raise EngineExited("Claude Code exited while starting")
            if time.monotonic() >= deadline:
                # Not fatal: delivery is verified by UserPromptSubmit and retried.
                logger.warning("Claude Code UI not on the alternate screen; pasting anyway")
                return
            time.sleep(_TUI_POLL_SECONDS)

    def on_started(self, ws: Workspace, info: SessionStartInfo) -> None:
        ws.record_cli_session(info.session_id, info.transcript_path)

    def on_turn_end(self, ws: Workspace, info: StopInfo) -> None:
        recorded = ws.recorded_cli_session()
        if recorded is None or recorded.session_id != info.session_id:
            ws.record_cli_session(info.session_id, info.transcript_path)

    def forget_conversation(self, ws: Workspace) -> bool:
        had_one = ws.recorded_cli_session() is not None
        ws.forget_cli_session()
        return had_one

    # -- internals ------------------------------------------------------------------------

    def _model_environment(self) -> dict[str, str]:
        if self.settings.model_base_url:
            # Bearer auth: with ANTHROPIC_API_KEY the CLI would ask to approve the key.
            return {
                "ANTHROPIC_BASE_URL": self.settings.model_base_url,
                "ANTHROPIC_AUTH_TOKEN": OFFLINE_AUTH_TOKEN,
            }
        return {key: os.environ[key] for key in MODEL_ENV_PASSTHROUGH if os.environ.get(key)}

    def _share_with_pane_user(self, ws: Workspace, user: PaneUser) -> None:
        """Hand the session folder and HOME to the pane user; fail now if it cannot start."""
        try:
            user.share(ws)
            user.check_access(
                executable=[resolve_claude_bin(self.settings), Path(sys.executable)],
                readable=[ws.project_settings_path, ws.home / ".claude.json"],
                writable=[ws.dir, ws.code_dir, ws.home],
            )
        except PaneUserError as error:
            raise EngineNotReady(str(error)) from None

    def _seed_home(self, ws: Workspace) -> None:
        """Merge what an unattended start needs into ``$HOME/.claude.json``.

        Merged, not overwritten: the CLI keeps its own state in the same file.
        """
        path = ws.home / ".claude.json"
        try:
            # The CLI's file (it may have made it a link or a pipe; then it starts over).
            state = json.loads(read_regular_text(path) or "{}")
        except ValueError:
            state = {}
        if not isinstance(state, dict):
            state = {}
        state["hasCompletedOnboarding"] = True
        projects = state.setdefault("projects", {})
        project = projects.setdefault(os.path.realpath(ws.dir), {})
        project["hasTrustDialogAccepted"] = True
        api_key = self._model_environment().get("ANTHROPIC_API_KEY")
        if api_key:
            # Otherwise a "use this API key?" dialog (default No) blocks the start.
            responses = state.setdefault("customApiKeyResponses", {"approved": [], "rejected": []})
            approved = responses.setdefault("approved", [])
            if api_key[-20:] not in approved:
                approved.append(api_key[-20:])
        atomic_write(path, json.dumps(state, indent=2) + "\n", mode=0o600)


def _minimal_path() -> str:
    """System directories, then this interpreter's bin (for ``tmux-builder-notify``) last."""
    parts = list(_BASE_PATH)
    tools_dir = str(Path(sys.executable).parent)
    if tools_dir not in parts:
        parts.append(tools_dir)
    return ":".join(parts)
