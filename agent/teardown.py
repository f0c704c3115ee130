"""The agent's part of deleting a user: their tmux session, folders and cached credentials.

The control plane removes the cloud resources and then sends ``teardown_user``
(:class:`tmux_builder.contracts.AgentCommand`) to the own queue of every live agent host (the
shared queue when none is registered), since only the host that holds the user's sessions has
their tmux session and folders. Here the user's tmux session is killed and
``sessions/{user_id}`` and ``homes/{user_id}`` are removed from the work dir. Both paths are
built from a validated user id and checked to resolve to exactly where they should, inside the
work dir, before anything is deleted: a symlink planted in their place (the AI can write files)
is refused rather than followed. Last, this host's leases on the user's sessions are deleted
(only those it owns), so no work is routed to a torn-down session. Running it again finds
nothing and succeeds; a host that holds nothing of the user does nothing.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agent.tmux_sessions import ForeignSession, TmuxSessions
from tmux_builder.contracts import AgentCommand
from tmux_builder.naming import USER_ID_RE

if TYPE_CHECKING:
    from agent.leases import SessionLeases

log = logging.getLogger(__name__)

# The folders of one user under the work dir (see agent.workspace.Workspace).
USER_FOLDERS = ("sessions", "homes")


class UnsafePath(RuntimeError):
    """A user folder is not where it must be (a symlink, or outside the work dir); left alone."""


@dataclass
class UserTeardownResult:
    killed_session: bool = False
    removed: list[Path] = field(default_factory=list)
    released_leases: list[str] = field(default_factory=list)


class UserTeardown:
    """Handles :class:`AgentCommand` messages of kind ``teardown_user``.

    Parameters
    ----------
    work_dir:
        The agent's work dir; nothing outside it is ever removed.
    sessions:
        The agent's tmux sessions (only sessions with this agent's marker are killed).
    forget_credentials:
        Drops the user's cached role credentials (:func:`agent.credentials.forget_user`).
    leases:
        This host's session leases; the user's are released (None: a host without leases).
    """

    def __init__(
        self,
        work_dir: Path,
        sessions: TmuxSessions,
        forget_credentials: Callable[[str], None] | None = None,
        leases: SessionLeases | None = None,
    ) -> None:
        self.root = Path(work_dir).resolve()
        self.sessions = sessions
        self.forget_credentials = forget_credentials
        self.leases = leases

    def __call__(self, command: AgentCommand) -> None:
        if command.kind != "teardown_user":
            raise ValueError(f"not a teardown command: {command.kind!r}")
        self.teardown_user(command.user_id)

    def teardown_user(self, user_id: str) -> UserTeardownResult:
        if not USER_ID_RE.match(user_id):
            raise ValueError(f"not a user id: {user_id!r}")
        folders = [self.user_folder(kind, user_id) for kind in USER_FOLDERS]  # all checked first
        result = UserTeardownResult()
        try:
            result.killed_session = self.sessions.kill(user_id)
        except ForeignSession:
            log.warning("the tmux session of %s belongs to another agent; not killed", user_id[:12])
        if self.forget_credentials is not None:
            self.forget_credentials(user_id)
        for folder in folders:
            if folder.exists():
                shutil.rmtree(folder)
                result.removed.append(folder)
        if self.leases is not None:  # LeaseUnavailable: the command comes back, all idempotent
            result.released_leases = self.leases.release_user(user_id)
        log.info(
            "user %s torn down (tmux session killed: %s, %d folder(s) removed, "
            "%d lease(s) released)",
            user_id[:12],
            result.killed_session,
            len(result.removed),
            len(result.released_leases),
        )
        return result

    def user_folder(self, kind: str, user_id: str) -> Path:
        """``{work_dir}/{kind}/{user_id}`` if it is a real folder there (or absent).

        Raises :class:`UnsafePath` when the path, or the folder holding it, is a symlink or
        resolves anywhere else.
        """
        if kind not in USER_FOLDERS or not USER_ID_RE.match(user_id):
            raise ValueError(f"not a user folder: {kind}/{user_id}")
        parent = self.root / kind
        path = parent / user_id
        for candidate in (parent, path):
            if candidate.is_symlink():
                raise UnsafePath(f"{candidate} is a symlink; not removing it")
        if path.exists() and path.resolve() != path:
            raise UnsafePath(f"{path} resolves to {path.resolve()}; not removing it")
        if not path.resolve().is_relative_to(self.root):
            raise UnsafePath(f"{path} is outside the work dir {self.root}")
        if path.exists() and not path.is_dir():
            raise UnsafePath(f"{path} is not a folder; not removing it")
        return path
