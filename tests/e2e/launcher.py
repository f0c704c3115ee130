"""Starting the embedded stack for an end-to-end test: `tmux-builder up` as a subprocess,
in its own state folder, on free ports, with the offline model; stopped with Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tmux_builder.cli", *args]


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without AWS or tmux-builder settings (the stack sets its own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TMUX_BUILDER_"))}
    env.update(extra)
    return env


@contextmanager
def running_stack(state_dir: Path, *up_args: str, **env: str) -> Iterator[dict[str, Any]]:
    """The stack's stack.json, plus ``state_dir``, ``process`` and ``admin_token``."""
    log = (state_dir / "stack.log").open("wb")
    command = cli(
        "--state-dir",
        str(state_dir),
        "up",
        "--port",
        "0",
        "--aws-port",
        "0",
        "--model-port",
        "0",
        "--model",
        "offline",
        *up_args,
    )
    process = subprocess.Popen(
        command, cwd=ROOT, env=clean_environment(**env), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        stack_file = state_dir / "stack.json"
        deadline = time.monotonic() + 60
        while not stack_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the stack did not start:\n{(state_dir / 'stack.log').read_text()}")
            time.sleep(0.2)
        info = json.loads(stack_file.read_text())
        info.update(
            state_dir=state_dir,
            process=process,
            admin_token=(state_dir / "admin-token").read_text().strip(),
        )
        yield info
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def stack_logs(info: dict[str, Any]) -> str:
    """Every log of the stack's processes (agents, model), for a failing assertion's message."""
    return "\n".join(p.read_text() for p in sorted((info["state_dir"] / "logs").glob("*.log")))


def finished_build(api: Any, execution_id: str, info: dict[str, Any], timeout: float = 240) -> Any:
    """Wait for a build to end; it must have succeeded (else the status and the logs' tail)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = api.status(execution_id)
        if status["status"] != "running":
            assert status["status"] == "succeeded", f"{status}\n{stack_logs(info)[-4000:]}"
            return status
        time.sleep(0.5)
    raise AssertionError(f"build {execution_id} did not finish\n{stack_logs(info)[-4000:]}")


def eventually(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()
