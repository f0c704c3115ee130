"""A local HTTP server that speaks the part of the Anthropic Messages API Claude Code uses.

Point the real CLI at it with ``ANTHROPIC_BASE_URL=<server.url>`` and
``ANTHROPIC_AUTH_TOKEN=offline``; it answers deterministically with the tool calls that write a
plan, a site and its tests (see :mod:`brain`). It is to Anthropic what moto is to AWS.

Routes: ``POST /v1/messages`` (streamed or not), ``POST /v1/messages/count_tokens``,
``GET /health``; anything else is a 404 (the CLI's start-up ``HEAD /`` is fine with that).

Slow turns on demand: ``TMUX_BUILDER_OFFLINE_MODEL_DELAY_MS`` (or ``delay_seconds``) holds every
Messages answer back that long before it is sent, so a turn of n model calls takes at least n
times that. Tests use it to act in the middle of a step (e.g. kill the agent during
generate_code); it is 0 by default.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import ValidationError

from tmux_builder.offline_model.brain import decide
from tmux_builder.offline_model.conversation import parse_conversation
from tmux_builder.offline_model.messages_api import (
    AssistantReply,
    MessagesRequest,
    error_json,
    estimate_tokens,
    message_json,
)
from tmux_builder.offline_model.sse import CONTENT_TYPE as SSE_CONTENT_TYPE
from tmux_builder.offline_model.sse import stream_events

logger = logging.getLogger(__name__)

MESSAGES_PATH = "/v1/messages"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"
HEALTH_PATH = "/health"
MAX_BODY_BYTES = 64 * 1024 * 1024
DELAY_ENV = "TMUX_BUILDER_OFFLINE_MODEL_DELAY_MS"


def _delay_from_environment() -> float:
    raw = os.environ.get(DELAY_ENV, "").strip()
    try:
        return max(0.0, float(raw) / 1000) if raw else 0.0
    except ValueError:
        logger.warning("%s=%r is not a number of milliseconds; no delay", DELAY_ENV, raw)
        return 0.0


class _ModelHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], delay_seconds: float) -> None:
        super().__init__(address, _Handler)
        self.delay_seconds = delay_seconds


class OfflineModelServer:
    """The offline model on a background thread; ``port=0`` picks a free port.

    >>> server = OfflineModelServer().start()
    >>> server.url.startswith("http://127.0.0.1:")
    True
    >>> server.stop()
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, delay_seconds: float | None = None
    ) -> None:
        self.host = host
        self._requested_port = port
        self.delay_seconds = _delay_from_environment() if delay_seconds is None else delay_seconds
        self._httpd: _ModelHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> OfflineModelServer:
        if self._httpd is not None:
            raise RuntimeError("the offline model server is already running")
        httpd = _ModelHTTPServer((self.host, self._requested_port), self.delay_seconds)
        thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"offline-model-{httpd.server_address[1]}",
            daemon=True,
        )
        thread.start()
        self._httpd, self._thread = httpd, thread
        logger.info(
            "offline model listening on %s%s",
            self.url,
            f" (answers held back {self.delay_seconds:g} s)" if self.delay_seconds else "",
        )
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd, self._thread = None, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the offline model server is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> OfflineModelServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    server_version = "OfflineModel/1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s " + format, self.address_string(), *args)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self.send_response(HTTPStatus.NOT_FOUND)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        if self._route() == HEALTH_PATH:
            self._send_json(HTTPStatus.OK, {"ok": True, "model": "offline"})
        else:
            self._send_json(HTTPStatus.NOT_FOUND, error_json("not found", "not_found_error"))

    def do_POST(self) -> None:  # noqa: N802
        route = self._route()
        if route not in (MESSAGES_PATH, COUNT_TOKENS_PATH):
            self._send_json(HTTPStatus.NOT_FOUND, error_json("not found", "not_found_error"))
            return
        raw = self._read_body()
        if raw is None:
            return
        try:
            request = MessagesRequest.model_validate_json(raw or b"{}")
        except ValidationError as error:
            logger.warning("bad request to %s: %s", route, error.errors()[:3])
            self._send_json(HTTPStatus.BAD_REQUEST, error_json(f"invalid request: {error}"))
            return
        input_tokens = estimate_tokens(raw.decode("utf-8", "replace"))
        if route == COUNT_TOKENS_PATH:
            self._send_json(HTTPStatus.OK, {"input_tokens": input_tokens})
            return
        self._answer(request, input_tokens)

    def _answer(self, request: MessagesRequest, input_tokens: int) -> None:
        reply = _safe_decide(request)
        delay = getattr(self.server, "delay_seconds", 0.0)
        if delay:
            time.sleep(delay)
        message_id = "msg_" + request.digest()[:24]
        logger.debug(
            "answer %s: %s", reply.stop_reason, [getattr(b, "name", "text") for b in reply.content]
        )
        if not request.stream:
            body = message_json(
                reply, message_id=message_id, model=request.model, input_tokens=input_tokens
            )
            self._send_json(HTTPStatus.OK, body)
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", SSE_CONTENT_TYPE)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            for frame in stream_events(
                reply, message_id=message_id, model=request.model, input_tokens=input_tokens
            ):
                self.wfile.write(frame)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            logger.info("client went away while streaming %s", message_id)
        self.close_connection = True

    def _route(self) -> str:
        return self.path.split("?", 1)[0].rstrip("/") or "/"

    def _read_body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self._send_json(HTTPStatus.BAD_REQUEST, error_json("bad Content-Length"))
            return None
        return self.rfile.read(length) if length else b""

    def _send_json(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _safe_decide(request: MessagesRequest) -> AssistantReply:
    """A bug in the model becomes a visible answer, not a 500 the CLI would retry forever."""
    try:
        return decide(parse_conversation(request))
    except Exception as error:
        logger.exception("the offline model failed on a request")
        return AssistantReply.text(
            f"The offline model failed on this request ({type(error).__name__}: {error})."
        )
