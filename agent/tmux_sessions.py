"""One tmux session per user on the agent's private tmux socket.

Why it is built this way:

- The tmux server is started by us with a scrubbed environment (PATH, LANG, TERM only), because
  whatever process starts the server gives every pane its global environment: an agent holding
  AWS credentials must never be that process.
- A pane runs ``env -i K=V ... <command>``: its environment is exactly what the engine asked for,
  whatever the server holds. The command line is built with :func:`shlex.quote` from a list, so no
  user text ever reaches a shell unquoted, and the working directory is set by tmux (``-c``).
- Sessions carry a user option naming the agent that created them; this class only ever acts on
  sessions with its own marker, so two agents (or a person) can share a socket safely.
- Sessions are addressed with ``=name`` targets: tmux otherwise matches session-name prefixes.
- With a pane user (:mod:`agent.pane_user`) each pane's program runs as that unprivileged user,
  umask 0007, while the server stays the agent's: the AI can neither reach the agent's process,
  files and cloud credentials nor connect to the server's socket.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import libtmux
from libtmux import exc as tmux_exc

from agent.pane_user import ENV_BIN, PANE_UMASK
from tmux_builder.naming import tmux_session_name

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from agent.pane_user import PaneUser

logger = logging.getLogger(__name__)

MARKER_OPTION = "@tmux_builder_agent"
SESSION_PREFIX = "tmux_builder_"
WIDTH, HEIGHT = 220, 50
HISTORY_LIMIT = 50_000
PANE_TERM = "tmux-256color"
# Time for a TUI to take in the end of a bracketed paste before Enter arrives; without it some
# TUIs (Claude Code among them) treat the Enter as part of the paste or drop it.
PASTE_SETTLE_SECONDS = 0.1
_ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SERVER_ENV_KEYS = ("PATH", "LANG", "TERM")


class TmuxSessionError(RuntimeError):
    """A tmux operation on a user's session failed."""


class SessionNotFound(TmuxSessionError, LookupError):
    """No session of ours exists for that user."""


class ForeignSession(TmuxSessionError):
    """A session with that name exists but was not created by this agent; it is left alone."""


