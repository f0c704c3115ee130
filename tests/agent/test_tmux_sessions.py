"""TmuxSessions against a real tmux server on a unique private socket per test."""

from __future__ import annotations

import secrets
import shlex
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.tmux_sessions import (
    HEIGHT,
    MARKER_OPTION,
    PANE_TERM,
    WIDTH,
    ForeignSession,
    SessionNotFound,
    TmuxSessions,
)
from tmux_builder.naming import new_user_id, tmux_session_name

pytestmark = pytest.mark.tmux

AGENT_ID = "agent-test"


def _eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll a condition that has no signal of its own (a process exec, a file appearing)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)


def _reap(sessions: TmuxSessions) -> None:
    try:
        sessions.kill_server()
    except Exception as error:  # never hide the test's own failure
        warnings.warn(f"tmux cleanup failed: {error!r}", stacklevel=1)


@pytest.fixture
def socket_name() -> str:
    return f"tb-test-{secrets.token_hex(6)}"


@pytest.fixture
def sessions(socket_name: str) -> Iterator[TmuxSessions]:
    tmux = TmuxSessions(socket_name, AGENT_ID)
    try:
        yield tmux
    finally:
        _reap(tmux)


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if item)


def _cmdline(pid: int) -> list[str]:
    return [arg.decode() for arg in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if arg]


def test_ensure_creates_named_marked_session_in_cwd(sessions: TmuxSessions, tmp_path: Path) -> None:
    user_id = new_user_id()

    session = sessions.ensure(user_id, tmp_path, ["sleep", "60"], {"PATH": "/usr/bin:/bin"})

    assert session.session_name == tmux_session_name(user_id)
    assert session.show_option(MARKER_OPTION) == AGENT_ID
    assert sessions.pane_format(user_id, "#{pane_current_path}") == str(tmp_path.resolve())
    assert sessions.pane_format(user_id, "#{window_width}x#{window_height}") == f"{WIDTH}x{HEIGHT}"
    assert sessions.pane_format(user_id, "#{remain-on-exit}") == "on"
    assert sessions.is_alive(user_id)
    # A second ensure returns the running session instead of starting another program.
    pid = sessions.pane_pid(user_id)
    sessions.ensure(user_id, tmp_path, ["sleep", "60"], {})
    assert sessions.pane_pid(user_id) == pid


def test_pane_environment_is_exactly_the_given_env(
    sessions: TmuxSessions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "leak-me-not")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIALEAKMENOT")
    user_id = new_user_id()
    env = {"PATH": "/usr/bin:/bin", "GREETING": "hello world; $HOME `id`"}

    sessions.ensure(user_id, tmp_path, ["sleep", "60"], env)
    pid = sessions.pane_pid(user_id)
    _eventually(lambda: _cmdline(pid) == ["sleep", "60"])

    assert _environ(pid) == {**env, "TERM": PANE_TERM}
    tmux_env = sessions.server.cmd("show-environment", "-g").stdout
    tmux_env += sessions.server.cmd("show-environment", "-t", tmux_session_name(user_id)).stdout
    assert not [line for line in tmux_env if "AWS_" in line or "leak-me-not" in line]


def test_pane_command_is_quoted_from_a_list(sessions: TmuxSessions) -> None:
    nasty = "$(touch /tmp/pwned); echo 'x' `id` && rm -rf ~"
    line = sessions.pane_command(["printf", "%s", nasty], {"A": nasty})

    words = shlex.split(line)
    assert words[0] == "exec"
    assert words[-3:] == ["printf", "%s", nasty]
    assert f"A={nasty}" in words
    with pytest.raises(ValueError):
        sessions.pane_command(["true"], {"BAD-NAME": "x"})
    with pytest.raises(ValueError):
        sessions.pane_command([], {})


def test_adopt_returns_only_our_sessions(socket_name: str, tmp_path: Path) -> None:
    ours, other_agent = TmuxSessions(socket_name, AGENT_ID), TmuxSessions(socket_name, "agent-2")
    try:
        mine, theirs, unmarked = new_user_id(), new_user_id(), new_user_id()
        ours.ensure(mine, tmp_path, ["sleep", "60"], {})
        other_agent.ensure(theirs, tmp_path, ["sleep", "60"], {})
        ours.server.new_session(tmux_session_name(unmarked), window_command="sleep 60")

        assert set(ours.adopt()) == {mine}
        assert set(other_agent.adopt()) == {theirs}
        for foreign in (theirs, unmarked):
            assert not ours.is_alive(foreign)
            with pytest.raises(ForeignSession):
                ours.kill(foreign)
            with pytest.raises(ForeignSession):
                ours.ensure(foreign, tmp_path, ["sleep", "1"], {})
            with pytest.raises(ForeignSession):
                ours.paste_line(foreign, "hello")
        assert ours.server.has_session(tmux_session_name(theirs), exact=True)
        assert ours.server.has_session(tmux_session_name(unmarked), exact=True)
    finally:
        _reap(ours)


def test_killed_or_exited_session_is_not_alive(sessions: TmuxSessions, tmp_path: Path) -> None:
    killed, exited = new_user_id(), new_user_id()
    sessions.ensure(killed, tmp_path, ["sleep", "60"], {})
    sessions.ensure(exited, tmp_path, ["sh", "-c", "echo bye; exit 3"], {"PATH": "/usr/bin:/bin"})

    sessions.server.cmd("kill-session", "-t", f"={tmux_session_name(killed)}")
    _eventually(lambda: not sessions.is_alive(exited))

    assert not sessions.is_alive(killed)
    assert not sessions.exists(killed)
    assert sessions.exists(exited), "remain-on-exit keeps the dead pane for diagnostics"
    assert "bye" in sessions.capture(exited)
    # ensure() replaces a dead session with a running one.
    sessions.ensure(exited, tmp_path, ["sleep", "60"], {})
    assert sessions.is_alive(exited)
    assert sessions.kill(exited) is True
    assert sessions.kill(exited) is False
    with pytest.raises(SessionNotFound):
        sessions.capture(exited)


def test_paste_line_delivers_text_verbatim_and_presses_enter(
    sessions: TmuxSessions, tmp_path: Path
) -> None:
    user_id = new_user_id()
    script = 'IFS= read -r line; printf "%s" "$line" > got.txt; sleep 60'
    sessions.ensure(user_id, tmp_path, ["sh", "-c", script], {"PATH": "/usr/bin:/bin"})
    text = "Read prompts/x.txt; echo $HOME `id` 'quoted' \"double\" ;"

    sessions.paste_line(user_id, text)
    _eventually(lambda: (tmp_path / "got.txt").is_file())

    assert (tmp_path / "got.txt").read_text() == text
    with pytest.raises(ValueError):
        sessions.paste_line(user_id, "two\nlines")
    assert sessions.server.cmd("list-buffers").stdout == [], "the paste buffer is deleted"


def test_kill_server_only_touches_our_socket(sessions: TmuxSessions, tmp_path: Path) -> None:
    neighbour = TmuxSessions(f"tb-test-{secrets.token_hex(6)}", AGENT_ID)
    try:
        user_id = new_user_id()
        neighbour.ensure(user_id, tmp_path, ["sleep", "60"], {})
        sessions.ensure(new_user_id(), tmp_path, ["sleep", "60"], {})

        sessions.kill_server()

        assert sessions.adopt() == {}
        assert neighbour.is_alive(user_id)
    finally:
        _reap(neighbour)
