"""Run the AI's generated Playwright tests against the live site, isolated from the agent.

The tests are code the AI wrote, so they run in their own session (process group) with a time
limit and an environment of only what they need (the site URL and the browser): no cloud
credentials, tokens or settings of the agent can reach them. Their JUnit XML report is the
result; what a failed test means for the pipeline is the caller's decision.

With a pane user (:mod:`agent.pane_user`, production) they also run as that user, like the AI's
pane: the agent's own user can reach the instance metadata service, and with it the host's
cloud credentials; the pane user's packets to it are rejected. That changes three things:

- The run's HOME and report live in a fresh scratch folder shared with that user's group; the
  report is copied out only if it is a regular file that user wrote (never through a link the
  tests left in its place, which would have the agent upload a file only it may read).
- The process is started through :meth:`PaneUser.command` (``env -i``: the tests' environment
  only; ``env -C``: the tests' folder is entered as that user).
- Ending the run: the agent may not signal another user's processes (in production it is not
  root, and sudo lets it run only ``setpriv`` as the pane user), nor read their environment. The
  signals are sent as the pane user, by a small script started the same way; the process tree is
  still found from ``/proc/<pid>/stat``, which anyone may read.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Collection, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from agent.errors import E2EError
from agent.pane_user import LAUNCH_ENV, PANE_UMASK, PaneUserError
from tmux_builder.contracts import E2EResult

if TYPE_CHECKING:
    from agent.pane_user import PaneUser

log = logging.getLogger(__name__)

PYTEST_NO_TESTS_COLLECTED = 5
MESSAGE_MAX = 500
FAILURES_MAX = 20
OUTPUT_TAIL_MAX = 4000
REPORT_MAX_BYTES = 20 * 1024 * 1024
KILL_GRACE_S = 2.0
# How long starting the signalling script as the pane user may take (sudo, an interpreter).
_SIGNAL_START_S = 10.0
_REPORT_NAME = "report.xml"


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
    *,
    pane_user: PaneUser | None = None,
    python: str | None = None,
) -> E2ESummary:
    """Run the pytest files in ``tests_dir`` against ``site_url``; summarise their report.

    ``pane_user``: the user the tests run as (None: the agent's own). ``python``: an interpreter
    with pytest and Playwright that user can run (default: the agent's). The report is copied to
    ``report_path``, which should be in a folder only the agent can write.

    Raises :class:`E2EError` when there is nothing to run, when pytest could not produce a
    report, or when the run exceeds ``timeout_s`` (the whole process tree is killed).
    """
    if not tests_dir.is_dir():
        raise E2EError(f"no tests: {tests_dir} does not exist")
    python = python or sys.executable
    tests_dir = tests_dir.absolute()
    report_path = report_path.resolve()
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.unlink(missing_ok=True)
    signals: _Signals = _OwnSignals() if pane_user is None else _PaneUserSignals(pane_user, python)
    started = time.monotonic()
    with _scratch(pane_user) as scratch:
        written = scratch / _REPORT_NAME
        env = child_environment(site_url, chromium, str(scratch / "home"))
        command = _pytest_command(python, tests_dir, written)
        if pane_user is None:
            launch = _Launch(command, env, cwd=tests_dir)
        else:
            launch = _Launch(pane_user.command(command, env, cwd=tests_dir), LAUNCH_ENV, PANE_UMASK)
        exit_code, output = _run_isolated(launch, env[RUN_MARKER_VAR], timeout_s, signals)
        has_report = _take_report(written, report_path, owner=signals.uid)
    wall_clock = time.monotonic() - started

    if exit_code == PYTEST_NO_TESTS_COLLECTED:
        raise E2EError(f"no tests collected in {tests_dir.name}/")
    if not has_report:
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


def _pytest_command(python: str, tests_dir: Path, report: Path) -> list[str]:
    return [
        python,
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
        f"--junitxml={report}",
    ]


@dataclass(frozen=True)
class _Launch:
    """How the run's process is started: the command, its environment, folder and umask."""

    command: list[str]
    env: dict[str, str]
    umask: int = -1
    cwd: Path | None = None


@contextmanager
def _scratch(pane_user: PaneUser | None) -> Iterator[Path]:
    """A fresh folder for the run's HOME and report, removed afterwards.

    Private to the agent; with a pane user, shared with its group (set-group-id, 2770) so the
    tests can write there and the agent can read and remove what they wrote.
    """
    scratch = Path(tempfile.mkdtemp(prefix="tmux-builder-e2e-"))
    try:
        home = scratch / "home"
        home.mkdir(mode=0o700)
        if pane_user is not None:
            try:
                for folder in (scratch, home):
                    pane_user.share_folder(folder)
            except PaneUserError as error:
                raise E2EError(f"cannot share the E2E run's folder: {error}") from None
        yield scratch
    finally:
        _remove_scratch(scratch, pane_user)


def _remove_scratch(scratch: Path, pane_user: PaneUser | None) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
    if pane_user is None or not scratch.exists():
        return
    # The tests may have taken the group's access away from what they made: remove it as them.
    try:
        leftovers = [str(entry) for entry in scratch.iterdir()]
        if leftovers:
            pane_user.run(["rm", "-rf", "--", *leftovers], timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        log.warning("E2E scratch folder %s not removed: %s", scratch, error)
    shutil.rmtree(scratch, ignore_errors=True)


def _take_report(written: Path, report_path: Path, owner: int) -> bool:
    """Copy the run's report to ``report_path``; False when the run left none.

    Only a regular file of the run's user is taken, opened without following links: the tests
    could leave a link to a file only the agent may read in its place, for the agent to upload.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(written, flags)
    except FileNotFoundError:
        return False
    except OSError as error:
        raise E2EError(f"the E2E report is not a file the tests wrote: {error}") from None
    with os.fdopen(fd, "rb") as source:
        info = os.fstat(source.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != owner:
            raise E2EError("the E2E report is not a file the tests wrote")
        data = source.read(REPORT_MAX_BYTES + 1)
    if len(data) > REPORT_MAX_BYTES:
        raise E2EError(f"E2E report is larger than {REPORT_MAX_BYTES} bytes")
    report_path.unlink(missing_ok=True)
    out_flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with os.fdopen(os.open(report_path, out_flags, 0o640), "wb") as target:
        target.write(data)
    return True


def _run_isolated(
    launch: _Launch, marker: str, timeout_s: float, signals: _Signals
) -> tuple[int, str]:
    """Run in a new session (its own process group); whatever is left at the end is killed."""
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            launch.command,
            cwd=launch.cwd,
            env=launch.env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            umask=launch.umask,
        )
        timed_out = False
        try:
            exit_code = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            # Also after a normal exit: a test may leave a server or browser behind.
            kill_process_tree(process, signals, marker=f"{RUN_MARKER_VAR}={marker}")
        if timed_out:
            raise E2EError(f"E2E tests timed out after {timeout_s:g}s")
        output.seek(0)
        return exit_code, output.read().decode("utf-8", errors="replace")


# ------------------------------------------------------------------------ ending the run


class _Signals(Protocol):
    """Sends signals to the run's processes, as a user allowed to."""

    @property
    def uid(self) -> int:
        """The user the run's processes (and its report) belong to."""
        ...

    def send(self, signum: signal.Signals, group: int, pids: Collection[int]) -> None:
        """Signal the process group ``group`` (0: none) and each of ``pids``."""
        ...

    def kill_marked(self, marker: str) -> None:
        """SIGKILL every process with ``marker`` in its environment, until none is left."""
        ...


class _OwnSignals:
    """The run is the agent's own user's: signals are sent from here."""

    @property
    def uid(self) -> int:
        return os.geteuid()

    def send(self, signum: signal.Signals, group: int, pids: Collection[int]) -> None:
        _signal_all(group, pids, signum)

    def kill_marked(self, marker: str) -> None:
        _kill_marked(marker.encode())


# Run as the pane user: argv is signal, sweep seconds, marker ("": no sweep), group (0: none),
# pids. Only that user can signal its processes and read their environment.
_SIGNAL_SCRIPT = r"""
import os, sys, time
signum, sweep_s, marker, group, *pids = sys.argv[1:]
signum, needle, me = int(signum), marker.encode(), os.getpid()
def hit(send, pid):
    try:
        send(pid, signum)
    except OSError:
        pass
if int(group) > 0:
    hit(os.killpg, int(group))
for pid in pids:
    hit(os.kill, int(pid))
deadline = time.monotonic() + float(sweep_s)
while needle:
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as environ:
                if needle in environ.read().split(b"\0"):
                    found.append(int(name))
        except OSError:
            pass
    for pid in found:
        hit(os.kill, pid)
    if not found or time.monotonic() > deadline:
        break
    time.sleep(0.05)
"""


@dataclass(frozen=True)
class _PaneUserSignals:
    """The run is the pane user's: signals are sent by a script running as that user."""

    user: PaneUser
    python: str

    @property
    def uid(self) -> int:
        return self.user.uid

    def send(self, signum: signal.Signals, group: int, pids: Collection[int]) -> None:
        self._run(signum, group, pids, marker="", sweep_s=0.0)

    def kill_marked(self, marker: str) -> None:
        self._run(signal.SIGKILL, 0, (), marker=marker, sweep_s=KILL_GRACE_S * 2)

    def _run(
        self,
        signum: signal.Signals,
        group: int,
        pids: Collection[int],
        marker: str,
        sweep_s: float,
    ) -> None:
        argv = [self.python, "-I", "-S", "-c", _SIGNAL_SCRIPT, str(int(signum)), f"{sweep_s:g}"]
        argv += [marker, str(group), *(str(pid) for pid in sorted(pids))]
        try:
            result = self.user.run(argv, timeout=sweep_s + _SIGNAL_START_S)
        except (OSError, subprocess.TimeoutExpired) as error:
            log.warning("cannot signal the E2E run as %s: %s", self.user.name, error)
            return
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()[-500:]
            log.warning("signalling the E2E run as %s failed: %s", self.user.name, detail)


def kill_process_tree(
    process: subprocess.Popen[bytes], signals: _Signals, marker: str | None = None
) -> None:
    """End the process, its group and every descendant (browsers may start groups of their own).

    SIGTERM first so a Playwright driver can close its browser, SIGKILL what is left after a
    short grace period. With ``marker`` (``NAME=value`` in the run's environment), processes
    that escaped the tree (re-parented after their parent died, or started during the grace
    period) are found by their environment and killed too.
    """
    try:
        _kill_tree(process, signals)
    finally:
        if marker:
            signals.kill_marked(marker)


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


def _kill_tree(process: subprocess.Popen[bytes], signals: _Signals) -> None:
    if process.poll() is not None:
        signals.send(signal.SIGKILL, process.pid, ())  # leftovers of an exited run
        return
    victims = _descendants(process.pid)
    signals.send(signal.SIGTERM, process.pid, victims)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=KILL_GRACE_S)
    deadline = time.monotonic() + KILL_GRACE_S
    while time.monotonic() < deadline and any(_alive(pid) for pid in victims):
        time.sleep(0.05)
    signals.send(signal.SIGKILL, process.pid, victims | _descendants(process.pid))
    try:
        process.wait(timeout=KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        # The signals did not arrive (a broken sudo rule?): our own child, at least, ends.
        with suppress(OSError):
            process.kill()
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=KILL_GRACE_S)
        log.warning("E2E run %d did not end on its signals", process.pid)


def _signal_all(group: int, pids: Collection[int], signum: signal.Signals) -> None:
    if group > 0:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signum)
    for pid in pids:
        with suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting for its (other) parent."""
    try:
        line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return line.rsplit(")", 1)[1].split()[0] != "Z"


def _descendants(root: int) -> set[int]:
    """All processes below ``root``, from /proc (empty where there is no /proc).

    ``/proc/<pid>/stat`` is readable for every user's processes: this works for the pane user's.
    """
    children: dict[int, list[int]] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return set()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            line = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces and parentheses.
        parent = int(line.rsplit(")", 1)[1].split()[1])
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
