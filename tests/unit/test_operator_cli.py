"""The operator commands' arguments, messages, exit codes and confirmation.

The API is played at the HTTP transport: a small HTTP server on a free port answers the admin
routes with the shapes the real routes return (the end-to-end test
``tests/e2e/test_two_agents.py`` runs ``sessions``, ``attach`` and ``logs`` against the real
stack). Every request is recorded, so a test sees exactly what was called.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tmux_builder import cli, operator_cli

USER = "ab12cd34ef56" + "0" * 20
OTHER = "ab12cd99ef56" + "1" * 20
TOKEN = "admin-" + "t" * 20


@dataclass
class FakeApi:
    """Routes: (method, path without query) -> (status, body)."""

    routes: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            fake.calls.append((self.command, self.path, self.headers.get("Authorization", "")))
            path = self.path.split("?", 1)[0]
            status, answer = fake.routes.get(
                (self.command, path), (404, {"error": "NotFound", "message": f"no {path}"})
            )
            if body and status < 300:
                answer = {**answer, "_request": json.loads(body)}
            raw = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TMUX_BUILDER_ADMIN_TOKEN", TOKEN)
    monkeypatch.delenv("TMUX_BUILDER_API_URL", raising=False)
    monkeypatch.chdir(tmp_path)


def _session(user: str, session_id: str, email: str, status: str = "live") -> dict[str, Any]:
    return {
        "session_id": session_id,
        "user_id": user,
        "email": email,
        "name": f"site {session_id}",
        "status": status,
        "created_at": "2025-01-01T00:00:00.000Z",
    }


def _with_sessions(api: FakeApi) -> None:
    api.routes[("GET", "/api/admin/sessions")] = (
        200,
        {
            "sessions": [
                _session(USER, "s1", "ada@example.com"),
                _session(OTHER, "s2", "bob@example.com", status="active"),
            ],
            "next_cursor": None,
        },
    )
    api.routes[("GET", "/api/admin/leases")] = (
        200,
        {
            "leases": [
                {
                    "session_id": "s1",
                    "user_id": USER,
                    "owner": "agent-2",
                    "live": True,
                    "seconds_left": 21.0,
                    "renewed_at": "2025-01-01T00:05:00.000Z",
                    "takeovers": 1,
                }
            ],
            "agents": [],
        },
    )


def _run(api: FakeApi, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    argv = [*args[:1], "--api", api.url, *args[1:]] if api.url else list(args)
    parsed = cli.parser().parse_args(argv)
    import contextlib

    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = parsed.run(parsed)
    return code, out.getvalue(), err.getvalue()


def test_sessions_shows_who_is_where_with_the_admin_token(api: FakeApi) -> None:
    _with_sessions(api)

    code, out, _ = _run(api, "sessions")

    assert code == 0
    header, first, second = out.splitlines()
    assert header.split() == [
        "USER",
        "SESSION",
        "E-MAIL",
        "STATE",
        "HOST",
        "LEASE",
        "LAST",
        "ACTIVITY",
    ]
    assert first.split()[:6] == [USER[:12], "s1", "ada@example.com", "live", "agent-2", "live"]
    assert second.split()[:6] == [OTHER[:12], "s2", "bob@example.com", "active", "-", "none"]
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth in api.calls)
    assert any(path.startswith("/api/admin/sessions?filter=active") for _, path, _ in api.calls)


def test_sessions_as_json(api: FakeApi) -> None:
    _with_sessions(api)

    code, out, _ = _run(api, "sessions", "--json", "--filter", "all")

    rows = json.loads(out)
    assert code == 0 and [r["host"] for r in rows] == ["agent-2", "-"]
    assert rows[0]["last_activity"] == "2025-01-01T00:05:00.000Z" and rows[0]["takeovers"] == 1


def test_attach_prints_the_read_only_tmux_command_for_a_local_host(
    api: FakeApi, tmp_path: Path
) -> None:
    _with_sessions(api)
    state = tmp_path / ".tmux-builder"
    state.mkdir()
    agents = [{"agent_id": "agent-2", "tmux_socket": "tmux-builder-x-agent-2"}]
    (state / "stack.json").write_text(json.dumps({"agents": agents}))

    code, out, _ = _run(api, "attach", "ada@example.com", "--print-command")

    assert code == 0
    assert out.split()[1:] == [
        "-L",
        "tmux-builder-x-agent-2",
        "attach-session",
        "-r",
        "-t",
        f"tmux_builder_{USER}",
    ]


def test_attach_to_a_remote_host_says_how_to_get_there(api: FakeApi) -> None:
    _with_sessions(api)

    code, _, err = _run(api, "attach", USER[:8])

    assert code == operator_cli.EXIT_REFUSED
    assert "agent host agent-2" in err and "ssm start-session" in err


@pytest.mark.parametrize(
    ("wanted", "message"),
    [("ab12", "6+ of its first characters"), ("ab12cd", "several users"), ("ffffff", "no user")],
)
def test_a_user_must_be_named_unambiguously(api: FakeApi, wanted: str, message: str) -> None:
    _with_sessions(api)

    code, _, err = _run(api, "teardown", wanted, "--yes")

    assert code == operator_cli.EXIT_REFUSED and message in err
    assert not any(method == "DELETE" for method, _, _ in api.calls)


def test_teardown_asks_and_does_nothing_unless_confirmed(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_sessions(api)
    api.routes[("DELETE", f"/api/admin/users/{USER}")] = (
        200,
        {
            "user_id": USER,
            "status": "deleted",
            "removed": [{"resource_type": "s3_bucket", "resource_id": "b"}],
        },
    )
    answers = iter(["nope", USER[:12]])
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    parsed = cli.parser().parse_args(["teardown", "--api", api.url, "ada@example.com"])

    def ask(prompt: str) -> str:
        assert USER[:12] in prompt
        return next(answers)

    def teardown(api_: Any, args: Any, out: Any) -> int:
        return operator_cli.cmd_teardown(api_, args, out, ask=ask)

    refused = operator_cli.run(teardown, parsed, io.StringIO())
    assert refused == operator_cli.EXIT_NOT_CONFIRMED
    assert not any(method == "DELETE" for method, _, _ in api.calls)

    out = io.StringIO()
    assert operator_cli.run(teardown, parsed, out) == 0
    assert ("DELETE", f"/api/admin/users/{USER}") in [(m, p) for m, p, _ in api.calls]
    assert "removed 1 resource(s)" in out.getvalue() and "s3_bucket: b" in out.getvalue()


def test_teardown_that_finishes_later_says_so(api: FakeApi) -> None:
    _with_sessions(api)
    api.routes[("DELETE", f"/api/admin/users/{USER}")] = (
        200,
        {
            "user_id": USER,
            "status": "deleting",
            "removed": [{"resource_type": "s3_bucket", "resource_id": "b"}],
        },
    )

    code, out, _ = _run(api, "teardown", USER, "--yes")

    assert code == operator_cli.EXIT_OK
    assert "is being torn down" in out and "later passes" in out and f"{USER} torn down" not in out


def test_teardown_without_a_terminal_needs_yes(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_sessions(api)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    code, _, err = _run(api, "teardown", USER)

    assert code == operator_cli.EXIT_NOT_CONFIRMED and "--yes" in err


def test_logs_shows_the_state_history_with_errors(api: FakeApi) -> None:
    api.routes[("GET", "/api/admin/executions/e1/history")] = (
        200,
        {
            "execution_id": "e1",
            "status": "FAILED",
            "states": [
                {
                    "name": "create_plan",
                    "status": "succeeded",
                    "attempts": 1,
                    "duration_seconds": 2.5,
                },
                {
                    "name": "deploy",
                    "status": "failed",
                    "attempts": 2,
                    "failures": [
                        {
                            "at": "t",
                            "error": "States.Timeout",
                            "cause": "no heartbeat",
                            "retried": True,
                        },
                        {
                            "at": "t",
                            "error": "DeployError",
                            "cause": "bucket taken",
                            "retried": False,
                        },
                    ],
                },
            ],
            "next_cursor": None,
        },
    )

    code, out, _ = _run(api, "logs", "e1", "--exit-status")

    assert code == operator_cli.EXIT_FAILED
    assert "deploy (attempt 2)" in out
    assert (
        "! States.Timeout: no heartbeat (retried)" in out and "! DeployError: bucket taken" in out
    )


def test_logs_falls_back_to_the_status_steps_without_the_history_route(api: FakeApi) -> None:
    api.routes[("GET", "/api/status/e2")] = (
        200,
        {
            "execution_id": "e2",
            "status": "succeeded",
            "steps": [{"name": "deploy", "number": 6, "status": "succeeded", "attempts": 1}],
            "deployed_url": "http://site",
        },
    )

    code, out, _ = _run(api, "logs", "e2")

    assert code == 0 and "6. deploy" in out and "live at http://site" in out


def test_redeploy_sends_the_step_and_says_how_to_follow(api: FakeApi) -> None:
    api.routes[("POST", "/api/redeploy/e1")] = (
        202,
        {"execution_id": "e1-r1", "source_execution_id": "e1", "from_step": "generate_code"},
    )

    code, out, _ = _run(api, "redeploy", "e1", "--from", "generate_code")

    assert code == 0 and "tmux-builder logs e1-r1" in out


def test_refusals_and_failures_have_their_exit_codes(api: FakeApi) -> None:
    api.routes[("POST", "/api/redeploy/e1")] = (
        409,
        {"error": "Conflict", "message": "build e0 of this site is still running"},
    )
    api.routes[("POST", "/api/redeploy/e9")] = (503, {"error": "Unavailable", "message": "later"})

    refused = _run(api, "redeploy", "e1")
    failed = _run(api, "redeploy", "e9")

    assert refused[0] == operator_cli.EXIT_REFUSED and "still running" in refused[2]
    assert failed[0] == operator_cli.EXIT_FAILED


def test_no_api_and_no_credential_are_said_plainly(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    unreachable = FakeApi(url="http://127.0.0.1:9")
    assert _run(unreachable, "sessions")[0] == operator_cli.EXIT_NO_API
    monkeypatch.delenv("TMUX_BUILDER_ADMIN_TOKEN")

    code, _, err = _run(api, "sessions")

    assert code == operator_cli.EXIT_REFUSED and "TMUX_BUILDER_ADMIN_TOKEN" in err
    assert api.calls == []


def test_bad_arguments_are_refused_by_the_parser() -> None:
    with pytest.raises(SystemExit) as exited:
        cli.parser().parse_args(["redeploy", "e1", "--from", "create_plan"])
    assert exited.value.code == 2
