"""One user's working copy on the agent host, and the private HOME its CLI runs with.

The session folder ``{work_dir}/sessions/{user_id}/`` is what the AI works in: prompts, code,
uploads, E2E tests, summaries and its instructions. It holds no secret and no CLI configuration
except the project ``.claude/settings.json`` (permissions and hooks, no credentials), so a
snapshot of it can go to S3 as is.

The CLI's HOME is ``{work_dir}/homes/{user_id}/``, outside the session folder: the CLI's global
state (``.claude.json``, transcripts) lives there, out of the AI's working tree, and the
conversation can be resumed from it after an agent restart.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tmux_builder.naming import USER_ID_RE

TASK_ID_RE = re.compile(r"^[A-Za-z0-9._-]+$")
_CLI_SESSION_FILE = "tmux-builder-cli-session.json"


class WorkspaceError(RuntimeError):
    """The session folder cannot be set up on this host."""


class InvalidTaskId(ValueError):
    """A task id that could escape ``prompts/`` or break the one-line instruction."""


@dataclass(frozen=True)
class RecordedCliSession:
    """The CLI conversation of a session, kept so a restarted agent can resume it."""

    session_id: str
    transcript_path: str


def validate_task_id(task_id: str) -> str:
    """Return ``task_id`` if it is safe as a file name; raise :class:`InvalidTaskId` if not."""
    if not TASK_ID_RE.match(task_id) or task_id in {".", ".."}:
        raise InvalidTaskId(f"invalid task id: {task_id!r}")
    return task_id


def atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_regular_text(path: Path) -> str | None:
    """The text of a regular file, or None; never through a symlink, never blocking on a FIFO.

    For files in folders the AI can write (its HOME, the session folder): it may have put a
    link to a host file or a pipe there.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return handle.read().decode("utf-8", errors="replace")


class Workspace:
    """Paths and files of one user's session folder and CLI home.

    Parameters
    ----------
    root:
        The agent's work directory (``AgentSettings.work_dir``).
    user_id:
        The user's random id; validated because it becomes part of paths.
    """

    def __init__(self, root: Path, user_id: str) -> None:
        if not USER_ID_RE.match(user_id):
            raise ValueError(f"not a user id: {user_id!r}")
        # Resolved once: the CLI keys folder trust by real path, and tmux's cwd must match it.
        self.root = Path(root).resolve()
        self.user_id = user_id
        self.dir = self.root / "sessions" / user_id
        self.home = self.root / "homes" / user_id

    def __repr__(self) -> str:
        return f"Workspace({self.dir})"

    @property
    def prompts_dir(self) -> Path:
        return self.dir / "prompts"

    @property
    def code_dir(self) -> Path:
        return self.dir / "code"

    @property
    def uploads_dir(self) -> Path:
        return self.dir / "uploads"

    @property
    def e2e_dir(self) -> Path:
        return self.dir / "e2e"

    @property
    def system_prompt_path(self) -> Path:
        return self.dir / "system_prompt.txt"

    @property
    def claude_md_path(self) -> Path:
        return self.dir / "CLAUDE.md"

    @property
    def project_settings_path(self) -> Path:
        """``.claude/settings.json`` of the session folder: permissions and hooks."""
        return self.dir / ".claude" / "settings.json"

    def create(self) -> Workspace:
        """Create every folder (idempotent); a new HOME is private to the agent's user.

        An existing HOME keeps its mode: with a pane user the engine shares it with that user's
        group (:mod:`agent.pane_user`), and a step running meanwhile must not take it away from
        the CLI.
        """
        for folder in (self.prompts_dir, self.code_dir, self.uploads_dir, self.e2e_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.project_settings_path.parent.mkdir(parents=True, exist_ok=True)
        if not self.home.is_dir():
            self.home.parent.mkdir(parents=True, exist_ok=True)
            self.home.mkdir(mode=0o700, exist_ok=True)
            os.chmod(self.home, 0o700)
        self._make_project_root()
        return self

    def _make_project_root(self) -> None:
        """Make the session folder a git repository of its own.

        The CLI takes the enclosing git repository as its project: inside someone else's
        checkout (the embedded stack run from a clone) it would ask to trust that checkout,
        and read its files and CLAUDE.md. Its own repository keeps the session folder the
        project the CLI trusts and works in.
        """
        if (self.dir / ".git").exists():
            return
        git = shutil.which("git")
        if git is None:
            raise WorkspaceError("git is required on the agent host (apt-get install git)")
        subprocess.run(
            [git, "init", "--quiet", str(self.dir)],
            check=True,
            capture_output=True,
            # Not the AI's ~/.gitconfig (it can write it): no global or system config at all.
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(self.home),
                "GIT_CONFIG_GLOBAL": os.devnull,
                "GIT_CONFIG_NOSYSTEM": "1",
            },
            timeout=30,
        )

    def write_instructions(self, text: str) -> None:
        """The session's standing instructions, as ``system_prompt.txt`` and ``CLAUDE.md``.

        Claude Code loads ``CLAUDE.md`` from its working directory by itself;
        ``system_prompt.txt`` is the engine-neutral copy other CLIs (and people) read.
        """
        atomic_write(self.system_prompt_path, text)
        atomic_write(self.claude_md_path, text)

    def prompt_relpath(self, task_id: str) -> str:
        """The path the one-line instruction names, relative to the session folder."""
        return f"prompts/{validate_task_id(task_id)}.txt"

    def prompt_path(self, task_id: str) -> Path:
        return self.dir / self.prompt_relpath(task_id)

    def write_prompt(self, task_id: str, text: str) -> Path:
        """Write ``prompts/{task_id}.txt`` atomically and return its path."""
        path = self.prompt_path(task_id)
        atomic_write(path, text)
        return path

    def summary_path(self, task: str) -> Path:
        """``summary-{task}.md``: what the AI reports about a step, stored with the build."""
        return self.dir / f"summary-{validate_task_id(task)}.md"

    def read_summary(self, task: str) -> str | None:
        path = self.summary_path(task)
        return path.read_text(encoding="utf-8") if path.is_file() else None

    @property
    def _cli_session_path(self) -> Path:
        return self.home / _CLI_SESSION_FILE

    def record_cli_session(self, session_id: str, transcript_path: str) -> None:
        """Remember the CLI's conversation id (from SessionStart) for a later ``--resume``."""
        payload = {"session_id": session_id, "transcript_path": transcript_path}
        atomic_write(self._cli_session_path, json.dumps(payload), mode=0o600)

    def recorded_cli_session(self) -> RecordedCliSession | None:
        """The recorded conversation, or None when there is none or it cannot be read."""
        try:
            data = json.loads(self._cli_session_path.read_text(encoding="utf-8"))
            return RecordedCliSession(str(data["session_id"]), str(data["transcript_path"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def forget_cli_session(self) -> None:
        self._cli_session_path.unlink(missing_ok=True)
