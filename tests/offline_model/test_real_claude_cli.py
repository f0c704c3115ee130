"""The real Claude Code CLI, in tmux, building a plan, a site and its tests with the offline model.

Runs the three AI tasks in one CLI session, in order, the way the agent does: write a prompt
file, paste one line with a bracketed paste, press Enter, wait for the ``Stop`` hook. The CLI
comes from ``TMUX_BUILDER_AGENT_CLAUDE_BIN`` (else the project's ``node_modules/.bin/claude``);
tmux runs on a private socket that a finalizer kills.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.tools import claude_bin
from tests.tools import tmux as tmux_path
from tmux_builder.offline_model.deliverables import build_deliverable
from tmux_builder.offline_model.prompt_file import parse_prompt_file
from tmux_builder.offline_model.server import OfflineModelServer

pytestmark = [pytest.mark.claude, pytest.mark.tmux]

SESSION = "builder"
TASKS = ("create_plan", "generate_code", "e2e_tests")
REQUIREMENTS = (
    "A portfolio website for a photographer named Ada, dark theme.\n"
    'She wants a "gallery" & <b>contact</b> form 📷'
)
EXPECTED = {
    "create_plan": ("plan.md",),
    "generate_code": ("code/index.html", "code/styles.css", "code/script.js"),
    "e2e_tests": ("e2e/conftest.py", "e2e/test_site.py"),
}
# Appends the hook's JSON (stdin) as one line to the file named in argv[1].
HOOK_SCRIPT = (
    "import json, sys; data = json.load(sys.stdin); "
    "open(sys.argv[1], 'a').write(json.dumps(data) + '\\n')"
)


def _claude_bin() -> str:
    return claude_bin()


@pytest.fixture
def model() -> Iterator[OfflineModelServer]:
    server = OfflineModelServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def tmux() -> Iterator[Callable[..., subprocess.CompletedProcess[str]]]:
    """``tmux -L <unique socket>``; the server on that socket is killed afterwards."""
    tmux_path()
    socket = f"offline-model-test-{uuid.uuid4().hex[:8]}"

    def run(
        *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", socket, *args], input=stdin, capture_output=True, text=True, check=check
        )

    try:
        yield run
    finally:
        # Never hide the test's own failure behind a cleanup error.
        with contextlib.suppress(OSError):
            run("kill-server", check=False)
        socket_dir = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
        (socket_dir / socket).unlink(missing_ok=True)


def _hook(path: Path) -> list[dict]:
    command = (
        f"{shlex.quote(sys.executable)} -c {shlex.quote(HOOK_SCRIPT)} {shlex.quote(str(path))}"
    )
    return [{"hooks": [{"type": "command", "command": command}]}]


def _prepare(tmp_path: Path) -> tuple[Path, Path, Path]:
    workdir = (tmp_path / "work").resolve()
    home, signals = tmp_path / "home", tmp_path / "signals"
    for folder in (workdir / "prompts", workdir / ".claude", home, signals):
        folder.mkdir(parents=True)
    for task in TASKS:
        (workdir / "prompts" / f"{task}-t1-a0.txt").write_text(
            f"# Task: {task}\nTask id: {task}-t1-a0\nProvider: aws\nSite type: static\n"
            "Site URL: https://d111111abcdef8.cloudfront.net\n\n"
            f"## Requirements\n{REQUIREMENTS}\n\n"
            "## Instructions\n1. Follow the task.\n"
        )
    (home / ".claude.json").write_text(
        json.dumps(
            {
                "hasCompletedOnboarding": True,
                "projects": {str(workdir): {"hasTrustDialogAccepted": True}},
            }
        )
    )
    settings = {
        "permissions": {"allow": ["Read", "Write", "Edit", "Bash"]},
        "hooks": {
            "SessionStart": _hook(signals / "session-start.jsonl"),
            "UserPromptSubmit": _hook(signals / "prompts.jsonl"),
            "Stop": _hook(signals / "stops.jsonl"),
        },
    }
    (workdir / ".claude" / "settings.json").write_text(json.dumps(settings))
    return workdir, home, signals


def _lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _wait(
    condition: Callable[[], bool], seconds: float, what: str, screen: Callable[[], str]
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; the pane shows:\n{screen()}")
        time.sleep(0.05)


def test_real_cli_builds_plan_site_and_tests(tmp_path, model, tmux):
    claude = _claude_bin()
    workdir, home, signals = _prepare(tmp_path)

    def screen() -> str:
        return tmux("capture-pane", "-p", "-t", SESSION, check=False).stdout

    tmux(
        "new-session", "-d", "-s", SESSION, "-x", "200", "-y", "50", "-c", str(workdir),
        "env", f"HOME={home}", f"ANTHROPIC_BASE_URL={model.url}", "ANTHROPIC_AUTH_TOKEN=offline",
        "DISABLE_AUTOUPDATER=1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
        claude, "--permission-mode", "acceptEdits",
    )  # fmt: skip
    tmux("set-option", "-t", SESSION, "remain-on-exit", "on")
    _wait(lambda: bool(_lines(signals / "session-start.jsonl")), 20, "SessionStart", screen)

    for number, task in enumerate(TASKS, start=1):
        line = f"Read prompts/{task}-t1-a0.txt and do what it says."
        tmux("load-buffer", "-b", "prompt", "-", stdin=line)
        tmux("paste-buffer", "-p", "-d", "-b", "prompt", "-t", SESSION)
        time.sleep(0.2)
        tmux("send-keys", "-t", SESSION, "Enter")
        try:
            _wait(lambda n=number: len(_lines(signals / "prompts.jsonl")) >= n, 3, "submit", screen)
        except pytest.fail.Exception:
            tmux("send-keys", "-t", SESSION, "Enter")  # a lost Enter: press it once more
        _wait(lambda n=number: len(_lines(signals / "stops.jsonl")) >= n, 30, f"{task}", screen)
        assert _lines(signals / "prompts.jsonl")[number - 1]["prompt"] == line
        for relative in (*EXPECTED[task], f"summary-{task}-t1-a0.md"):
            assert (workdir / relative).is_file(), f"{task} did not write {relative}"

    stops = _lines(signals / "stops.jsonl")
    assert stops[0]["last_assistant_message"].startswith("Wrote `plan.md`: the plan for **Ada")
    assert stops[1]["last_assistant_message"].startswith("Wrote the site for **Ada** in `code/`")
    assert stops[2]["last_assistant_message"].startswith("Wrote 8 end-to-end tests")

    # What the CLI wrote is byte for byte what the model sent.
    inputs: dict[str, str | None] = {}
    for task in TASKS:
        prompt = parse_prompt_file((workdir / "prompts" / f"{task}-t1-a0.txt").read_text())
        for relative, content in build_deliverable(prompt, inputs).files.items():
            assert (workdir / relative).read_text() == content, relative
            inputs[relative] = content

    index = (workdir / "code/index.html").read_text()
    assert "<title>Ada — Photography Portfolio</title>" in index
    assert '<h1 id="site-name">Ada</h1>' in index
    assert "color-scheme: dark;" in (workdir / "code/styles.css").read_text()
    assert "- **Site name:** Ada" in (workdir / "plan.md").read_text()
    assert (
        "EXPECTED_TITLE = 'Ada — Photography Portfolio'"
        in (workdir / "e2e/test_site.py").read_text()
    )
