"""AI panes as a second, unprivileged Unix user (agent.pane_user), with real tmux and a real user.

The throwaway user is created with ``useradd`` for this module and removed after it; that needs
root (this machine runs the tests as root; production runs the agent as a normal user and
switches with sudo, whose command line is checked here without running it).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.engine.base import EngineNotReady
from agent.engine.claude_code import ClaudeCodeEngine
from agent.notify_hub import NotifyHub
from agent.pane_user import (
    LAUNCH_ENV,
    PANE_UMASK,
    PaneUser,
    PaneUserError,
    pane_user_from_setting,
)
from agent.tmux_sessions import PANE_TERM, TmuxSessions
from agent.workspace import Workspace
from tests.fixtures.pane_users import reachable_folder, throwaway_pane_user
from tmux_builder.contracts import ActivityType
from tmux_builder.naming import new_user_id
from tmux_builder.settings import AgentSettings

ROOT = Path(__file__).resolve().parents[2]
NOTIFY_CLIENT = ROOT / "agent" / "notify_client.py"
# An interpreter any user may run (the project's venv may live under a private HOME).
SYSTEM_PYTHON = Path("/usr/bin/python3")
AGENT_ID = "agent-pane-user-test"
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def _eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)


@pytest.fixture(scope="module")
def pane_user() -> Iterator[PaneUser]:
    with throwaway_pane_user() as user:
        yield user


@pytest.fixture
def work_root() -> Iterator[Path]:
    with reachable_folder("tb-pane-user-") as root:
        yield root


@pytest.fixture
def sessions(pane_user: PaneUser) -> Iterator[TmuxSessions]:
    tmux = TmuxSessions(f"tb-test-{secrets.token_hex(6)}", AGENT_ID, pane_user=pane_user)
    try:
        yield tmux
    finally:
        try:
            tmux.kill_server()
        except Exception as error:  # never hide the test's own failure
            warnings.warn(f"tmux cleanup failed: {error!r}", stacklevel=1)


@pytest.fixture
def ws(work_root: Path, pane_user: PaneUser) -> Workspace:
    workspace = Workspace(work_root, new_user_id()).create()
    pane_user.share(workspace)
    return workspace


def _run_in_pane(sessions: TmuxSessions, ws: Workspace, script: str, env: dict[str, str]) -> str:
    """Run a shell script as the pane's program and return what the pane shows once it exits."""
    sessions.ensure(ws.user_id, ws.dir, ["/bin/sh", "-c", script], env)
    _eventually(lambda: not sessions.is_alive(ws.user_id))
    return sessions.capture(ws.user_id)


def _ids(pid: int) -> tuple[list[int], list[int]]:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = {line.split(":")[0]: line.split(":")[1].split() for line in status}
    return [int(v) for v in fields["Uid"]], [int(v) for v in fields["Gid"]]


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if item)


# ------------------------------------------------------------------------------- the pane


