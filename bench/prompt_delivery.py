"""Prompt delivery through the hard fixture TUI: lost, duplicated, and how long it takes.

Each send is the production ``Engine.run_turn`` (production timings) against
``tests/fixtures/hard_tui.py`` with every hard case on (``ALL_HARD_CASES``: Enter swallowed
within 150 ms of a paste, newlines outside brackets submit, trust dialog armed and pre-accepted,
busy turns, input dropped for 0-300 ms after Stop, a jittery read loop), in real tmux on a
private socket, reporting through the real notify hub. Each send has a distinct task id.

Printed (figures, not assertions):

- lost: sends whose instruction the TUI never submitted (run_turn errors included);
- duplicated: extra submissions of an instruction the TUI had already submitted;
- other: submissions that are not exactly one of the sent instructions (garbled);
- latency from the ``run_turn`` call to the prompt submitted (``UserPromptSubmit`` at the hub)
  and to the end of the turn (``Stop``): median, p95, max;
- how often the hard cases hit (from the TUI's log) and the engine's retries (from its log).

It stops by itself (``--max-seconds``) and always kills its tmux server.

    .venv/bin/python bench/prompt_delivery.py                  # 200 sends, one session
    .venv/bin/python bench/prompt_delivery.py --sends 50 --sessions 2
"""

from __future__ import annotations

import argparse
import logging
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent.engine.base import EngineError  # noqa: E402
from agent.notify_hub import HubError, NotifyHub  # noqa: E402
from agent.tmux_sessions import TmuxSessions  # noqa: E402
from agent.workspace import Workspace  # noqa: E402
from tests.fixtures.hard_tui_engine import (  # noqa: E402
    ALL_HARD_CASES,
    HardTuiEngine,
    events,
    submissions,
)
from tmux_builder.naming import new_user_id  # noqa: E402

PROMPT = "# Task {task_id}\nTask id: {task_id}\n\nWrite the file.\nThen stop.\n"


@dataclass
class _Send:
    task_id: str
    line: str = ""
    to_submitted: float | None = None
    to_stop: float | None = None
    error: str = ""


@dataclass
class _Session:
    ws: Workspace
    sends: list[_Send] = field(default_factory=list)


class _RetryCounter(logging.Handler):
    """Counts the engine's delivery retries from its warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "pasting it again" in message:
            self.counts["re-pastes"] += 1
        elif "pressing Enter again" in message:
            self.counts["Enter retries"] += 1


def _one_send(engine: HardTuiEngine, hub: NotifyHub, ws: Workspace, send: _Send) -> None:
    submitted_at: list[float] = []

    def watch() -> None:
        try:
            hub.wait_submitted(ws.user_id, send.task_id, engine.turn_timeout)
            submitted_at.append(time.monotonic())
        except HubError:
            pass  # reported as lost below

    watcher = threading.Thread(target=watch, daemon=True)
    started = time.monotonic()
    watcher.start()
    send.line = engine.instruction(ws, send.task_id)
    try:
        engine.run_turn(ws, send.task_id, PROMPT.format(task_id=send.task_id))
        send.to_stop = time.monotonic() - started
    except EngineError as error:
        send.error = f"{type(error).__name__}: {error}"
    watcher.join(timeout=1)
    if submitted_at:
        send.to_submitted = submitted_at[0] - started


def _run_session(
    engine: HardTuiEngine, hub: NotifyHub, session: _Session, count: int, deadline: float
) -> None:
    for n in range(count):
        if time.monotonic() >= deadline:
            return
        send = _Send(task_id=f"bench-{session.ws.user_id[:8]}-{n:04d}")
        session.sends.append(send)
        _one_send(engine, hub, session.ws, send)


def _figures(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):.3f} s   p95 {p95:.3f} s   max {ordered[-1]:.3f} s"


def _report(sessions: list[_Session], retries: Counter[str], wall: float) -> None:
    sends = [send for session in sessions for send in session.sends]
    received: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    for session in sessions:
        received.update(submissions(session.ws))
        hits.update(entry["event"] for entry in events(session.ws))
    sent_lines = {send.line for send in sends}
    lost = sum(1 for send in sends if received[send.line] == 0)
    errors = [send for send in sends if send.error]
    duplicated = sum(max(0, received[line] - 1) for line in sent_lines)
    other = sum(n for text, n in received.items() if text not in sent_lines)
    cases = ALL_HARD_CASES
    print(
        f"prompt delivery: {len(sends)} sends over {len(sessions)} session(s), hard cases: "
        f"Enter swallowed < {cases.swallow_enter_ms:g} ms after a paste, newline submits, "
        f"trust dialog (pre-accepted), turn {cases.turn_ms[0]:g}-{cases.turn_ms[1]:g} ms, "
        f"input dropped {cases.busy_tail_ms[0]:g}-{cases.busy_tail_ms[1]:g} ms after Stop, "
        f"read jitter 0-{cases.jitter_ms:g} ms"
    )
    print(
        f"  lost {lost}   duplicated {duplicated}   other submissions {other}   "
        f"run_turn errors {len(errors)}"
    )
    to_submitted = [send.to_submitted for send in sends if send.to_submitted is not None]
    to_stop = [send.to_stop for send in sends if send.to_stop is not None]
    print(f"  call -> prompt submitted: {_figures(to_submitted)}")
    print(f"  call -> turn end:         {_figures(to_stop)}")
    print(
        f"  hard cases hit: {hits['swallowed']} Enters swallowed, {hits['dropped']} inputs "
        f"dropped; engine: {retries['re-pastes']} re-pastes, {retries['Enter retries']} Enter "
        "retries"
    )
    for send in errors:
        print(f"  error {send.task_id}: {send.error}")
    print(f"  wall time {wall:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sends", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=1200.0)
    parser.add_argument("--keep", action="store_true", help="keep the session folders")
    args = parser.parse_args(argv)
    if args.sends < 1 or args.sessions < 1:
        parser.error("--sends and --sessions must be positive")

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)  # unwinds through the cleanup below

    signal.signal(signal.SIGTERM, terminate)
    retries = _RetryCounter()
    logging.getLogger("agent").addHandler(retries)
    logging.getLogger("agent").setLevel(logging.WARNING)

    root = Path(tempfile.mkdtemp(prefix="tmux-builder-bench-"))
    tmux = TmuxSessions(f"tb-bench-{secrets.token_hex(6)}", "bench")
    hub = NotifyHub().start()
    started = time.monotonic()
    try:
        engine = HardTuiEngine(tmux, hub, ALL_HARD_CASES, turn_timeout=30.0)
        sessions = [_Session(Workspace(root, new_user_id()).create()) for _ in range(args.sessions)]
        deadline = started + args.max_seconds
        base, extra = divmod(args.sends, args.sessions)
        shares = [base + (n < extra) for n in range(args.sessions)]
        threads = [
            threading.Thread(
                target=_run_session, args=(engine, hub, session, share, deadline), daemon=True
            )
            for session, share in zip(sessions, shares, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()) + 60)
        _report(sessions, retries.counts, time.monotonic() - started)
        if args.keep:
            print(f"  session folders (with the TUI's logs) under {root}")
    finally:
        tmux.kill_server()
        hub.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
