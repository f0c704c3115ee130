"""Where the tests find the real tools. `make test` installs all of them, so a missing tool
is a failure with the command that fixes it, never a silent skip."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def in_process_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto inside this process, with test credentials and nothing from the outside environment
    (no endpoint, profile or session token); the cached clients are dropped on both sides."""
    from moto import mock_aws

    from tmux_builder import aws

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        aws.reset()
        try:
            yield
        finally:
            aws.reset()


def write_built_site(root: Path) -> Path:
    """A small built site in ``root``: pages, a hashed script, a stylesheet and an image."""
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(
        "<!doctype html><html><head><title>Blue Harbour Cafe</title>"
        '<script type="module" src="/assets/index-B7qZ2m4P.js"></script></head>'
        "<body>fresh bread</body></html>"
    )
    (root / "404.html").write_text("<html><head><title>Lost</title></head><body>lost</body></html>")
    (root / "assets" / "index-B7qZ2m4P.js").write_text("console.log(1)")
    (root / "styles.css").write_text("body{color:teal}")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    return root
