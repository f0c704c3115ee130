"""The pinned Claude Code CLI, started in an assembled session folder, offers the model exactly
that session's skills and subagents, with the tools their frontmatter gives.

Its first request to the model lists them ("- <name>: <description>"); a small recording server
stands in for the Messages API and answers every request with a short text.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent.prompts import SESSION_CONTENT
from agent.session_setup import prepare_workspace
from agent.workspace import Workspace
from tests.claude_content.content import SESSION, USER, content_files, site, tools_of
from tests.tools import claude_bin
from tmux_builder.contracts import Provider, SiteType

pytestmark = pytest.mark.claude

_MESSAGE: dict[str, Any] = {
    "id": "msg_probe",
    "type": "message",
    "role": "assistant",
    "model": "probe",
    "content": [],
    "stop_reason": None,
    "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1},
}
_EVENTS: list[dict[str, Any]] = [
    {"type": "message_start", "message": _MESSAGE},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 1},
    },
    {"type": "message_stop"},
]


class _Recorder(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[dict[str, Any]] = []


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self.send_response(404)
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        self.server.bodies.append(body)
        if "count_tokens" in self.path:
            self._send("application/json", json.dumps({"input_tokens": 1}).encode())
        elif body.get("stream"):
            frames = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in _EVENTS)
            self._send("text/event-stream", frames.encode())
        else:
            message = {
                **_MESSAGE,
                "content": [{"type": "text", "text": "ok"}],
                "stop_reason": "end_turn",
            }
            self._send("application/json", json.dumps(message).encode())

    def _send(self, content_type: str, payload: bytes) -> None:
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    server = _Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _first_turn(ws: Workspace, recorder: _Recorder) -> str:
    """Run one print-mode turn in the session folder; the main request's text."""
    (ws.home / ".claude.json").write_text(
        json.dumps(
            {
                "hasCompletedOnboarding": True,
                "projects": {str(ws.dir): {"hasTrustDialogAccepted": True}},
            }
        )
    )
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(ws.home),
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{recorder.server_address[1]}",
        "ANTHROPIC_AUTH_TOKEN": "offline",
        "DISABLE_AUTOUPDATER": "1",
    }
    subprocess.run(
        [claude_bin(), "-p", "hello", "--permission-mode", "acceptEdits"],
        cwd=ws.dir,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    main = [b for b in recorder.bodies if any(t.get("name") == "Skill" for t in b.get("tools", []))]
    assert main, f"no request offered the Skill tool: {len(recorder.bodies)} requests"
    # Listings are JSON-escaped text; decode the whole body once and search it as plain text.
    return "\n".join(_strings(main[0]))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.mark.parametrize(
    ("provider", "site_type"),
    [(Provider.AWS, SiteType.STATIC), (Provider.AZURE, SiteType.DYNAMIC)],
    ids=lambda v: v.value,
)
def test_the_cli_offers_exactly_the_sessions_skills_and_agents(
    tmp_path: Path, recorder: _Recorder, provider: Provider, site_type: SiteType
) -> None:
    ws = prepare_workspace(Workspace(tmp_path, USER), SESSION, site(provider, site_type))
    text = _first_turn(ws, recorder)

    frontmatter = {str(f.frontmatter["name"]): f.frontmatter for f in content_files()}
    for item in SESSION_CONTENT:
        listed = f"- {item.name}: " in text
        assert listed == item.applies_to(provider, site_type), item.path
        if listed:
            line = f"- {item.name}: {frontmatter[item.name]['description']}"
            if item.kind == "agent":
                line += f" (Tools: {', '.join(tools_of(frontmatter[item.name]))})"
            assert line in text, line
