"""Run the AI's generated Playwright tests against the live site, isolated from the agent.

The tests are code the AI wrote, so they run in their own process group with a time limit and
an environment of only what they need (the site URL and the browser): no cloud credentials,
tokens or settings of the agent can reach them. Their JUnit XML report is the result; what a
failed test means for the pipeline is the caller's decision.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path

from agent.errors import E2EError
from tmux_builder.contracts import E2EResult

PYTEST_NO_TESTS_COLLECTED = 5
MESSAGE_MAX = 500
FAILURES_MAX = 20
OUTPUT_TAIL_MAX = 4000
REPORT_MAX_BYTES = 20 * 1024 * 1024
KILL_GRACE_S = 2.0


@dataclass(frozen=True)
class CaseFailure:
    """One failed or erroring test, as the user sees it in the build's activity."""

    name: str
    kind: str  # "failure" or "error"
    message: str


@dataclass(frozen=True)
class E2ESummary:
    passed: int
    failed: int
    errors: int
    skipped: int
    duration_seconds: float
    report_path: Path
    exit_code: int
    failures: list[CaseFailure] = field(default_factory=list)
    output_tail: str = ""

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errors + self.skipped

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.errors == 0 and self.passed > 0

    def to_result(self, report_key: str) -> E2EResult:
        """The pipeline's view: counts and where the stored report is."""
        return E2EResult(
            passed=self.passed,
            failed=self.failed,
            errors=self.errors,
            skipped=self.skipped,
            report_key=report_key,
            duration_seconds=round(self.duration_seconds, 3),
        )


def run_e2e_tests(
    tests_dir: Path,
    site_url: str,
    report_path: Path,
    chromium: str,
    timeout_s: float = 300,
) -> E2ESummary:
    """Run the pytest files in ``tests_dir`` against ``site_url``; summarise their report.

    Raises :class:`E2EError` when there is nothing to run, when pytest could not produce a
    report, or when the run exceeds ``timeout_s`` (the whole process tree is killed).
    """
    if not tests_dir.is_dir():
        raise E2EError(f"no tests: {tests_dir} does not exist")
    report_path = report_path.resolve()
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(tests_dir),
        "-q",
        "-p",
        "no:cacheprovider",
        "-c",
        os.devnull,
        "--rootdir",
        str(tests_dir),
        f"--junitxml={report_path}",
    ]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tmux-builder-e2e-") as home:
        env = child_environment(site_url, chromium, home)
        exit_code, output = _run_isolated(command, tests_dir, env, timeout_s)
    wall_clock = time.monotonic() - started

    if exit_code == PYTEST_NO_TESTS_COLLECTED:
        raise E2EError(f"no tests collected in {tests_dir.name}/")
    if not report_path.is_file():
        raise E2EError(f"pytest exited {exit_code} without a report: {_tail(output, 500)}")
    summary = parse_junit(report_path, exit_code=exit_code, output_tail=_tail(output))
    if summary.total == 0:
        raise E2EError(f"no tests ran in {tests_dir.name}/")
    if summary.duration_seconds <= 0:
        summary = replace(summary, duration_seconds=wall_clock)
    return summary


RUN_MARKER_VAR = "TMUX_BUILDER_E2E_RUN"


