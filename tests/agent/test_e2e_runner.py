"""Running the AI's generated E2E tests in an isolated pytest process, against a local site.

With a pane user (agent.pane_user) the tests run as a throwaway Unix user (needs root, else
skipped) and an interpreter that user can run: a venv of the system Python over this project's
site-packages (the project's own venv may live under a private HOME).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import sysconfig
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
from agent.pane_user import PaneUser
from tests.fixtures.pane_users import reachable_folder, throwaway_pane_user

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


# Run as the pane user: who it is, what it may read and write, in a file the agent reads back.
WHO_AM_I = """
import json
import os
from pathlib import Path


def test_who_am_i():
    (Path.home() / "made-by-the-test").write_text("yes")
    try:
        agent_env = Path(f"/proc/{os.getppid()}/environ").read_bytes()
    except OSError:
        agent_env = b""
    Path("who.json").write_text(json.dumps({
        "uid": os.getuid(),
        "gid": os.getgid(),
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "agent_environ_readable": bool(agent_env),
    }))


def test_fails_with_a_message():
    assert 1 + 1 == 3, "arithmetic is broken"
"""

# Hangs, with processes that only the group, the tree walk or the run's marker can find.
HANGING_TREE = """
import os
import subprocess
import time
from pathlib import Path


def test_hangs():
    # Without the run's marker in their environment: the group and the tree walk find these.
    in_group = subprocess.Popen(["sleep", "120"], env={})
    own_session = subprocess.Popen(["sleep", "120"], env={}, start_new_session=True)
    # Re-parented once its shell exits: out of the tree, only its environment names the run.
    orphan = subprocess.run(
        ["/bin/sh", "-c", "setsid sleep 120 >/dev/null 2>&1 & echo $!"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    pids = [os.getpid(), in_group.pid, own_session.pid, int(orphan)]
    Path("pids").write_text(" ".join(map(str, pids)))
    time.sleep(120)
"""

# After pytest wrote its report, the tests put a link in its place, for the agent to follow.
REPORT_SWAP_CONFTEST = """
import os
from pathlib import Path


def pytest_unconfigure(config):
    report = Path(config.option.xmlpath)
    report.unlink()
    report.symlink_to(os.environ["SITE_URL"])
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


def test_a_report_swapped_for_a_link_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "agent-only.txt"
    secret.write_text("<testsuite tests='1' name='agent secret'/>")
    tests_dir = write_tests(
        tmp_path / "e2e", {"conftest.py": REPORT_SWAP_CONFTEST, "test_ok.py": "def test_ok(): pass"}
    )
    report = tmp_path / "reports" / "r.xml"

    with pytest.raises(E2EError, match="not a file the tests wrote"):
        run_e2e_tests(tests_dir, str(secret), report, "/bin/chromium")

    assert not report.exists()


# ----------------------------------------------------------------- as the pane user


@pytest.fixture(scope="module")
def pane_user() -> Iterator[PaneUser]:
    with throwaway_pane_user() as user:
        yield user


@pytest.fixture(scope="module")
def pane_python(pane_user: PaneUser) -> Iterator[str]:
    """A Python with pytest and Playwright that the pane user can run."""
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if not os.access(system, os.X_OK):
        pytest.skip(f"{system} (this Python's version, for its compiled packages) is needed")
    site_packages = sysconfig.get_paths()["purelib"]
    with reachable_folder("tb-e2e-python-") as root:
        root.chmod(0o755)
        venv = root / "venv"
        subprocess.run(
            [str(system), "-m", "venv", "--without-pip", str(venv)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        (own,) = (venv / "lib").glob("python3*/site-packages")
        (own / "project.pth").write_text(f"import site; site.addsitedir({site_packages!r})\n")
        python = venv / "bin" / "python"
        probe = pane_user.run([str(python), "-c", "import pytest, playwright"])
        if probe.returncode != 0:
            pytest.skip(f"the pane user cannot import pytest from {site_packages}: {probe.stderr}")
        yield str(python)


@pytest.fixture
def pane_tests(pane_user: PaneUser) -> Iterator[Path]:
    """An e2e folder as the AI leaves it: the pane user's, in a folder it can reach."""
    with reachable_folder("tb-e2e-tests-") as root:
        root.chmod(0o755)
        tests_dir = root / "e2e"
        tests_dir.mkdir()
        os.chown(tests_dir, pane_user.uid, pane_user.gid)
        yield tests_dir


def test_as_the_pane_user_the_tests_get_its_uid_and_none_of_the_agents_secrets(
    pane_user: PaneUser,
    pane_python: str,
    pane_tests: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "agent-secret-do-not-leak")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "agent-key-do-not-leak")
    write_tests(pane_tests, {"test_who.py": WHO_AM_I})
    report = tmp_path / "reports" / "e2e-report.xml"

    summary = run_e2e_tests(
        pane_tests,
        "http://site.test/",
        report,
        "/bin/chromium",
        timeout_s=60,
        pane_user=pane_user,
        python=pane_python,
    )

    who = json.loads((pane_tests / "who.json").read_text())
    assert (who["uid"], who["gid"]) == (pane_user.uid, pane_user.gid)
    assert who["cwd"] == str(pane_tests)
    assert "do-not-leak" not in json.dumps(who["env"])
    assert {key for key in who["env"] if not key.startswith("PYTEST_")} == {
        "PATH",
        "HOME",
        "LANG",
        "SITE_URL",
        "CHROMIUM_PATH",
        "PYTHONDONTWRITEBYTECODE",
        "TMUX_BUILDER_E2E_RUN",
    }
    assert who["agent_environ_readable"] is False
    assert not Path(who["env"]["HOME"]).exists(), "the scratch HOME is removed after the run"
    # The report the tests' user wrote, copied into the agent's folder and parsed.
    assert (summary.passed, summary.failed, summary.errors) == (1, 1, 0)
    assert summary.exit_code == 1
    (failure,) = summary.failures
    assert failure.name == "test_who::test_fails_with_a_message"
    assert "arithmetic is broken" in failure.message
    assert summary.report_path == report.resolve()
    assert report.stat().st_uid == os.geteuid()


def test_as_the_pane_user_a_hanging_run_is_killed_with_all_its_processes(
    pane_user: PaneUser, pane_python: str, pane_tests: Path, tmp_path: Path
) -> None:
    write_tests(pane_tests, {"test_hang.py": HANGING_TREE})
    started = time.monotonic()

    with pytest.raises(E2EError, match="timed out after 15s"):
        # Long enough for pytest to start as another user on a loaded 2-core machine.
        run_e2e_tests(
            pane_tests,
            "http://site.test/",
            tmp_path / "r.xml",
            "/bin/chromium",
            timeout_s=15,
            pane_user=pane_user,
            python=pane_python,
        )

    assert time.monotonic() - started < 30
    pids = [int(pid) for pid in (pane_tests / "pids").read_text().split()]
    assert len(pids) == 4, "the test did not get far enough to hang"
    assert [pid for pid in pids if _running(pid)] == []


def test_as_the_pane_user_a_report_swapped_for_a_link_is_not_followed(
    pane_user: PaneUser, pane_python: str, pane_tests: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "agent-only.txt"
    secret.write_text("<testsuite tests='1' name='agent secret'/>")
    secret.chmod(0o600)
    write_tests(
        pane_tests, {"conftest.py": REPORT_SWAP_CONFTEST, "test_ok.py": "def test_ok(): pass"}
    )
    report = tmp_path / "reports" / "r.xml"

    with pytest.raises(E2EError, match="not a file the tests wrote"):
        run_e2e_tests(
            pane_tests,
            str(secret),
            report,
            "/bin/chromium",
            timeout_s=60,
            pane_user=pane_user,
            python=pane_python,
        )

    assert not report.exists()


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for whoever reaps for init)."""
    try:
        line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return line.rsplit(")", 1)[1].split()[0] != "Z"