class TmuxSessions:
    """The user sessions this agent runs on one tmux socket.

    Parameters
    ----------
    socket_name:
        ``tmux -L`` socket name, private to the agent.
    agent_id:
        Written into each session's :data:`MARKER_OPTION`; :meth:`adopt` finds sessions by it.
    pane_user:
        The user the panes' programs run as; None: the agent's own user.
    """

    def __init__(
        self,
        socket_name: str,
        agent_id: str,
        tmux_bin: str | None = None,
        pane_user: PaneUser | None = None,
    ) -> None:
        if not socket_name or "/" in socket_name:
            raise ValueError(f"invalid tmux socket name: {socket_name!r}")
        if not agent_id:
            raise ValueError("agent_id must not be empty")
        self.socket_name = socket_name
        self.agent_id = agent_id
        self.tmux_bin = tmux_bin or shutil.which("tmux") or "tmux"
        self.pane_user = pane_user
        # With a pane user, a fixed path: what runs as that user must not follow the agent's PATH.
        self.env_bin = ENV_BIN if pane_user else shutil.which("env") or ENV_BIN
        self.server = libtmux.Server(
            socket_name=socket_name, config_file="/dev/null", tmux_bin=self.tmux_bin
        )
        # ensure() checks, then creates: two threads must not both create the same session.
        self._ensure_lock = threading.Lock()

    # -- server ---------------------------------------------------------------------------

    def start_server(self) -> None:
        """Start (or re-configure) our tmux server with a scrubbed environment.

        Idempotent: on a running server ``start-server`` is a no-op and the options are set again.
        """
        env = {key: os.environ[key] for key in _SERVER_ENV_KEYS if key in os.environ}
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        env.setdefault("LANG", "C.UTF-8")
        env["TERM"] = PANE_TERM
        settings = [
            ("set", "-g", "exit-empty", "off"),
            ("set", "-g", "update-environment", ""),
            ("set", "-g", "history-limit", str(HISTORY_LIMIT)),
            ("set", "-g", "default-terminal", PANE_TERM),
            ("set", "-g", "default-shell", "/bin/sh"),
            # Global so it holds before a short-lived command can exit and take its pane along.
            ("set", "-gw", "remain-on-exit", "on"),
        ]
        argv = [self.tmux_bin, "-L", self.socket_name, "-f", "/dev/null", "start-server"]
        for setting in settings:
            argv += [";", *setting]
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise TmuxSessionError(f"tmux start-server failed: {proc.stderr.strip()}")

    def kill_server(self) -> None:
        """Kill the tmux server of our socket (only ours); no-op when it is not running.

        tmux 3.3 leaves its socket file behind on kill-server; it is removed too.
        """
        if not self.server.is_alive():
            return
        socket_path = "".join(self._cmd("display-message", "-p", "#{socket_path}"))
        self.server.kill()
        if socket_path:
            Path(socket_path).unlink(missing_ok=True)

    # -- sessions -------------------------------------------------------------------------

    def ensure(
        self,
        user_id: str,
        cwd: Path,
        command: Sequence[str],
        env: Mapping[str, str],
    ) -> libtmux.Session:
        """Return the user's live session, creating it (or replacing a dead one) if needed.

        ``env`` becomes the pane's whole environment (plus ``TERM``); nothing of the agent's own
        environment or of the tmux server's is inherited.
        """
        name = tmux_session_name(user_id)
        if not cwd.is_dir():
            raise FileNotFoundError(f"session working directory does not exist: {cwd}")
        window_command = self.pane_command(command, env)
        with self._ensure_lock:
            self.start_server()
            owner = self._owners().get(name)
            if owner is not None:
                if owner != self.agent_id:
                    raise ForeignSession(f"session {name} belongs to {owner or 'someone else'}")
                if not self._pane_dead(name):
                    return self._session(name)
                self._kill_session(name)
            session = self.server.new_session(
                session_name=name,
                start_directory=str(cwd),
                window_command=window_command,
                x=WIDTH,
                y=HEIGHT,
            )
            session.set_option(MARKER_OPTION, self.agent_id)
            session.active_window.set_option("remain-on-exit", "on")
        logger.info("tmux session started", extra={"tmux_session": name})
        return session

    def pane_command(self, command: Sequence[str], env: Mapping[str, str]) -> str:
        """The shell-quoted ``exec env -i K=V ... command`` line tmux runs in the pane.

        With a pane user: ``umask 0007 && exec <switch to the user> env -i K=V ... command``.
        """
        if not command:
            raise ValueError("command must not be empty")
        if "=" in command[0]:
            raise ValueError(f"command name must not contain '=': {command[0]!r}")
        full_env = {"TERM": PANE_TERM, **env}
        for key in full_env:
            if not _ENV_KEY_RE.match(key):
                raise ValueError(f"invalid environment variable name: {key!r}")
        words = [self.env_bin, "-i", *(f"{k}={v}" for k, v in full_env.items()), *command]
        if self.pane_user is None:
            # exec: the pane's pid becomes the engine's; no shell lingers with tmux's environment.
            return "exec " + " ".join(shlex.quote(word) for word in words)
        words = [*self.pane_user.command_prefix(), *words]
        line = " ".join(shlex.quote(word) for word in words)
        return f"umask {PANE_UMASK:04o} && exec {line}"

    def adopt(self) -> dict[str, libtmux.Session]:
        """The sessions this agent created (by marker), keyed by user id; others are ignored."""
        adopted: dict[str, libtmux.Session] = {}
        for name, owner in self._owners().items():
            if owner == self.agent_id and name.startswith(SESSION_PREFIX):
                adopted[name.removeprefix(SESSION_PREFIX)] = self._session(name)
        return adopted

    def exists(self, user_id: str) -> bool:
        """Whether a session of ours exists for the user, alive or not."""
        return self._owners().get(tmux_session_name(user_id)) == self.agent_id

    def is_alive(self, user_id: str) -> bool:
        """Whether our session for the user exists and its program is still running."""
        name = tmux_session_name(user_id)
        if self._owners().get(name) != self.agent_id:
            return False
        try:
            return not self._pane_dead(name)
        except SessionNotFound:
            return False

    def kill(self, user_id: str) -> bool:
        """Kill the user's session if it is ours; False when there was none."""
        name = tmux_session_name(user_id)
        owner = self._owners().get(name)
        if owner is None:
            return False
        if owner != self.agent_id:
            raise ForeignSession(f"session {name} is not ours; not killing it")
        self._kill_session(name)
        return True

    # -- pane I/O -------------------------------------------------------------------------

    def capture(self, user_id: str, lines: int = 200) -> str:
        """The last ``lines`` lines of the pane (screen and history), for diagnostics."""
        if lines <= 0:
            raise ValueError("lines must be positive")
        target = self._own_target(user_id)
        out = self._cmd("capture-pane", "-p", "-J", "-t", target, "-S", f"-{lines}")
        text = "\n".join(out).rstrip()
        return "\n".join(text.splitlines()[-lines:])

    def paste_line(self, user_id: str, text: str) -> None:
        """Paste one line into the pane as a bracketed paste, then press Enter."""
        self.paste(user_id, text)
        time.sleep(PASTE_SETTLE_SECONDS)
        self.send_enter(user_id)

    def paste(self, user_id: str, text: str) -> None:
        """Paste one line into the pane as a bracketed paste, without pressing Enter.

        The text goes through a private temporary file and ``load-buffer``: passing it as a
        tmux argument would let tmux parse a trailing ``;`` as a command separator. tmux adds
        the paste brackets only once the program has asked for them (mode 2004).
        """
        if not text or "\n" in text or "\r" in text:
            raise ValueError("paste takes exactly one non-empty line")
        target = self._own_target(user_id)
        buffer_name = f"tmux_builder_{secrets.token_hex(8)}"
        fd, path = tempfile.mkstemp(prefix="tmux-builder-paste-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            self._cmd("load-buffer", "-b", buffer_name, path)
        finally:
            Path(path).unlink(missing_ok=True)
        self._cmd("paste-buffer", "-p", "-d", "-b", buffer_name, "-t", target)

    def send_enter(self, user_id: str) -> None:
        """Press Enter in the pane (to submit a line that is already in the input)."""
        self._cmd("send-keys", "-t", self._own_target(user_id), "Enter")

    def send_key(self, user_id: str, key: str) -> None:
        """Press one named key (tmux key name, e.g. ``Escape``) in the pane; never text."""
        if not key.isalnum():
            raise ValueError(f"not a tmux key name: {key!r}")
        self._cmd("send-keys", "-t", self._own_target(user_id), key)

    def pane_format(self, user_id: str, fmt: str) -> str:
        """Expand a tmux format (e.g. ``#{alternate_on}``) for the user's pane."""
        out = self._cmd("list-panes", "-t", self._own_target(user_id), "-F", fmt)
        return out[0] if out else ""

    def pane_pid(self, user_id: str) -> int:
        """PID of the pane's process (the engine once ``env`` has exec'd it)."""
        return int(self.pane_format(user_id, "#{pane_pid}"))

    # -- internals ------------------------------------------------------------------------

    def _cmd(self, *args: str) -> list[str]:
        """Run a tmux command on our socket; raise :class:`TmuxSessionError` on any error."""
        try:
            proc = self.server.cmd(*args)
        except tmux_exc.LibTmuxException as error:
            raise TmuxSessionError(f"tmux {args[0]} failed: {error}") from error
        if proc.stderr:
            message = "; ".join(proc.stderr)
            if "can't find" in message:
                raise SessionNotFound(message)
            raise TmuxSessionError(f"tmux {args[0]} failed: {message}")
        return list(proc.stdout)

    def _owners(self) -> dict[str, str]:
        """Every session on the socket mapped to its marker ('' when unmarked)."""
        if not self.server.is_alive():
            return {}
        try:
            rows = self._cmd("list-sessions", "-F", f"#{{session_name}}\t#{{{MARKER_OPTION}}}")
        except TmuxSessionError as error:
            # The server can exit between the liveness check and the listing.
            if "no server running" in str(error) or "error connecting" in str(error):
                return {}
            raise
        owners: dict[str, str] = {}
        for row in rows:
            name, _, marker = row.partition("\t")
            owners[name] = marker
        return owners

    def _own_target(self, user_id: str) -> str:
        name = tmux_session_name(user_id)
        owner = self._owners().get(name)
        if owner is None:
            raise SessionNotFound(f"no session {name}")
        if owner != self.agent_id:
            raise ForeignSession(f"session {name} is not ours")
        return f"={name}:"

    def _pane_dead(self, name: str) -> bool:
        out = self._cmd("list-panes", "-s", "-t", f"={name}", "-F", "#{pane_dead}")
        return not out or all(flag == "1" for flag in out)

    def _session(self, name: str) -> libtmux.Session:
        session = self.server.sessions.get(session_name=name, default=None)
        if session is None:
            raise SessionNotFound(f"no session {name}")
        return session

    def _kill_session(self, name: str) -> None:
        self._cmd("kill-session", "-t", f"={name}")
        logger.info("tmux session killed", extra={"tmux_session": name})
