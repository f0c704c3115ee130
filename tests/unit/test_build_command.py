"""The CLI's reading of a build status: what it prints and which exit code it returns."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from tmux_builder.api_client import ApiClient
from tmux_builder.build_command import (
    EXIT_FAILED,
    EXIT_NO_STACK,
    EXIT_OK,
    BuildOptions,
    _summarise,
    render,
)
from tmux_builder.cli import main
from tmux_builder.pipeline import STEP_TITLES, STEPS


def _status(state: str, failed_step: str | None = None) -> dict:
    steps = []
    for number, step in enumerate(STEPS, start=1):
        status = "succeeded"
        if failed_step and STEPS.index(step) >= STEPS.index(
            next(s for s in STEPS if s.value == failed_step)
        ):
            status = "failed" if step.value == failed_step else "pending"
        steps.append(
            {
                "name": step.value,
                "number": number,
                "title": STEP_TITLES[step],
                "status": status,
                "duration_seconds": 1.0,
                "attempts": 2 if step.value == "deploy" else 1,
            }
        )
    return {
        "execution_id": "e1",
        "status": state,
        "steps": steps,
        "deployed_url": None if failed_step else "http://127.0.0.1:1234",
        "screenshot_url": None,
        "e2e": None if failed_step else {"passed": 8, "failed": 0, "ok": True},
        "error": {"step": failed_step, "error": "DeployError", "cause": "bucket refused"}
        if failed_step
        else None,
        "activity": [{"message": "Creating storage bucket..."}],
    }


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=120, force_terminal=False), out


def test_a_live_build_exits_0_with_url_and_e2e() -> None:
    console, out = _console()
    code = _summarise(
        ApiClient("http://127.0.0.1:9"), _status("succeeded"), BuildOptions("x"), console, 12.0, 4.5
    )
    assert code == EXIT_OK
    text = out.getvalue()
    assert "http://127.0.0.1:1234" in text
    assert "4.5s" in text
    assert "8 passed" in text


def test_a_failed_build_names_the_step_and_error_and_exits_1() -> None:
    console, out = _console()
    code = _summarise(
        ApiClient("http://127.0.0.1:9"),
        _status("failed", "deploy"),
        BuildOptions("x"),
        console,
        5.0,
        None,
    )
    assert code == EXIT_FAILED
    assert "deploy" in out.getvalue()
    assert "DeployError: bucket refused" in out.getvalue()


def test_progress_shows_every_step_and_retries() -> None:
    console, out = _console()
    console.print(render(_status("running", "deploy"), 3.2))
    text = out.getvalue()
    for title in STEP_TITLES.values():
        assert title in text
    assert "attempt 2" in text
    assert "Creating storage bucket" in text


def test_no_running_stack_exits_3(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert (
        main(["--state-dir", str(tmp_path), "build", "a tea shop with a dark theme"])
        == EXIT_NO_STACK
    )
    assert "make run" in capsys.readouterr().out


def test_status_sends_the_admin_token(tmp_path: Path, capsys, monkeypatch) -> None:  # noqa: ANN001
    """`tmux-builder status` reads the local stack's admin token like `build` does."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[str | None] = []

    class Api(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(self.headers.get("Authorization"))
            body = b'{"status": "running"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (tmp_path / "admin-token").write_text("local-admin-token\n")
        monkeypatch.delenv("TMUX_BUILDER_ADMIN_TOKEN", raising=False)
        api = f"http://127.0.0.1:{server.server_address[1]}"
        assert main(["--state-dir", str(tmp_path), "status", "e1", "--api", api]) == 0
    finally:
        server.shutdown()
        server.server_close()
    assert seen == ["Bearer local-admin-token"]
    assert '"running"' in capsys.readouterr().out
