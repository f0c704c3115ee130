"""Where the tests find the real tools. `make test` installs all of them, so a missing tool
is a failure with the command that fixes it, never a silent skip."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def claude_bin() -> str:
    """The pinned Claude Code CLI (TMUX_BUILDER_AGENT_CLAUDE_BIN or node_modules/.bin)."""
    configured = os.environ.get("TMUX_BUILDER_AGENT_CLAUDE_BIN", "")
    path = Path(configured) if configured else ROOT / "node_modules" / ".bin" / "claude"
    if not os.access(path, os.X_OK):
        pytest.fail(f"Claude Code CLI not found at {path}: run `make test` (it runs npm ci)")
    return str(path)


def chromium() -> str:
    from agent.browser import ChromiumNotFoundError, chromium_path

    try:
        return chromium_path(os.environ.get("CHROMIUM_PATH", ""))
    except ChromiumNotFoundError as exc:
        pytest.fail(str(exc))


def tmux() -> str:
    path = shutil.which("tmux")
    if path is None:
        pytest.fail("tmux is not installed: apt-get install tmux")
    return path
