"""What every AI coding CLI adapter provides, and the turn flow they all share.

An engine is a CLI running in the user's tmux pane. Adding another CLI means one new module
implementing :meth:`Engine.prepare`, :meth:`Engine.command` and :meth:`Engine.environment`
(and, if its UI needs it, :meth:`Engine.wait_input_ready`); starting, prompt delivery and
waiting for the end of a turn are here, driven by the notify hub's signals, never by the screen.

A turn: the prompt is written to ``prompts/{task_id}.txt``; one line naming that file is pasted
into the pane; the hub confirms the CLI took it (``UserPromptSubmit`` naming the file) and then
reports the end of the turn (``Stop``). Turns of one user are serialized, so queued messages
reach the CLI in order.

Delivery assumes what every TUI does: it shows its input, and an Enter on an empty input submits
nothing. The line is pasted without Enter; Enter follows once the pane shows the line (a CLI that
is busy or not yet reading drops a paste, and a paste that never shows is pasted again). Enter is
pressed again while the line stays on the screen without a ``UserPromptSubmit`` (a TUI may
swallow an Enter that arrives too soon after a paste). Once the line has left the screen the CLI
took it: it is never pasted again, however late its signal (that would submit it twice).
``tests/fixtures/hard_tui.py`` plays each of these cases.

Permission asks: the agent never grants a permission the session's settings do not (nobody is
there to judge one). An adapter denies asks before any dialog where its CLI allows it (Claude
Code: the ``PermissionRequest`` hook answers "deny", the model is told and goes on; see
``claude_code.py``). A dialog that shows anyway is reported by the hub (``Notification``
``permission_prompt``) and denied with :attr:`Engine.deny_permission_key`; in Claude Code that
key ends the whole turn, so :meth:`Engine.run_turn` then raises :class:`PermissionDenied` at
once instead of waiting for a ``Stop`` that will not come. Either way the user's activity gets
"The AI asked for permission to use <tool>; denied".
"""

from __future__ import annotations

import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn, TypeVar

from agent.notify_hub import HubTimeout, PermissionAsk, SessionEnded, UnknownUser
from agent.tmux_sessions import HEIGHT, PASTE_SETTLE_SECONDS, TmuxSessionError
from tmux_builder.contracts import ActivityType

if TYPE_CHECKING:
    from agent.notify_hub import NotifyHub, SessionStartInfo, StopInfo
    from agent.tmux_sessions import TmuxSessions
    from agent.workspace import Workspace

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

PANE_TAIL_LINES = 100
_SHOWN_POLL_SECONDS = 0.02


class EngineError(RuntimeError):
    """Base of the engine errors; ``pane_tail`` holds the pane's last lines for diagnostics."""

    def __init__(self, message: str, pane_tail: str = "") -> None:
        super().__init__(message)
        self.pane_tail = pane_tail


class EngineNotReady(EngineError):
    """The CLI did not come up (no SessionStart in time, or it exited while starting)."""


class _StartFailed(EngineNotReady):
    """The CLI was launched but never became ready (as opposed to not launching at all)."""


class PromptNotDelivered(EngineError):
    """The CLI never confirmed taking the instruction line, after every retry."""


class TurnTimeout(EngineError):
    """The turn did not end within its timeout."""


class EngineExited(EngineError):
    """The CLI exited (or announced SessionEnd) in the middle of a turn."""


class PermissionDenied(EngineError):
    """The turn stopped at a permission dialog; the agent denied it, which ended the turn."""


def permission_denied_line(tool_name: str) -> str:
    """The activity line for a denied permission ask."""
    return f"The AI asked for permission to use {tool_name}; denied"


@dataclass(frozen=True)
class TurnResult:
    task_id: str
    prompt_id: str
    last_message: str
    duration_seconds: float
    # Tools the AI asked permission for during the turn (each denied), in order.
    denied_permissions: tuple[str, ...] = ()


@dataclass
class _TurnWatch:
    """What happened to permissions during the turn in progress."""

    task_id: str
    denied: list[str] = field(default_factory=list)
    hook_denied: set[tuple[str, str]] = field(default_factory=set)
    interrupted_by: str | None = None