def test_the_pane_runs_as_the_pane_user_with_only_the_given_environment(
    sessions: TmuxSessions, ws: Workspace, pane_user: PaneUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in CREDENTIAL_VARIABLES:
        monkeypatch.setenv(variable, f"agent-{variable.lower()}")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(ws.home)}

    sessions.ensure(ws.user_id, ws.dir, ["sleep", "60"], env)
    pid = sessions.pane_pid(ws.user_id)
    _eventually(lambda: Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep\0"))

    uids, gids = _ids(pid)
    assert uids == [pane_user.uid] * 4  # real, effective, saved, filesystem
    assert gids == [pane_user.gid] * 4
    assert _environ(pid) == {**env, "TERM": PANE_TERM}
    status = Path(f"/proc/{pid}/status").read_text()
    assert "NoNewPrivs:\t1" in status
    assert "CapEff:\t0000000000000000" in status
    assert "CapPrm:\t0000000000000000" in status


def test_the_pane_user_cannot_read_the_agents_files_or_process(
    sessions: TmuxSessions, ws: Workspace, pane_user: PaneUser
) -> None:
    secret = ws.root / "agent-only.txt"
    secret.write_text("agent secret\n")
    secret.chmod(0o600)
    script = (
        "echo uid=$(id -u); "
        f"cat {shlex.quote(str(secret))} >/dev/null 2>&1 && echo secret=read "
        "|| echo secret=denied; "
        f"cat /proc/{os.getpid()}/environ >/dev/null 2>&1 && echo environ=read "
        "|| echo environ=denied; "
        f"ls {shlex.quote(str(ws.root))} >/dev/null 2>&1 && echo list=yes || echo list=no; "
        "echo made > code/index.html && mkdir code/assets && echo made=yes"
    )

    screen = _run_in_pane(sessions, ws, script, {"PATH": "/usr/bin:/bin", "HOME": str(ws.home)})

    assert f"uid={pane_user.uid}" in screen
    assert "secret=denied" in screen, screen
    assert "environ=denied" in screen, screen
    assert "list=no" in screen, screen  # the work directory lets the group through, no more
    assert "made=yes" in screen, screen
    # What the AI creates belongs to the shared group, group-writable (umask 0007, setgid
    # folders), so the agent can read, change and remove it; others get nothing.
    for path in (ws.code_dir / "index.html", ws.code_dir / "assets"):
        info = path.stat()
        assert (info.st_uid, info.st_gid) == (pane_user.uid, pane_user.gid), path
        assert stat.S_IMODE(info.st_mode) & 0o060 == 0o060, oct(info.st_mode)
        assert stat.S_IMODE(info.st_mode) & 0o007 == 0, oct(info.st_mode)


def test_the_notify_path_works_from_the_pane_user(
    sessions: TmuxSessions, ws: Workspace, pane_user: PaneUser
) -> None:
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"{SYSTEM_PYTHON} is needed as an interpreter the pane user can run")
    pane_user.check_access(executable=[SYSTEM_PYTHON], readable=[NOTIFY_CLIENT])
    received: list[tuple[str, ActivityType, str]] = []
    with NotifyHub(on_activity=lambda *item: received.append(item)) as hub:
        token = hub.register(ws.user_id)
        env = {
            "PATH": "/usr/bin:/bin",
            "TMUX_BUILDER_NOTIFY_URL": hub.url,
            "TMUX_BUILDER_NOTIFY_TOKEN": token,
        }
        hook = json.dumps({"session_id": "cli-1", "transcript_path": "", "source": "startup"})
        script = (
            f'{SYSTEM_PYTHON} -I {NOTIFY_CLIENT} status "hello from uid $(id -u)" && '
            f"echo {shlex.quote(hook)} | {SYSTEM_PYTHON} -I {NOTIFY_CLIENT} hook SessionStart"
        )

        _run_in_pane(sessions, ws, script, env)

        assert hub.wait_ready(ws.user_id, timeout=5).session_id == "cli-1"
        _eventually(lambda: bool(received))
    assert received == [(ws.user_id, ActivityType.STATUS, f"hello from uid {pane_user.uid}")]


# --------------------------------------------------------------------------- the files


