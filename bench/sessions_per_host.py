"""Sessions per agent host: start 50 Claude Code sessions, one after another, and keep them all.

What runs: the agent's own :class:`~agent.engine.claude_code.ClaudeCodeEngine` with a
:class:`~agent.notify_hub.NotifyHub` and :class:`~agent.tmux_sessions.TmuxSessions` on a private
tmux socket, the pinned Claude Code CLI in each pane, the offline model (answers at once), and a
temporary work folder. Each start is ``Engine.ensure_started``: the session folder (git init,
settings, seeded HOME), the tmux session, the CLI up to ``SessionStart`` and its input ready;
the sessions started before it stay alive, so the last starts show a full host.

Printed: the time of each start (median, p95, max, and the first vs the last ten); the memory of
the pane process trees read from ``/proc`` (each pane's process and all its descendants): the sum
of RSS (counts shared pages once per process, so it overstates) and of PSS (shared pages split
among the processes that map them: what the sessions really cost), plus the tmux server; the CPU
the idle sessions use over 10 s; and, with every session alive, the latency of a chat turn in a
few of them (``run_turn``: prompt file, paste, Enter, the CLI's turn with its Reads and Write on
the seeded site, ``Stop``).

It stops by itself (``--max-seconds``; no new session below ``--min-available-mb`` of available
memory) and always kills its tmux server.

    .venv/bin/python bench/sessions_per_host.py                  # 50 sessions, a few minutes
    .venv/bin/python bench/sessions_per_host.py --sessions 10 --turns 1
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.tmux_sessions import TmuxSessions
    from agent.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REQUIREMENTS = (
    "A one-page site for a small bakery called Crumb with three breads and a contact form."
)
CHAT = "make the background blue"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _tree(root: int, children: dict[int, list[int]]) -> list[int]:
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB; zeros if it is gone."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0, 0
    fields = {}
    for line in rollup.splitlines()[1:]:
        name, _, rest = line.partition(":")
        fields[name] = int(rest.split()[0]) if rest.split() else 0
    return fields.get("Rss", 0), fields.get("Pss", 0)


def _available_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return 0


def _tmux_server_pid(socket: str) -> int | None:
    import subprocess

    out = subprocess.run(
        ["tmux", "-L", socket, "display-message", "-p", "#{pid}"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return int(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sessions", type=int, default=50, help="sessions to start (50)")
    parser.add_argument("--turns", type=int, default=3, help="chat turns at the end (3)")
    parser.add_argument("--max-seconds", type=float, default=1200, help="stop after this (1200)")
    parser.add_argument(
        "--min-available-mb", type=int, default=2048, help="start no session below this (2048)"
    )
    args = parser.parse_args()

    from agent.chat_prompt import chat_prompt, chat_task_id
    from agent.engine.claude_code import ClaudeCodeEngine, resolve_claude_bin
    from agent.notify_hub import NotifyHub
    from agent.tmux_sessions import TmuxSessions
    from agent.workspace import Workspace
    from tmux_builder import naming
    from tmux_builder.contracts import ChatMessage
    from tmux_builder.offline_model.server import OfflineModelServer
    from tmux_builder.offline_model.site_design import design_site
    from tmux_builder.offline_model.site_writer import write_site
    from tmux_builder.settings import AgentSettings

    deadline = time.monotonic() + args.max_seconds
    work = Path(tempfile.mkdtemp(prefix="tmux-builder-bench-sessions-"))
    model = OfflineModelServer().start()
    hub = NotifyHub().start()
    settings = AgentSettings(
        work_dir=work / "agent",
        tmux_socket=f"tb-bench-{secrets.token_hex(4)}",
        model_base_url=model.url,
        turn_timeout_seconds=120,
    )
    sessions = TmuxSessions(settings.tmux_socket, "agent-bench")
    engine = ClaudeCodeEngine(settings, sessions, hub)
    print(f"Claude Code: {resolve_claude_bin(settings)}; offline model {model.url}")
    print(f"{os.cpu_count()} CPUs, {_available_mb()} MB available; work folder {work}\n")

    started: list[tuple[Workspace, float]] = []
    stopped_because = ""
    try:
        site = write_site(design_site(REQUIREMENTS))
        print(f"{'#':>3}  {'start s':>7}  {'PSS MB':>7}  {'avail MB':>8}")
        for number in range(1, args.sessions + 1):
            if time.monotonic() > deadline:
                stopped_because = f"--max-seconds {args.max_seconds:g} reached"
                break
            if _available_mb() < args.min_available_mb:
                stopped_because = f"under {args.min_available_mb} MB available"
                break
            ws = Workspace(settings.work_dir, naming.new_user_id()).create()
            ws.write_instructions("You build websites. Keep the site's code in code/.\n")
            for path, text in site.items():
                (ws.dir / path).write_text(text)
            t0 = time.perf_counter()
            engine.ensure_started(ws)
            started.append((ws, time.perf_counter() - t0))
            if number % 5 == 0 or number == 1:
                _, pss = _sessions_memory(sessions, [w for w, _ in started])
                print(
                    f"{number:>3}  {started[-1][1]:>7.2f}  {pss / 1024:>7.0f}  "
                    f"{_available_mb():>8}",
                    flush=True,
                )

        users = [ws for ws, _ in started]
        alive = sum(1 for ws in users if sessions.is_alive(ws.user_id))
        rss, pss = _sessions_memory(sessions, users)
        server = _tmux_server_pid(settings.tmux_socket)
        server_rss, server_pss = _memory_kb(server) if server else (0, 0)
        times = [seconds for _, seconds in started]
        print(f"\n{len(started)} sessions started, {alive} alive at the end", end="")
        print(f" (stopped early: {stopped_because})" if stopped_because else "")
        print(
            f"start: median {statistics.median(times):.2f} s, p95 {percentile(times, 0.95):.2f} s, "
            f"max {max(times):.2f} s; first ten median {statistics.median(times[:10]):.2f} s, "
            f"last ten median {statistics.median(times[-10:]):.2f} s"
        )
        print(
            f"memory of the pane process trees: RSS {rss / 1024:.0f} MB "
            f"({rss / 1024 / len(users):.0f} MB per session), PSS {pss / 1024:.0f} MB "
            f"({pss / 1024 / len(users):.0f} MB per session); tmux server RSS "
            f"{server_rss / 1024:.0f} MB, PSS {server_pss / 1024:.0f} MB"
        )

        idle = _idle_cpu(_pane_processes(sessions, users), seconds=10)
        print(
            f"CPU of the {alive} idle sessions over 10 s: {idle:.0%} of one core "
            f"({idle / max(1, alive):.2%} each)"
        )

        turns: list[float] = []
        for ws in users[: args.turns]:
            if time.monotonic() > deadline:
                break
            message = ChatMessage(
                message_id=f"msg_{time.strftime('%Y%m%dT%H%M%S')}000_{secrets.token_hex(4)}",
                user_id=ws.user_id,
                session_id="bench",
                text=CHAT,
            )
            result = engine.run_turn(
                ws, chat_task_id(message.message_id), chat_prompt(message), timeout=120
            )
            turns.append(result.duration_seconds)
        if turns:
            print(
                f"chat turn with all {alive} alive: "
                + ", ".join(f"{t:.2f} s" for t in turns)
                + f" (median {statistics.median(turns):.2f} s)"
            )
    finally:
        panes = _pane_processes(sessions, [ws for ws, _ in started])
        for cleanup in (sessions.kill_server, hub.stop, model.stop):
            try:
                cleanup()
            except Exception as error:
                print(f"cleanup failed: {error!r}", file=sys.stderr)
        _wait_gone(panes, timeout=15)  # the CLIs write their transcripts as they exit
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _pane_processes(sessions: TmuxSessions, users: list[Workspace]) -> list[int]:
    """Every pane's process and its descendants."""
    children = _children()
    found: list[int] = []
    for ws in users:
        try:
            found += _tree(sessions.pane_pid(ws.user_id), children)
        except Exception:
            continue
    return found


def _sessions_memory(sessions: TmuxSessions, users: list[Workspace]) -> tuple[int, int]:
    """Summed (RSS, PSS) in kB of the pane process trees."""
    rss = pss = 0
    for pid in _pane_processes(sessions, users):
        one_rss, one_pss = _memory_kb(pid)
        rss += one_rss
        pss += one_pss
    return rss, pss


def _cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def _idle_cpu(pids: list[int], seconds: float) -> float:
    """Share of one core the processes used while nothing was asked of them."""
    before = _cpu_ticks(pids)
    time.sleep(seconds)
    return (_cpu_ticks(pids) - before) / os.sysconf("SC_CLK_TCK") / seconds


def _wait_gone(pids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
