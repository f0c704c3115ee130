"""Prompt delivery through the hard fixture TUI: never a prompt lost, never one submitted twice.

The fixture (``tests/fixtures/hard_tui.py``) runs in real tmux on a private socket and reports
through the real notify hub; the turns are the production ``Engine.run_turn``. It swallows an
Enter that comes too soon after a paste (a), submits at each newline outside a bracketed paste
(b), shows a trust dialog unless the folder is trusted (c), drops input while busy, including a
while after Stop (d), and jitters its read loop. Its log is what it received: each test
compares it with what was sent, in order.
"""

from __future__ import annotations

import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.engine.base import (
    EngineExited,
    EngineNotReady,
    PromptNotDelivered,
    TurnResult,
    TurnTimeout,
)
from agent.notify_hub import NotifyHub
from agent.tmux_sessions import TmuxSessions
from agent.workspace import Workspace
from tests.fixtures.hard_tui import TRUST_QUESTION
from tests.fixtures.hard_tui_engine import (
    ALL_HARD_CASES,
    HardCases,
    HardTuiEngine,
    events,
    submissions,
)
from tmux_builder.naming import new_user_id

pytestmark = pytest.mark.tmux

SENDS_PER_CASE = 30
HARD_CASES = {
    "a-swallowed-enter": HardCases(swallow_enter_ms=150, jitter_ms=10),
    "b-newline-submits": HardCases(split_newlines=True, jitter_ms=10),
    "c-trust-prompt": HardCases(trust_prompt=True, startup_ms=100),
    "d-busy-drops-input": HardCases(turn_ms=(20, 80), busy_tail_ms=(0, 150), jitter_ms=10),
    "all": ALL_HARD_CASES,
}


@dataclass
class _Rig:
    sessions: TmuxSessions
    hub: NotifyHub
    root: Path

    def workspace(self) -> Workspace:
        return Workspace(self.root, new_user_id()).create()

    def engine(self, cases: HardCases | None = None, **timings: float) -> HardTuiEngine:
        engine = HardTuiEngine(self.sessions, self.hub, cases, turn_timeout=20.0)
        # Faster than production where the fixture allows it: it shows a paste it read at once.
        engine.paste_shown_timeout_seconds = 0.5
        for name, value in timings.items():
            if not hasattr(engine, name):
                raise AttributeError(f"HardTuiEngine has no timing {name!r}")
            setattr(engine, name, value)
        return engine


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[_Rig]:
    sessions = TmuxSessions(f"tb-test-{secrets.token_hex(6)}", "agent-test")
    hub = NotifyHub().start()
    try:
        yield _Rig(sessions, hub, tmp_path / "work")
    finally:
        for cleanup in (sessions.kill_server, hub.stop):
            try:
                cleanup()
            except Exception as error:  # never hide the test's own failure
                warnings.warn(f"cleanup failed: {error!r}", stacklevel=1)


def _prompt(task_id: str) -> str:
    # Multi-line on purpose: typed into a TUI that submits at each newline it would split.
    return f"# Task {task_id}\nTask id: {task_id}\n\nWrite the file.\nThen stop.\n"


def _send(engine: HardTuiEngine, ws: Workspace, task_ids: list[str]) -> list[TurnResult]:
    return [engine.run_turn(ws, task_id, _prompt(task_id)) for task_id in task_ids]


def _assert_received_once_in_order(
    engine: HardTuiEngine, ws: Workspace, results: list[TurnResult], label: str = ""
) -> None:
    """The TUI submitted exactly the sent lines, each once, in order; each turn has its id."""
    lines = [engine.instruction(ws, result.task_id) for result in results]
    assert submissions(ws) == lines, label
    prompt_ids = [entry["prompt_id"] for entry in events(ws, "submit")]
    assert [result.prompt_id for result in results] == prompt_ids, label
    assert [result.last_message for result in results] == [f"Done: {line}" for line in lines]