def child_environment(site_url: str, chromium: str, home: str) -> dict[str, str]:
    """Only what the tests need; nothing of the agent's own environment beyond PATH and LANG."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": home,
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "SITE_URL": site_url,
        "CHROMIUM_PATH": chromium,
        "PYTHONDONTWRITEBYTECODE": "1",
        # Inherited by everything the run starts, so leftovers are found even after their
        # parent died and they were re-parented out of the process tree.
        RUN_MARKER_VAR: uuid.uuid4().hex,
    }


def _run_isolated(
    command: list[str], cwd: Path, env: dict[str, str], timeout_s: float
) -> tuple[int, str]:
    """Run in a new session (its own process group); whatever is left at the end is killed."""
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        timed_out = False
        try:
            exit_code = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            # Also after a normal exit: a test may leave a server or browser behind.
            kill_process_tree(process, marker=f"{RUN_MARKER_VAR}={env[RUN_MARKER_VAR]}")
        if timed_out:
            raise E2EError(f"E2E tests timed out after {timeout_s:g}s")
        output.seek(0)
        return exit_code, output.read().decode("utf-8", errors="replace")


def kill_process_tree(process: subprocess.Popen[bytes], marker: str | None = None) -> None:
    """End the process, its group and every descendant (browsers may start groups of their own).

    SIGTERM first so a Playwright driver can close its browser, SIGKILL what is left after a
    short grace period. With ``marker`` (``NAME=value`` in the run's environment), processes
    that escaped the tree (re-parented after their parent died, or started during the grace
    period) are found by their environment and killed too.
    """
    try:
        _kill_tree(process)
    finally:
        if marker:
            _kill_marked(marker.encode())


def _kill_marked(marker: bytes) -> None:
    deadline = time.monotonic() + KILL_GRACE_S * 2
    while time.monotonic() < deadline:
        pids = _marked(marker)
        if not pids:
            return
        for pid in pids:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def _marked(marker: bytes) -> list[int]:
    own = os.getpid()
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        with suppress(OSError):
            if marker in (entry / "environ").read_bytes().split(b"\0") and _alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def _kill_tree(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        _signal_all(process.pid, set(), signal.SIGKILL)  # leftovers of an exited run
        return
    victims = _descendants(process.pid)
    _signal_all(process.pid, victims, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=KILL_GRACE_S)
    deadline = time.monotonic() + KILL_GRACE_S
    while time.monotonic() < deadline and any(_alive(pid) for pid in victims):
        time.sleep(0.05)
    _signal_all(process.pid, victims, signal.SIGKILL)
    process.wait()


def _signal_all(group: int, pids: set[int], signum: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)
    for pid in pids:
        with suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting for its (other) parent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _descendants(root: int) -> set[int]:
    """All processes below ``root``, from /proc (empty where there is no /proc)."""
    children: dict[int, list[int]] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return set()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces and parentheses.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    pending = [root]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def parse_junit(report_path: Path, *, exit_code: int = 0, output_tail: str = "") -> E2ESummary:
    """Counts, duration and failure messages from a pytest JUnit XML report."""
    if report_path.stat().st_size > REPORT_MAX_BYTES:
        raise E2EError(f"E2E report is larger than {REPORT_MAX_BYTES} bytes")
    try:
        root = ET.parse(report_path).getroot()
    except ET.ParseError as exc:
        raise E2EError(f"E2E report is not valid XML: {exc}") from exc
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    tests = failed = errors = skipped = 0
    duration = 0.0
    failures: list[CaseFailure] = []
    for suite in suites:
        tests += _int(suite.get("tests"))
        failed += _int(suite.get("failures"))
        errors += _int(suite.get("errors"))
        skipped += _int(suite.get("skipped"))
        duration += _float(suite.get("time"))
        failures.extend(_case_failures(suite))
    return E2ESummary(
        passed=max(tests - failed - errors - skipped, 0),
        failed=failed,
        errors=errors,
        skipped=skipped,
        duration_seconds=duration,
        report_path=report_path,
        exit_code=exit_code,
        failures=failures[:FAILURES_MAX],
        output_tail=output_tail,
    )


def _case_failures(suite: ET.Element) -> list[CaseFailure]:
    found: list[CaseFailure] = []
    for case in suite.iter("testcase"):
        for kind in ("failure", "error"):
            element = case.find(kind)
            if element is None:
                continue
            classname = case.get("classname", "")
            name = f"{classname}::{case.get('name', '')}" if classname else case.get("name", "")
            message = element.get("message") or (element.text or "").strip()
            found.append(CaseFailure(name=name, kind=kind, message=_truncate(message)))
    return found


def _truncate(text: str, limit: int = MESSAGE_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tail(text: str, limit: int = OUTPUT_TAIL_MAX) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _float(value: str | None) -> float:
    try:
        return float(value or 0)
    except ValueError:
        return 0.0
