"""``tmux-builder build``: start a build through the public API and follow it to the end.

Shows the nine steps live, then the URL, the screenshot (downloaded next to you) and the E2E
result, and how long it took from request to live URL. Exit codes: 0 live, 1 the build
failed (the failing step and its error are printed), 2 the request was refused, 3 no stack.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from tmux_builder.api_client import ApiClient, ApiFailure, ApiUnavailable

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_NO_STACK = 0, 1, 2, 3
_ICONS = {
    "pending": ("·", "dim"),
    "running": ("▶", "bold cyan"),
    "succeeded": ("✔", "green"),
    "failed": ("✘", "bold red"),
}


@dataclass
class BuildOptions:
    requirements: str
    provider: str = "aws"
    site_type: str = "static"
    email: str = "you@example.com"
    phone: str | None = None
    output_dir: Path = Path("tmux-builder-output")
    timeout_seconds: float = 1800.0
    poll_seconds: float = 0.5


def render(status: dict[str, Any], elapsed: float) -> Group:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(width=2)
    table.add_column()
    table.add_column(justify="right", style="dim")
    for step in status["steps"]:
        icon, style = _ICONS.get(step["status"], ("?", ""))
        duration = step.get("duration_seconds")
        retries = f" (attempt {step['attempts']})" if step.get("attempts", 0) > 1 else ""
        table.add_row(
            Text(icon, style=style),
            Text(f"{step['number']}. {step['title']}{retries}", style=style),
            f"{duration:.1f}s" if duration is not None else "",
        )
    done = sum(1 for s in status["steps"] if s["status"] in ("succeeded", "skipped"))
    bar_width = 27
    filled = bar_width * done // len(status["steps"])
    bar = Text(
        f"[{'█' * filled}{'░' * (bar_width - filled)}] {done}/9  {elapsed:5.1f}s", style="cyan"
    )
    latest = next((a["message"] for a in status.get("activity", []) if a.get("message")), "")
    parts: list[Any] = [bar, table]
    if latest:
        parts.append(Text(f"  {latest[:110]}", style="dim"))
    return Group(*parts)


def run_build(client: ApiClient, options: BuildOptions, console: Console) -> int:
    started = time.monotonic()
    try:
        answer = client.create_user(
            options.email, options.requirements, options.provider, options.site_type, options.phone
        )
    except ApiFailure as exc:
        console.print(f"[bold red]The build was refused:[/] {exc}")
        return EXIT_REFUSED
    except ApiUnavailable as exc:
        console.print(f"[bold red]{exc}[/]")
        return EXIT_NO_STACK
    execution_id = answer["execution_id"]
    console.print(f"Build [bold]{execution_id}[/] started (user {answer['user_id'][:12]}…)")
    if answer.get("client_url"):
        console.print(f"Client link: {answer['client_url']}", soft_wrap=True, style="dim")

    status: dict[str, Any] = {}
    live_at: float | None = None
    with Live(console=console, refresh_per_second=8, transient=False) as live:
        while True:
            try:
                status = client.status(execution_id)
            except ApiUnavailable as exc:
                live.stop()
                console.print(f"[bold red]{exc}[/]")
                return EXIT_NO_STACK
            elapsed = time.monotonic() - started
            if (
                live_at is None
                and status.get("deployed_url")
                and _step(status, "health_check") == "succeeded"
            ):
                live_at = elapsed
            live.update(render(status, elapsed))
            if status["status"] in {"succeeded", "failed"}:
                break
            if elapsed > options.timeout_seconds:
                live.stop()
                console.print(f"[bold red]Gave up waiting after {options.timeout_seconds:.0f}s[/]")
                return EXIT_FAILED
            time.sleep(options.poll_seconds)
    console.line()
    return _summarise(client, status, options, console, time.monotonic() - started, live_at)


def _step(status: dict[str, Any], name: str) -> str:
    return next((s["status"] for s in status["steps"] if s["name"] == name), "pending")


def _summarise(
    client: ApiClient,
    status: dict[str, Any],
    options: BuildOptions,
    console: Console,
    total: float,
    live_at: float | None,
) -> int:
    url = status.get("deployed_url")
    if url:
        console.print(f"Live URL:   [bold green]{url}[/]", soft_wrap=True)
    if live_at is not None:
        console.print(
            f"Time from request to live URL: [bold]{live_at:.1f}s[/] (whole build {total:.1f}s)"
        )
    if status.get("screenshot_url"):
        target = options.output_dir / status["execution_id"] / "screenshot.png"
        try:
            client.download(status["screenshot_url"], target)
            console.print(f"Screenshot: {target}", soft_wrap=True)
        except Exception as exc:  # the build result stands even if the picture cannot be fetched
            console.print(f"[yellow]Screenshot could not be downloaded: {exc}[/]")
    e2e = status.get("e2e")
    if e2e:
        verdict = "[green]passed[/]" if e2e["ok"] else "[red]failed[/]"
        console.print(f"E2E tests:  {verdict} ({e2e['passed']} passed, {e2e['failed']} failed)")
    if status["status"] == "succeeded":
        return EXIT_OK
    error = status.get("error") or {}
    console.print(
        f"[bold red]Build failed at step {error.get('step') or '?'}:[/] "
        f"{error.get('error', 'unknown error')}: {error.get('cause', '')}"
    )
    return EXIT_FAILED