class Engine(ABC):
    """A CLI in a tmux pane, driven by prompt files and hook signals.

    Parameters
    ----------
    sessions:
        The agent's tmux sessions.
    hub:
        The started notify hub the CLI's hooks report to.
    turn_timeout:
        Default seconds a turn may take.
    """

    name: str = "engine"
    start_timeout_seconds: float = 30.0
    # Budget for getting the line submitted (pastes and Enters); Enter to UserPromptSubmit takes
    # 15-40 ms, so 5 s only runs out when the CLI does not take input at all.
    submit_timeout_seconds: float = 5.0
    # Pastes of one instruction at most (a paste counts as dropped when it is not shown in time).
    max_deliveries: int = 3
    # Claude Code shows a pasted line 0.1-0.2 s after the paste.
    paste_shown_timeout_seconds: float = 1.0
    # No UserPromptSubmit this long after Enter, with the line still shown: press Enter again.
    enter_retry_seconds: float = 0.3
    # A line that left the screen was taken: its UserPromptSubmit may be late, never absent.
    confirm_timeout_seconds: float = 30.0
    # How often a long wait also checks that the CLI has not died without saying so (and that
    # a denied permission dialog has not ended the turn).
    liveness_interval_seconds: float = 2.0
    # The key that answers a permission dialog "No" (Claude Code: option 3 "No ... (esc)").
    deny_permission_key: str = "Escape"

    def __init__(self, sessions: TmuxSessions, hub: NotifyHub, turn_timeout: float) -> None:
        self.sessions = sessions
        self.hub = hub
        self.turn_timeout = turn_timeout
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._turns: dict[str, _TurnWatch] = {}
        self._turns_guard = threading.Lock()

    # -- what an adapter provides ----------------------------------------------------------

    @abstractmethod
    def prepare(self, ws: Workspace, hub_url: str, token: str) -> None:
        """Seed the CLI's HOME and the session folder's settings (hooks, permissions)."""

    @abstractmethod
    def command(self, ws: Workspace) -> list[str]:
        """The CLI's argv."""

    @abstractmethod
    def environment(self, ws: Workspace, hub_url: str, token: str) -> dict[str, str]:
        """The pane's complete environment (nothing else is inherited)."""

    def instruction(self, ws: Workspace, task_id: str) -> str:
        """The one line pasted into the pane for a task."""
        return f"Read {ws.prompt_relpath(task_id)} and do what it says."

    def wait_input_ready(self, ws: Workspace, deadline: float) -> None:  # noqa: B027
        """Block until the CLI's input accepts a paste (after SessionStart); default: at once.

        Raise :class:`EngineNotReady` when it never does (e.g. a dialog holds the screen).
        """

    def on_started(self, ws: Workspace, info: SessionStartInfo) -> None:  # noqa: B027
        """Called once the CLI is up (e.g. to record its conversation id)."""

    def on_turn_end(self, ws: Workspace, info: StopInfo) -> None:  # noqa: B027
        """Called after each completed turn."""

    def forget_conversation(self, ws: Workspace) -> bool:
        """Drop what makes the next start resume; True if there was something to drop.

        Used when a start fails, so a broken resume is retried once as a fresh conversation.
        """
        return False

    # -- shared flow ----------------------------------------------------------------------

    def ensure_started(self, ws: Workspace) -> None:
        """Start the CLI in the user's session unless it already runs and reports to the hub."""
        with self._user_lock(ws.user_id):
            self._ensure_started(ws)

    def run_turn(
        self, ws: Workspace, task_id: str, prompt_text: str, timeout: float | None = None
    ) -> TurnResult:
        """Hand one prompt to the CLI and wait for the end of its turn.

        A task whose instruction this CLI session already took (a redelivered queue message) is
        not submitted again: its turn is awaited (or its result returned) instead.

        Raises :class:`EngineNotReady`, :class:`PromptNotDelivered`, :class:`TurnTimeout` or
        :class:`EngineExited`, each with the pane's last lines. After a timeout or a lost
        instruction the session is killed: the CLI's state is unknown, and the next turn starts
        it again (resuming the conversation).
        """
        timeout = self.turn_timeout if timeout is None else timeout
        user_id = ws.user_id
        with self._user_lock(user_id):
            started = time.monotonic()
            self._ensure_started(ws)
            watch = _TurnWatch(task_id)
            with self._turns_guard:
                self._turns[user_id] = watch
            try:
                info, prompt_id = self._turn(ws, task_id, prompt_text, timeout, started, watch)
            finally:
                with self._turns_guard:
                    self._turns.pop(user_id, None)
            self.on_turn_end(ws, info)
            return TurnResult(
                task_id=task_id,
                prompt_id=prompt_id,
                last_message=info.last_assistant_message,
                duration_seconds=time.monotonic() - started,
                denied_permissions=tuple(watch.denied),
            )

    def deny_permission_dialog(self, user_id: str) -> None:
        """Answer the permission dialog on the user's screen "No" (one key, no screen reading)."""
        self.sessions.send_key(user_id, self.deny_permission_key)

    def stop(self, user_id: str) -> None:
        """Kill the user's CLI session and revoke its hub token (late signals are refused)."""
        self.hub.unregister(user_id)
        try:
            self.sessions.kill(user_id)
        except TmuxSessionError as error:
            logger.warning("could not kill session: %s", error)

    # -- internals ------------------------------------------------------------------------

    def _turn(
        self,
        ws: Workspace,
        task_id: str,
        prompt_text: str,
        timeout: float,
        started: float,
        watch: _TurnWatch,
    ) -> tuple[StopInfo, str]:
        user_id = ws.user_id
        prompt_id = self.hub.submitted_prompt(user_id, task_id)
        if prompt_id is None:
            ws.write_prompt(task_id, prompt_text)
            prompt_id = self._deliver(ws, task_id)

        def stopped(seconds: float) -> StopInfo:
            if watch.interrupted_by is not None:
                raise PermissionDenied(
                    f"{self.name}: turn {task_id} stopped at a permission dialog for "
                    f"{watch.interrupted_by}; the agent never grants permissions unattended, "
                    "and denying the dialog ended the turn",
                    self._pane_tail(user_id),
                )
            return self.hub.wait_stopped(user_id, prompt_id, seconds)

        remaining = timeout - (time.monotonic() - started)
        try:
            return self._await(ws, stopped, remaining), prompt_id
        except HubTimeout:
            tail = self._pane_tail(user_id)
            self.stop(user_id)
            denied = f" (denied permission for {', '.join(watch.denied)})" if watch.denied else ""
            raise TurnTimeout(
                f"{self.name}: turn {task_id} did not end within {timeout:g} s{denied}", tail
            ) from None

    def _permission_asked(self, user_id: str, ask: PermissionAsk) -> None:
        """The hub's callback for the CLI's permission asks: deny, report, end a stuck turn.

        A ``PermissionRequest`` hook was already answered "deny" by the hook itself (the
        adapter's settings); a dialog on the screen gets :attr:`deny_permission_key`. The same
        ask reported by both (a hook that decided nothing) gives one activity line.
        """
        ask_key = (ask.tool_name, json.dumps(ask.tool_input, sort_keys=True, default=str))
        with self._turns_guard:
            watch = self._turns.get(user_id)
            reported = watch is not None and ask_key in watch.hook_denied
            if watch is not None:
                if ask.dialog:
                    watch.interrupted_by = ask.tool_name
                else:
                    watch.hook_denied.add(ask_key)
                if not reported:
                    watch.denied.append(ask.tool_name)
        if ask.dialog:
            try:
                self.deny_permission_dialog(user_id)
            except TmuxSessionError as error:
                logger.warning("could not answer a permission dialog: %s", error)
        logger.warning(
            "%s: denied a permission ask for %s",
            self.name,
            ask.tool_name,
            extra={"via": "dialog" if ask.dialog else "hook"},
        )
        if not reported:
            self.hub.report(user_id, ActivityType.STATUS, permission_denied_line(ask.tool_name))

    def _user_lock(self, user_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(user_id, threading.Lock())

    def _ensure_started(self, ws: Workspace) -> None:
        user_id = ws.user_id
        if (
            self.hub.is_registered(user_id)
            and self.hub.session_start(user_id) is not None
            and self.sessions.is_alive(user_id)
        ):
            return
        try:
            self._start(ws)
        except _StartFailed as error:
            if not self.forget_conversation(ws):
                raise
            logger.warning("%s: %s; retrying without resuming", self.name, error)
            self._start(ws)

    def _start(self, ws: Workspace) -> None:
        user_id = ws.user_id
        # A session the hub cannot vouch for (e.g. adopted after an agent restart) holds an
        # old token: restart it so its signals reach this hub.
        self.stop(user_id)
        ws.create()
        token = self.hub.register(user_id)
        self.hub.on_permission(user_id, self._permission_asked)
        self.prepare(ws, self.hub.url, token)
        self.sessions.ensure(
            user_id, ws.dir, self.command(ws), self.environment(ws, self.hub.url, token)
        )
        deadline = time.monotonic() + self.start_timeout_seconds
        try:
            info = self._await(
                ws, lambda t: self.hub.wait_ready(user_id, t), self.start_timeout_seconds
            )
            self.wait_input_ready(ws, deadline)
        except (HubTimeout, EngineExited, EngineNotReady) as error:
            tail = self._pane_tail(user_id)
            self.stop(user_id)
            raise _StartFailed(f"{self.name} did not start: {error}", tail) from None
        logger.info("%s started", self.name, extra={"cli_session_id": info.session_id})
        self.on_started(ws, info)

    def _deliver(self, ws: Workspace, task_id: str) -> str:
        """Paste the instruction and make sure it is submitted exactly once (see module doc)."""
        user_id = ws.user_id
        line = self.instruction(ws, task_id)
        deadline = time.monotonic() + self.submit_timeout_seconds
        for _ in range(self.max_deliveries):
            shown_before = self._times_shown(user_id, line)
            self.sessions.paste(user_id, line)
            if self._wait_shown(ws, line, shown_before):
                return self._submit(ws, task_id, line, shown_before, deadline)
            late = self.hub.submitted_prompt(user_id, task_id)
            if late is not None:
                return late
            if time.monotonic() >= deadline:
                break
            logger.warning("%s: pasted instruction not shown; pasting it again", self.name)
        self._not_delivered(ws, f"{task_id} not taken after {self.max_deliveries} pastes")

    def _submit(
        self, ws: Workspace, task_id: str, line: str, shown_before: int, deadline: float
    ) -> str:
        """Press Enter until the shown line is submitted; never paste it again."""
        while True:
            time.sleep(PASTE_SETTLE_SECONDS)
            self.sessions.send_enter(ws.user_id)
            prompt_id = self._confirmed(ws, task_id, line, shown_before)
            if prompt_id is not None:
                return prompt_id
            if time.monotonic() >= deadline:
                self._not_delivered(ws, f"{task_id} shown but Enter never taken")
            logger.warning("%s: instruction not submitted; pressing Enter again", self.name)

    def _confirmed(self, ws: Workspace, task_id: str, line: str, shown_before: int) -> str | None:
        """The prompt id once UserPromptSubmit names the task; None if Enter should be retried.

        While the line is off the screen the CLI has taken it, so its signal is awaited up to
        :attr:`confirm_timeout_seconds`. A line still (or again: a redraw can hide it for a
        moment) on the screen gets another Enter, which is harmless on an empty input.
        """
        deadline = time.monotonic() + self.confirm_timeout_seconds
        while True:
            try:
                return self._await(
                    ws,
                    lambda t: self.hub.wait_submitted(ws.user_id, task_id, t),
                    self.enter_retry_seconds,
                )
            except HubTimeout:
                pass
            if self._times_shown(ws.user_id, line) > shown_before:
                return None
            if time.monotonic() >= deadline:
                self._not_delivered(ws, f"{task_id} taken but never confirmed")

    def _times_shown(self, user_id: str, line: str) -> int:
        return self.sessions.capture(user_id, lines=HEIGHT).count(line)

    def _wait_shown(self, ws: Workspace, line: str, shown_before: int) -> bool:
        """Whether the pane shows one more copy of ``line`` within the paste timeout."""
        deadline = time.monotonic() + self.paste_shown_timeout_seconds
        while self._times_shown(ws.user_id, line) <= shown_before:
            if time.monotonic() >= deadline:
                if not self.sessions.is_alive(ws.user_id):
                    raise EngineExited(f"{self.name} exited", self._pane_tail(ws.user_id))
                return False
            time.sleep(_SHOWN_POLL_SECONDS)
        return True

    def _not_delivered(self, ws: Workspace, message: str) -> NoReturn:
        tail = self._pane_tail(ws.user_id)
        # The line may sit in the input; a fresh start is the only clean state for the next turn.
        self.stop(ws.user_id)
        raise PromptNotDelivered(f"{self.name}: {message}", tail)

    def _await(self, ws: Workspace, wait: Callable[[float], _T], timeout: float) -> _T:
        """Run a hub wait, checking between slices that the CLI is still alive.

        The hub wakes the wait as soon as the signal arrives; the slices only bound how long a
        CLI that died without a SessionEnd goes unnoticed.
        """
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                return wait(max(0.0, min(remaining, self.liveness_interval_seconds)))
            except HubTimeout:
                if remaining <= self.liveness_interval_seconds:
                    raise
            except (SessionEnded, UnknownUser) as error:
                tail = self._pane_tail(ws.user_id)
                raise EngineExited(f"{self.name} session ended: {error}", tail) from None
            if not self.sessions.is_alive(ws.user_id):
                raise EngineExited(f"{self.name} exited", self._pane_tail(ws.user_id))

    def _pane_tail(self, user_id: str) -> str:
        try:
            return self.sessions.capture(user_id, lines=PANE_TAIL_LINES)
        except TmuxSessionError as error:
            return f"(pane not available: {error})"