def _sending(
    engine: HardTuiEngine,
    ws: Workspace,
    task_ids: list[str],
    into: dict[str, list[TurnResult]],
    key: str,
) -> Callable[[], None]:
    """A job that sends the tasks in order and files the results under ``key``."""

    def run() -> None:
        into[key] = _send(engine, ws, task_ids)

    return run


def _run_in_threads(jobs: dict[str, Callable[[], object]]) -> dict[str, BaseException]:
    """Run the jobs at once; return the error of each job that failed."""
    errors: dict[str, BaseException] = {}

    def run(name: str, job: Callable[[], object]) -> None:
        try:
            job()
        except BaseException as error:  # reported by the test, with the job's name
            errors[name] = error

    threads = [threading.Thread(target=run, args=item) for item in jobs.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a delivery job hung"
    return errors


# -- every hard case, alone and all together ----------------------------------------------


def test_every_hard_case_delivers_each_prompt_exactly_once_in_order(rig: _Rig) -> None:
    """30 sends per case; the cases run at once, each in its own session (sessions also
    prove they never see each other's prompts)."""
    runs = {name: (rig.engine(cases), rig.workspace()) for name, cases in HARD_CASES.items()}
    results: dict[str, list[TurnResult]] = {}
    task_ids = {name: [f"{name}-{n:03d}" for n in range(SENDS_PER_CASE)] for name in runs}

    errors = _run_in_threads(
        {name: _sending(*runs[name], task_ids[name], results, name) for name in runs}
    )

    assert not errors, {name: repr(error) for name, error in errors.items()}
    for name, (engine, ws) in runs.items():
        _assert_received_once_in_order(engine, ws, results[name], name)
    # The hard cases really happened (else this test proves nothing).
    assert events(runs["a-swallowed-enter"][1], "swallowed")
    assert events(runs["d-busy-drops-input"][1], "dropped")
    assert events(runs["all"][1], "swallowed") and events(runs["all"][1], "dropped")
    trust_ws = runs["c-trust-prompt"][1]
    assert not [entry for entry in events(trust_ws, "dropped") if entry["why"] == "trust dialog"]


def test_multiline_prompt_is_one_submission_where_typing_it_splits(rig: _Rig) -> None:
    engine = rig.engine(HardCases(split_newlines=True, busy_input="queue"))
    ws = rig.workspace()
    engine.ensure_started(ws)

    # Typed as keys (no brackets), two lines are two submissions: the hard case is real.
    target = f"=tmux_builder_{ws.user_id}:"
    rig.sessions.server.cmd("send-keys", "-t", target, "one", "Enter", "two", "Enter")
    deadline = time.monotonic() + 5
    while len(submissions(ws)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert submissions(ws) == ["one", "two"]

    result = engine.run_turn(ws, "multi", "line one\nline two\n\nline four\n")

    assert submissions(ws)[2:] == [engine.instruction(ws, "multi")]
    assert ws.prompt_path("multi").read_text() == "line one\nline two\n\nline four\n"
    assert result.last_message == f"Done: {engine.instruction(ws, 'multi')}"


def test_untrusted_folder_fails_the_start_with_the_dialog_in_the_tail(rig: _Rig) -> None:
    engine = HardTuiEngine(rig.sessions, rig.hub, HardCases(trust_prompt=True), seed_trust=False)
    engine.start_timeout_seconds = 1.5
    ws = rig.workspace()

    with pytest.raises(EngineNotReady) as caught:
        engine.run_turn(ws, "t1", _prompt("t1"))

    assert TRUST_QUESTION in caught.value.pane_tail
    assert submissions(ws) == []
    assert not rig.sessions.exists(ws.user_id)


# -- queueing and isolation -----------------------------------------------------------------


def test_turns_queued_from_threads_arrive_one_at_a_time_in_call_order(rig: _Rig) -> None:
    engine = rig.engine(HardCases(turn_ms=(150, 150), jitter_ms=10))
    ws = rig.workspace()
    engine.ensure_started(ws)
    results: dict[int, TurnResult] = {}
    threads = []

    def call(n: int) -> None:
        results[n] = engine.run_turn(ws, f"chat-{n}", _prompt(f"chat-{n}"))

    for n in range(6):
        thread = threading.Thread(target=call, args=(n,))
        thread.start()
        threads.append(thread)
        time.sleep(0.04)  # call order = start order
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(results) == list(range(6))
    _assert_received_once_in_order(engine, ws, [results[n] for n in range(6)])
    submitted = [entry["t"] for entry in events(ws, "submit")]
    stopped = [entry["t"] for entry in events(ws, "stop")]
    assert all(stopped[n] <= submitted[n + 1] for n in range(5)), "a prompt arrived mid-turn"


def test_two_sessions_never_receive_each_others_prompts(rig: _Rig) -> None:
    cases = HardCases(turn_ms=(10, 60), jitter_ms=20)
    alice, bob = rig.workspace(), rig.workspace()
    engine = rig.engine(cases)  # one engine serving both users, as the agent has it
    sent = {ws.user_id: [f"{ws.user_id[:6]}-{n}" for n in range(8)] for ws in (alice, bob)}
    results: dict[str, list[TurnResult]] = {}

    errors = _run_in_threads(
        {
            ws.user_id: _sending(engine, ws, sent[ws.user_id], results, ws.user_id)
            for ws in (alice, bob)
        }
    )

    assert not errors, errors
    for ws in (alice, bob):
        _assert_received_once_in_order(engine, ws, results[ws.user_id])


# -- scripted failures ----------------------------------------------------------------------


def test_dropped_paste_is_pasted_again_and_submitted_once(rig: _Rig) -> None:
    engine, ws = rig.engine(HardCases(fail="drop-first-input")), rig.workspace()

    result = engine.run_turn(ws, "t1", "do it")

    _assert_received_once_in_order(engine, ws, [result])
    assert [entry["why"] for entry in events(ws, "dropped")] == ["first input"]
    assert ws.prompt_path("t1").read_text() == "do it"


def test_late_prompt_signal_never_makes_a_second_submission(rig: _Rig) -> None:
    """Regression: the line left the input but UserPromptSubmit came after the submit timeout.

    The old delivery pasted the line again; a CLI that queues input while busy (as Claude
    Code does) then ran the prompt twice.
    """
    cases = HardCases(busy_input="queue", no_echo=True, submit_hook_delay_ms=1500)
    engine, ws = rig.engine(cases, submit_timeout_seconds=0.5), rig.workspace()

    result = engine.run_turn(ws, "t1", _prompt("t1"))
    time.sleep(0.5)  # whatever was queued behind the turn has been handled by now

    _assert_received_once_in_order(engine, ws, [result])


def test_line_taken_without_any_signal_is_not_delivered_and_not_repeated(rig: _Rig) -> None:
    cases = HardCases(fail="no-submit-hook", no_echo=True)
    engine = rig.engine(cases, confirm_timeout_seconds=0.5)
    ws = rig.workspace()

    with pytest.raises(PromptNotDelivered) as caught:
        engine.run_turn(ws, "t1", "do it")

    assert "hard-tui fixture" in caught.value.pane_tail
    assert submissions(ws) == [engine.instruction(ws, "t1")]
    assert not rig.sessions.exists(ws.user_id)
    assert not rig.hub.is_registered(ws.user_id)


def test_turn_without_stop_times_out_with_the_pane_tail(rig: _Rig) -> None:
    engine, ws = rig.engine(HardCases(fail="no-stop")), rig.workspace()

    with pytest.raises(TurnTimeout) as caught:
        engine.run_turn(ws, "t1", "do it", timeout=1.5)

    assert "hard-tui fixture" in caught.value.pane_tail
    assert not rig.sessions.exists(ws.user_id)


def test_cli_exiting_mid_turn_is_reported_before_the_timeout(rig: _Rig) -> None:
    engine, ws = rig.engine(HardCases(fail="exit-on-submit")), rig.workspace()
    started = time.monotonic()

    with pytest.raises(EngineExited):
        engine.run_turn(ws, "t1", "do it", timeout=60.0)

    assert time.monotonic() - started < 10
    assert len(submissions(ws)) == 1
