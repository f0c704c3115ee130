"""The Unix user the AI panes run as, when it is not the agent's own.

Why: a pane running as the agent's user can read whatever the agent can: the agent's process
environment (the model key), its files, and on EC2 the instance metadata service, whose role
credentials act as the agent (every user's tasks, every ``tmux-user-*`` role). Running each
pane's program as a second, unprivileged user puts all of that out of the AI's reach; on EC2 the
host's firewall also rejects that user's packets to the metadata service (``template.yaml``).

How the switch is made:

- The tmux server stays the agent's: its socket is private to the agent's user, so the AI can
  drive neither the server nor other panes. Only each pane's program changes user, in front of
  the ``env -i`` that sets its environment (:meth:`PaneUser.command_prefix`).
- As root (a development machine), ``setpriv`` switches directly, keeping no capability. As a
  normal user (production), ``sudo -n -u <pane user> setpriv`` with a sudoers rule that allows
  exactly ``/usr/bin/setpriv`` as that user (``-n`` fails instead of asking for a password
  nobody would type). Either way the pane runs with no-new-privileges: no setuid program
  (sudo, su) can raise it again.
- Files: the pane user's group is the shared group. The session folder and the CLI's HOME are
  set-group-id folders of that group, group-writable (:meth:`PaneUser.share`); panes run with
  umask 0007, so what the AI creates stays readable and removable by the agent (a member of that
  group) and by nobody else. The agent's work directory only lets the group pass through (0710):
  the AI cannot list it.
- The AI's generated end-to-end tests run as this user too (:mod:`agent.e2e_runner`, through
  :meth:`PaneUser.command`), so they meet the same firewall; the agent ends them by sending the
  signals as this user as well, which is all the sudoers rule lets it do.
- Whatever starts the switch gets a scrubbed environment (:data:`LAUNCH_ENV`): ``env`` is one
  ``exec`` away from clearing it, but until then ``/proc/<pid>/environ`` of a process already
  running as this user would show the agent's.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from agent.workspace import atomic_write, read_regular_text

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from agent.workspace import Workspace

SETTING = "TMUX_BUILDER_AGENT_PANE_USER"
# Umask of every pane program: group-writable for the agent, nothing for others.
PANE_UMASK = 0o007
# The folders above a workspace: the group may pass through, not list.
TRAVERSE_MODE = 0o710
# A shared folder: set-group-id (new entries get the group), group may read, write, enter.
SHARED_DIR_BITS = stat.S_ISGID | 0o070
SHARED_FILE_BITS = 0o060
ENV_BIN = "/usr/bin/env"
# The environment of sudo or setpriv themselves: never the agent's (see the module doc).
LAUNCH_ENV = {"PATH": "/usr/bin:/bin"}
_SYSTEM_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"
_PROBE_TIMEOUT_SECONDS = 10.0
# Prints the first path the pane user lacks access to ("x:/a", "r:/b", "w:/c") and fails.
_PROBE_SCRIPT = (
    'for spec; do path="${spec#?:}"; case "$spec" in '
    'x:*) test -x "$path" ;; r:*) test -r "$path" ;; w:*) test -w "$path" ;; esac '
    '|| { echo "$spec"; exit 1; }; done'
)

Switch = Literal["setpriv", "sudo"]


class PaneUserError(RuntimeError):
    """The pane user is misconfigured on this host, or cannot reach what the pane needs."""


@dataclass(frozen=True)
class PaneUser:
    """An unprivileged user the panes run as, and how the agent switches to it.

    Parameters
    ----------
    name, uid, gid:
        The user and its primary group (the group shared with the agent).
    switch:
        ``setpriv`` when the agent runs as root, ``sudo`` (then setpriv) otherwise.
    setpriv_bin, sudo_bin:
        Absolute paths of the programs (the sudoers rule names ``setpriv`` by its path).
    """

    name: str
    uid: int
    gid: int
    switch: Switch
    setpriv_bin: str
    sudo_bin: str = ""

    @classmethod
    def lookup(cls, name: str) -> PaneUser:
        """The user called ``name`` on this host; :class:`PaneUserError` if it cannot be one."""
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise PaneUserError(f"{SETTING}: no user {name!r} on this host") from None
        if entry.pw_uid == 0:
            raise PaneUserError(f"{SETTING}: {name!r} is root; the panes need an unprivileged user")
        if entry.pw_uid == os.geteuid():
            raise PaneUserError(
                f"{SETTING}: {name!r} is the agent's own user; leave it empty for that"
            )
        switch: Switch = "setpriv" if os.geteuid() == 0 else "sudo"
        paths = {tool: shutil.which(tool, path=_SYSTEM_PATH) for tool in ("setpriv", switch)}
        for tool, path in paths.items():
            if path is None:
                raise PaneUserError(f"{SETTING}: {tool} is needed to run panes as {name!r}")
        sudo_bin = paths.get("sudo") or ""
        return cls(name, entry.pw_uid, entry.pw_gid, switch, paths["setpriv"] or "", sudo_bin)

    @property
    def group(self) -> str:
        try:
            return grp.getgrgid(self.gid).gr_name
        except KeyError:
            return str(self.gid)

    def command_prefix(self) -> list[str]:
        """The words that run the rest of a command line (``/usr/bin/env ...``) as this user."""
        if self.switch == "setpriv":
            return [
                self.setpriv_bin,
                f"--reuid={self.uid}",
                f"--regid={self.gid}",
                "--init-groups",
                "--inh-caps=-all",
                "--no-new-privs",
                "--",
            ]
        sudo = [self.sudo_bin, "-n", "-u", self.name, "--"]
        return [*sudo, self.setpriv_bin, "--no-new-privs", "--"]

    def command(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None
    ) -> list[str]:
        """The command line running ``argv`` as this user with exactly ``env``, in ``cwd``.

        The folder is entered by ``env`` (``-C``), as this user: the agent may not be allowed
        into a folder the AI made. Start it with ``env=LAUNCH_ENV`` and ``umask=PANE_UMASK``.
        """
        if not argv:
            raise ValueError("argv must not be empty")
        if "=" in argv[0]:
            raise ValueError(f"command name must not contain '=': {argv[0]!r}")
        for key in env:
            if not key or "=" in key:
                raise ValueError(f"invalid environment variable name: {key!r}")
        chdir = ["-C", str(cwd)] if cwd is not None else []
        assignments = [f"{key}={value}" for key, value in env.items()]
        return [*self.command_prefix(), ENV_BIN, "-i", *chdir, *assignments, *argv]

    def run(
        self, argv: Sequence[str], timeout: float = _PROBE_TIMEOUT_SECONDS
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` as this user with an empty environment (PATH only), like a pane."""
        return subprocess.run(
            self.command(argv, {"PATH": "/usr/bin:/bin"}),
            env=LAUNCH_ENV,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            umask=PANE_UMASK,
        )

    def check_access(
        self,
        executable: Iterable[Path] = (),
        readable: Iterable[Path] = (),
        writable: Iterable[Path] = (),
    ) -> None:
        """Fail with the first path this user cannot use, before a pane fails on it obscurely."""
        specs = [f"x:{p}" for p in executable] + [f"r:{p}" for p in readable]
        specs += [f"w:{p}" for p in writable]
        if not specs:
            return
        try:
            result = self.run(["/bin/sh", "-c", _PROBE_SCRIPT, "sh", *specs])
        except (OSError, subprocess.TimeoutExpired) as error:
            raise PaneUserError(f"cannot run a command as {self.name!r}: {error}") from None
        if result.returncode == 0:
            return
        failed = result.stdout.strip()
        if failed[:2] in ("x:", "r:", "w:"):
            what = {"x": "execute", "r": "read", "w": "write to"}[failed[0]]
            raise PaneUserError(
                f"the pane user {self.name!r} cannot {what} {failed[2:]}: make it (and the "
                "folders above it) reachable for that user"
            )
        detail = (result.stderr or result.stdout).strip()
        raise PaneUserError(f"cannot run a command as {self.name!r}: {detail}")

    # -- files ----------------------------------------------------------------------------

    def share(self, ws: Workspace) -> None:
        """Give this user the session folder and the CLI's HOME, and nothing else of ours.

        Idempotent, and cheap on a second run: entries already shared are only looked at, and
        folders the AI created (``node_modules``...) are not entered. Only entries the agent
        owns are changed; symlinks are never followed (the AI can plant them).
        """
        for folder in (ws.root, ws.root / "sessions", ws.root / "homes"):
            self._traverse_only(folder)
        for folder in (ws.dir, ws.home):
            self._share_tree(folder)
        self._trust_repository(ws)

    def share_folder(self, folder: Path) -> None:
        """Make a folder of ours this user's to write in (for a scratch folder of a run).

        The folder itself only: set-group-id to the shared group, group read, write and enter.
        """
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            self._share_fd(fd, SHARED_DIR_BITS)
        finally:
            os.close(fd)

    def _traverse_only(self, folder: Path) -> None:
        info = folder.lstat()
        if info.st_uid != os.geteuid() or not stat.S_ISDIR(info.st_mode):
            return  # set up by the operator (template.yaml): theirs to get right
        if info.st_gid != self.gid:
            try:
                os.chown(folder, -1, self.gid, follow_symlinks=False)
            except PermissionError:
                raise PaneUserError(self._not_in_group()) from None
        if stat.S_IMODE(info.st_mode) != TRAVERSE_MODE:
            os.chmod(folder, TRAVERSE_MODE)

    def _share_tree(self, top: Path) -> None:
        me = os.geteuid()
        for _dirpath, dirnames, filenames, dirfd in os.fwalk(top, follow_symlinks=False):
            self._share_fd(dirfd, SHARED_DIR_BITS)
            # Enter only folders we own: what the AI created is already its group's.
            dirnames[:] = [name for name in dirnames if _owner(name, dirfd) == me]
            for name in filenames:
                self._share_file(dirfd, name)

    def _share_file(self, dirfd: int, name: str) -> None:
        try:
            info = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
        except OSError:
            return  # removed meanwhile
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            return
        if info.st_gid == self.gid and _has_bits(info.st_mode, _file_bits(info.st_mode)):
            return
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        try:
            fd = os.open(name, flags, dir_fd=dirfd)
        except OSError:
            return  # replaced meanwhile (by a link, a socket...): not ours to change
        try:
            self._share_fd(fd, _file_bits(info.st_mode))
        finally:
            os.close(fd)

    def _share_fd(self, fd: int, bits: int) -> None:
        """Group and mode of an open file or folder we own (an fd: no link can redirect it)."""
        info = os.fstat(fd)
        if info.st_uid != os.geteuid():
            return
        if info.st_gid != self.gid:
            try:
                os.fchown(fd, -1, self.gid)
            except PermissionError:
                raise PaneUserError(self._not_in_group()) from None
        mode = stat.S_IMODE(info.st_mode)
        if mode | bits != mode:
            os.fchmod(fd, mode | bits)

    def _not_in_group(self) -> str:
        return (
            f"the agent's user must be a member of group {self.group!r} to share session "
            f"folders with {self.name!r} (usermod -aG {self.group} <agent user>)"
        )

    def _trust_repository(self, ws: Workspace) -> None:
        """Let git, run by the AI, use the session's repository, which the agent owns.

        Without it git refuses the folder ("dubious ownership") and the CLI sees no repository.
        """
        config = ws.home / ".gitconfig"
        line = f"\tdirectory = {ws.dir}\n"
        current = read_regular_text(config) or ""
        if line in current:
            return
        if current and not current.endswith("\n"):
            current += "\n"
        # Replaced, not appended to: whatever the AI left there (a link, a pipe) is not followed.
        atomic_write(config, f"{current}[safe]\n{line}", mode=0o660)
        self._share_file_path(config)

    def _share_file_path(self, path: Path) -> None:
        dirfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            self._share_file(dirfd, path.name)
        finally:
            os.close(dirfd)


def pane_user_from_setting(name: str) -> PaneUser | None:
    """``AgentSettings.pane_user``: None (the agent's own user) when empty."""
    name = name.strip()
    return PaneUser.lookup(name) if name else None


def _file_bits(mode: int) -> int:
    """Group read and write, and group execute where the owner may execute."""
    return SHARED_FILE_BITS | ((mode & stat.S_IXUSR) >> 3)


def _has_bits(mode: int, bits: int) -> bool:
    return stat.S_IMODE(mode) & bits == bits


def _owner(name: str, dirfd: int) -> int | None:
    try:
        return os.stat(name, dir_fd=dirfd, follow_symlinks=False).st_uid
    except OSError:
        return None
