"""The generated e2e tests pass against the generated site, in a real Chromium.

This is the promise the three tasks make to each other: the tests written from the page pass
against that page. The site is served from a temporary folder; the deployed-site run belongs to
the pipeline's own end-to-end tests.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.tools import chromium
from tmux_builder.offline_model.deliverables import build_deliverable
from tmux_builder.offline_model.prompt_file import PromptTask
from tmux_builder.pipeline import Step

pytestmark = pytest.mark.browser

VARIANTS = {
    "ada": "A portfolio website for a photographer named Ada, dark theme",
    "hostile": 'A shop named "Zoë\'s <script>alert(1)</script> & 🍰", playful, testimonials, FAQ',
}


def _chromium() -> str:
    return chromium()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def serve() -> Iterator[object]:
    servers: list[ThreadingHTTPServer] = []

    def start(directory: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def _build(requirements: str, workdir: Path) -> None:
    inputs: dict[str, str | None] = {}
    for step in (Step.CREATE_PLAN, Step.GENERATE_CODE, Step.E2E_TESTS):
        task = PromptTask(step=step, task_id=f"{step.value}-t-a0", requirements=requirements)
        for relative, content in build_deliverable(task, inputs).files.items():
            path = workdir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            inputs[relative] = content


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_generated_tests_pass_against_the_generated_site(variant, tmp_path, serve):
    chromium = _chromium()
    _build(VARIANTS[variant], tmp_path)
    url = serve(tmp_path / "code")

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            "e2e",
        ],
        cwd=tmp_path,
        env=os.environ | {"SITE_URL": url, "CHROMIUM_PATH": chromium},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "8 passed" in run.stdout