def test_share_gives_the_group_the_session_and_home_but_follows_no_link(
    ws: Workspace, pane_user: PaneUser
) -> None:
    secret = ws.root / "agent-only.txt"
    secret.write_text("agent secret\n")
    secret.chmod(0o600)
    (ws.dir / "planted-link").symlink_to(secret)
    (ws.home / "planted-link").symlink_to(secret)
    (ws.home / ".claude.json").write_text("{}")
    (ws.home / ".claude.json").chmod(0o600)

    pane_user.share(ws)

    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert secret.stat().st_gid != pane_user.gid
    for folder in (ws.dir, ws.home, ws.code_dir, ws.prompts_dir):
        info = folder.stat()
        assert info.st_gid == pane_user.gid, folder
        assert info.st_mode & (stat.S_ISGID | 0o070) == stat.S_ISGID | 0o070, folder
    assert stat.S_IMODE((ws.home / ".claude.json").stat().st_mode) == 0o660
    for folder in (ws.root, ws.root / "sessions", ws.root / "homes"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o710, folder
    # git, run by the AI in the agent's repository, trusts it.
    assert f"directory = {ws.dir}" in (ws.home / ".gitconfig").read_text()
    pane_user.check_access(writable=[ws.dir, ws.code_dir, ws.home])


def test_the_engine_shares_the_workspace_and_names_what_the_pane_user_cannot_run(
    sessions: TmuxSessions,
    ws: Workspace,
    work_root: Path,
    pane_user: PaneUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    private = Path(tempfile.mkdtemp(prefix="tb-private-bin-"))  # 0700, root's
    try:
        hidden_cli = private / "claude"
        hidden_cli.write_text("#!/bin/sh\nexit 0\n")
        hidden_cli.chmod(0o755)
        settings = AgentSettings(claude_bin=str(hidden_cli), pane_user=pane_user.name)
        engine = ClaudeCodeEngine(settings, sessions, NotifyHub())

        with pytest.raises(EngineNotReady, match=re.escape(f"cannot execute {hidden_cli}")):
            engine.prepare(ws, "http://127.0.0.1:9", "token")
    finally:
        shutil.rmtree(private)

    visible_cli = work_root / "claude"
    visible_cli.write_text("#!/bin/sh\nexit 0\n")
    visible_cli.chmod(0o755)
    # The hooks' interpreter must be one the pane user can run (here: not the private venv's).
    monkeypatch.setattr(sys, "executable", str(SYSTEM_PYTHON))
    settings = AgentSettings(claude_bin=str(visible_cli), pane_user=pane_user.name)
    engine = ClaudeCodeEngine(settings, sessions, NotifyHub())

    engine.prepare(ws, "http://127.0.0.1:9", "token")

    state = json.loads((ws.home / ".claude.json").read_text())
    assert state["projects"][os.path.realpath(ws.dir)]["hasTrustDialogAccepted"] is True
    assert (ws.home / ".claude.json").stat().st_gid == ws.home.stat().st_gid


def test_share_folder_lets_the_pane_user_write_in_a_folder_of_ours(
    work_root: Path, pane_user: PaneUser
) -> None:
    work_root.chmod(0o755)
    scratch = work_root / "scratch"
    scratch.mkdir(mode=0o700)
    with pytest.raises(PaneUserError, match="cannot write to"):
        pane_user.check_access(writable=[scratch])

    pane_user.share_folder(scratch)

    info = scratch.stat()
    assert info.st_gid == pane_user.gid
    assert stat.S_IMODE(info.st_mode) == stat.S_ISGID | 0o770
    pane_user.check_access(writable=[scratch])
    (work_root / "link").symlink_to(scratch)
    with pytest.raises(OSError):
        pane_user.share_folder(work_root / "link")  # a link the AI planted is not followed


def test_a_command_runs_as_the_pane_user_in_its_folder_with_exactly_its_environment(
    work_root: Path, pane_user: PaneUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "agent-secret")
    work_root.chmod(0o755)
    theirs = work_root / "theirs"
    theirs.mkdir(mode=0o700)  # made by the AI: the agent's user could not enter it
    os.chown(theirs, pane_user.uid, pane_user.gid)
    script = 'echo "$(pwd) $(id -u)"; env | sort'

    command = pane_user.command(["/bin/sh", "-c", script], {"A": "1", "B": "x=y"}, cwd=theirs)
    result = subprocess.run(
        command, env=LAUNCH_ENV, capture_output=True, text=True, timeout=10, check=True
    )

    first, *variables = result.stdout.splitlines()
    assert first == f"{theirs} {pane_user.uid}"
    assert "agent-secret" not in result.stdout
    assert {line.split("=", 1)[0] for line in variables} <= {"A", "B", "PWD", "SHLVL", "_"}
    assert {"A=1", "B=x=y"} <= set(variables)


# ------------------------------------------------------------------ settings and commands


def test_the_setting_names_a_real_unprivileged_user() -> None:
    assert pane_user_from_setting("") is None
    assert pane_user_from_setting("  ") is None
    with pytest.raises(PaneUserError, match="TMUX_BUILDER_AGENT_PANE_USER: no user"):
        pane_user_from_setting(f"no-such-user-{secrets.token_hex(3)}")
    with pytest.raises(PaneUserError, match="root"):
        pane_user_from_setting("root")


def test_the_pane_command_switches_user_before_the_environment_is_set() -> None:
    user = PaneUser("tmux-ai", 1001, 1001, "sudo", "/usr/bin/setpriv", "/usr/bin/sudo")
    tmux = TmuxSessions("tb-unused", AGENT_ID, pane_user=user)

    words = shlex.split(tmux.pane_command(["claude", "--x"], {"HOME": "/h", "A": "$(id)"}))

    # sudo only ever runs /usr/bin/setpriv (the sudoers rule), which sets no-new-privileges.
    assert words[:4] == ["umask", f"{PANE_UMASK:04o}", "&&", "exec"]
    assert words[4:12] == ["/usr/bin/sudo", "-n", "-u", "tmux-ai", "--"] + [
        "/usr/bin/setpriv",
        "--no-new-privs",
        "--",
    ]
    assert words[12:] == ["/usr/bin/env", "-i", f"TERM={PANE_TERM}", "HOME=/h", "A=$(id)"] + [
        "claude",
        "--x",
    ]
    assert shlex.split(TmuxSessions("tb-unused", AGENT_ID).pane_command(["c"], {}))[0] == "exec"


def test_a_command_line_switches_user_then_sets_folder_and_environment() -> None:
    user = PaneUser("tmux-ai", 1001, 1001, "sudo", "/usr/bin/setpriv", "/usr/bin/sudo")

    words = user.command(["python3", "-m", "pytest"], {"HOME": "/h"}, cwd=Path("/srv/e2e"))

    assert words == [
        *["/usr/bin/sudo", "-n", "-u", "tmux-ai", "--", "/usr/bin/setpriv", "--no-new-privs"],
        *["--", "/usr/bin/env", "-i", "-C", "/srv/e2e", "HOME=/h", "python3", "-m", "pytest"],
    ]
    assert user.command(["true"], {})[-3:] == ["/usr/bin/env", "-i", "true"]
    with pytest.raises(ValueError, match="must not contain '='"):
        user.command(["A=b"], {})
    with pytest.raises(ValueError, match="invalid environment variable name"):
        user.command(["true"], {"A=B": "c"})
    with pytest.raises(ValueError, match="must not be empty"):
        user.command([], {})
