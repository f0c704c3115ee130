"""The HTTP server: routes, streamed and plain answers, errors, and the module entry point."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tmux_builder.offline_model.server import OfflineModelServer

from .cli_double import TOOLS, environment_message, user_prompt


@pytest.fixture
def server() -> Iterator[OfflineModelServer]:
    model = OfflineModelServer().start()
    try:
        yield model
    finally:
        model.stop()


def post(url: str, body: bytes, path: str = "/v1/messages?beta=true") -> tuple[int, str, bytes]:
    request = urllib.request.Request(
        url + path, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def sse_events(raw: bytes) -> list[tuple[str, dict]]:
    events = []
    for frame in raw.decode().split("\n\n"):
        if not frame.strip():
            continue
        fields = dict(line.split(": ", 1) for line in frame.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def task_request(workdir: Path, *, stream: bool) -> bytes:
    messages = [
        user_prompt("Read prompts/create_plan-x-a0.txt and do what it says."),
        environment_message(workdir),
    ]
    return json.dumps(
        {"model": "claude-opus-5-5", "messages": messages, "tools": TOOLS, "stream": stream}
    ).encode()


def test_streamed_answer_is_a_complete_event_sequence(server, tmp_path):
    status, content_type, raw = post(server.url, task_request(tmp_path, stream=True))

    events = sse_events(raw)
    assert status == 200
    assert content_type == "text/event-stream"
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    block = events[1][1]["content_block"]
    assert block["type"] == "tool_use" and block["name"] == "Read" and block["input"] == {}
    delta = events[2][1]["delta"]
    assert delta["type"] == "input_json_delta"
    assert json.loads(delta["partial_json"]) == {
        "file_path": str(tmp_path / "prompts/create_plan-x-a0.txt")
    }
    assert events[4][1]["delta"]["stop_reason"] == "tool_use"
    assert events[0][1]["message"]["model"] == "claude-opus-5-5"


def test_plain_answer_is_one_message(server, tmp_path):
    status, content_type, raw = post(server.url, task_request(tmp_path, stream=False))

    message = json.loads(raw)
    assert status == 200 and content_type == "application/json"
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["stop_reason"] == "tool_use"
    assert message["content"][0]["name"] == "Read"
    assert message["usage"]["input_tokens"] > 0


def test_text_answers_stream_as_text_deltas(server):
    body = json.dumps({"messages": [user_prompt("Title this chat")], "stream": True}).encode()

    events = sse_events(post(server.url, body)[2])

    assert events[1][1]["content_block"] == {"type": "text", "text": ""}
    assert events[2][1]["delta"] == {"type": "text_delta", "text": "Title this chat"}
    assert events[4][1]["delta"]["stop_reason"] == "end_turn"


def test_count_tokens(server, tmp_path):
    status, _, raw = post(
        server.url, task_request(tmp_path, stream=False), "/v1/messages/count_tokens?beta=true"
    )

    assert status == 200
    assert json.loads(raw)["input_tokens"] > 0


def test_bad_json_is_a_400_in_the_api_error_shape(server):
    status, _, raw = post(server.url, b"{not json")

    assert status == 400
    assert json.loads(raw)["type"] == "error"


def test_unknown_routes_are_404_and_health_is_ok(server):
    head = urllib.request.Request(server.url + "/", method="HEAD")
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(head, timeout=5)
    assert error.value.code == 404
    assert post(server.url, b"{}", "/v1/complete")[0] == 404
    with urllib.request.urlopen(server.url + "/health", timeout=5) as response:
        assert json.loads(response.read())["ok"] is True


def test_servers_get_their_own_ports_and_stop_cleanly():
    first, second = OfflineModelServer().start(), OfflineModelServer().start()
    try:
        assert first.port != second.port
        assert first.url == f"http://127.0.0.1:{first.port}"
    finally:
        first.stop()
        second.stop()
    first.stop()  # stopping twice is harmless
    with pytest.raises(RuntimeError):
        _ = first.port


def test_module_entry_point_serves_until_sigterm():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "tmux_builder.offline_model", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    assert r.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert b"ANTHROPIC_BASE_URL=http://127.0.0.1:" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
