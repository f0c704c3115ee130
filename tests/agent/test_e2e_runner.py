"""Running the AI's generated E2E tests in an isolated pytest process, against a local site."""

from __future__ import annotations

import functools
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agent.browser import chromium_path
from agent.e2e_runner import run_e2e_tests
from agent.errors import E2EError

CONFTEST = """
import os

import pytest
from playwright.sync_api import sync_playwright

ARGS = ["--disable-background-networking", "--disable-component-update", "--no-first-run",
        "--disable-sync", "--disable-gpu"]


@pytest.fixture(scope="session")
def page():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=os.environ["CHROMIUM_PATH"], args=ARGS)
        yield browser.new_page()
        browser.close()
"""

PASSING = """
import os


def test_title(page):
    page.goto(os.environ["SITE_URL"])
    assert page.title() == "Bakery"


def test_heading(page):
    page.goto(os.environ["SITE_URL"])
    assert page.locator("h1").inner_text() == "Fresh bread"
"""

FAILING = """
import os


def test_opening_hours(page):
    page.goto(os.environ["SITE_URL"])
    assert "Opening hours" in page.content(), "no opening hours on the page"
"""

HANGING = """
import os
import subprocess
import time
from pathlib import Path


def test_hangs(page):
    page.goto(os.environ["SITE_URL"])
    # A grandchild in a session of its own: only the tree walk can find it.
    subprocess.Popen(["sleep", "120"], start_new_session=True)
    Path("started").write_text("yes")
    time.sleep(120)
"""

ENV_DUMP = """
import json
import os
from pathlib import Path


def test_dump_env():
    Path("env.json").write_text(json.dumps(dict(os.environ)))
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("site")
    (root / "index.html").write_text(
        "<!doctype html><html><head><title>Bakery</title></head>"
        "<body><h1>Fresh bread</h1></body></html>"
    )
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def write_tests(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def processes_with_env(marker: str) -> list[int]:
    """Processes whose environment holds ``marker``: everything the run started inherits it."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.browser
def test_counts_passes_and_failures(site_url: str, tmp_path: Path) -> None:
    tests_dir = write_tests(
        tmp_path / "e2e",
        {"conftest.py": CONFTEST, "test_home.py": PASSING, "test_hours.py": FAILING},
    )
    report = tmp_path / "reports" / "e2e-report.xml"

    summary = run_e2e_tests(tests_dir, site_url, report, chromium_path(), timeout_s=60)

    assert (summary.passed, summary.failed, summary.errors, summary.skipped) == (2, 1, 0, 0)
    assert not summary.ok
    assert summary.exit_code == 1
    assert summary.duration_seconds > 0
    assert report.is_file() and summary.report_path == report.resolve()
    (failure,) = summary.failures
    assert failure.name == "test_hours::test_opening_hours"
    assert failure.kind == "failure"
    assert "no opening hours on the page" in failure.message
    result = summary.to_result("users/u/e2e-report.xml")
    assert (result.passed, result.failed, result.report_key) == (2, 1, "users/u/e2e-report.xml")
    assert not result.ok


def test_no_tests_is_an_error(tmp_path: Path) -> None:
    tests_dir = write_tests(tmp_path / "e2e", {"conftest.py": "", "helpers.py": "X = 1\n"})
    with pytest.raises(E2EError, match="no tests") as caught:
        run_e2e_tests(tests_dir, "http://127.0.0.1:9/", tmp_path / "r.xml", "/bin/false")
    assert caught.value.error_code == "E2EFailed"
    with pytest.raises(E2EError, match="no tests"):
        run_e2e_tests(tmp_path / "missing", "http://x/", tmp_path / "r.xml", "/bin/false")


@pytest.mark.browser
def test_timeout_kills_the_whole_tree(site_url: str, tmp_path: Path) -> None:
    tests_dir = write_tests(tmp_path / "e2e", {"conftest.py": CONFTEST, "test_hang.py": HANGING})
    marker = f"{site_url}?run={uuid.uuid4().hex}"
    started = time.monotonic()

    with pytest.raises(E2EError, match="timed out"):
        # Long enough for pytest and a browser to start on a loaded 2-core machine.
        run_e2e_tests(tests_dir, marker, tmp_path / "r.xml", chromium_path(), timeout_s=10)

    assert time.monotonic() - started < 25
    assert (tests_dir / "started").exists(), "the test did not get far enough to hang"
    assert processes_with_env(marker) == []


def test_child_gets_only_a_minimal_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "agent-secret-do-not-leak")
    monkeypatch.setenv("TMUX_BUILDER_AGENT_TOKEN", "agent-token-do-not-leak")
    tests_dir = write_tests(tmp_path / "e2e", {"test_env.py": ENV_DUMP})

    summary = run_e2e_tests(tests_dir, "http://site.test/", tmp_path / "r.xml", "/bin/chromium")

    assert summary.passed == 1 and summary.ok
    env = json.loads((tests_dir / "env.json").read_text())
    assert "do-not-leak" not in json.dumps(env)
    own = {k for k in env if not k.startswith("PYTEST_")}
    assert own == {
        "PATH",
        "HOME",
        "LANG",
        "SITE_URL",
        "CHROMIUM_PATH",
        "PYTHONDONTWRITEBYTECODE",
        "TMUX_BUILDER_E2E_RUN",
    }
    assert env["SITE_URL"] == "http://site.test/"
    assert env["CHROMIUM_PATH"] == "/bin/chromium"
    assert env["HOME"] != os.environ.get("HOME")
    assert not Path(env["HOME"]).exists(), "the temporary HOME is removed after the run"
