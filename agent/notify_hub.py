"""Loopback HTTP endpoint where the CLI's hooks and ``tmux-builder-notify`` calls arrive.

Why: the agent must know when the CLI is up, when our prompt was taken and when the turn ended
without reading the screen. Claude Code runs a hook command at each of those moments; the hook
(``agent.notify_client``) POSTs the hook's JSON here, and waiters in the agent wake up.

Each session gets its own random bearer token in its environment. The token, not anything in the
request, says which user a request speaks for, so one session can never report for another.
Tokens are kept only as SHA-256 digests and never logged. The hub listens on loopback TCP, so a
pane running as another Unix user (:mod:`agent.pane_user`) reaches it the same way; the token,
not the caller's user, is what it checks.

Permission asks: the engine that owns a session can watch them (:meth:`NotifyHub.on_permission`).
The hub passes on a ``PermissionRequest`` hook (the CLI asks before showing its dialog; the hook's
own answer decides) and a ``Notification`` of type ``permission_prompt`` (a dialog has been on the
screen for ~6 s), naming the tool of the last ``PreToolUse``; the engine decides and reports.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import PurePosixPath
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tmux_builder.contracts import ActivityType
from tmux_builder.naming import USER_ID_RE

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
_MAX_DRAIN_BYTES = 16 * MAX_BODY_BYTES
NOTIFY_VERSION = 1
_KEEP_PER_USER = 64
# How soon stop() takes effect (socketserver checks its shutdown flag at this interval).
_SHUTDOWN_POLL_SECONDS = 0.05
_PROMPT_FILE_RE = re.compile(r"prompts/([A-Za-z0-9._-]+)\.txt")

ActivityCallback = Callable[[str, ActivityType, str], None]
PERMISSION_NOTIFICATION = "permission_prompt"
_T = TypeVar("_T")


class HookEvent(StrEnum):
    """The Claude Code hook events the hub accepts at ``POST /hook/<event>``."""

    SESSION_START = "SessionStart"
    USER_PROMPT_SUBMIT = "UserPromptSubmit"
    PRE_TOOL_USE = "PreToolUse"
    POST_TOOL_USE = "PostToolUse"
    STOP = "Stop"
    SUBAGENT_STOP = "SubagentStop"
    NOTIFICATION = "Notification"
    PERMISSION_REQUEST = "PermissionRequest"
    PRE_COMPACT = "PreCompact"
    SESSION_END = "SessionEnd"


class HookPayload(BaseModel):
    """What Claude Code writes to a hook's stdin (only the fields the hub uses)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    session_id: str = Field(min_length=1, max_length=200)
    transcript_path: str = ""
    cwd: str = ""
    prompt_id: str | None = None
    prompt: str | None = None
    source: str | None = None
    reason: str | None = None
    tool_name: str | None = None
    tool_input: dict[str, Any] | None = None
    message: str | None = None
    notification_type: str | None = None
    last_assistant_message: str | None = None


class NotifyRequest(BaseModel):
    """Body of ``POST /notify`` (``tmux-builder-notify <type> [message]``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    version: int = NOTIFY_VERSION
    type: ActivityType
    message: str = Field(default="", max_length=8000)

    @model_validator(mode="after")
    def _progress_is_a_percentage(self) -> NotifyRequest:
        is_percentage = self.message.isdigit() and 0 <= int(self.message) <= 100
        if self.type is ActivityType.PROGRESS and not is_percentage:
            raise ValueError("progress message must be an integer from 0 to 100")
        return self


@dataclass(frozen=True)
class SessionStartInfo:
    """The CLI's conversation as announced by SessionStart."""

    session_id: str
    transcript_path: str
    source: str


@dataclass(frozen=True)
class PermissionAsk:
    """The CLI asked to use a tool its settings do not allow.

    ``dialog`` is False for the ``PermissionRequest`` hook (answered by the hook itself, before
    any dialog) and True for a ``permission_prompt`` Notification: a dialog is on the screen and
    the CLI waits for a key.
    """

    tool_name: str
    tool_input: dict[str, Any]
    dialog: bool
    message: str = ""


PermissionCallback = Callable[[str, PermissionAsk], None]


@dataclass(frozen=True)
class StopInfo:
    """The end of one turn, from the Stop hook."""

    last_assistant_message: str
    session_id: str
    transcript_path: str


class HubError(RuntimeError):
    """Base of the hub's errors."""


class HubTimeout(HubError, TimeoutError):
    """The awaited signal did not arrive in time."""


class SessionEnded(HubError):
    """The CLI announced SessionEnd while something was still awaited from it."""


class UnknownUser(HubError, KeyError):
    """The user has no registered session (never registered, or unregistered meanwhile)."""


class _HttpError(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _UserState:
    token_digest: str
    start: SessionStartInfo | None = None
    ended: str | None = None
    last_prompt_id: str | None = None
    prompts: OrderedDict[str, str] = field(default_factory=OrderedDict)
    stops: OrderedDict[str, StopInfo] = field(default_factory=OrderedDict)
    last_tool: tuple[str, dict[str, Any]] | None = None
    on_permission: PermissionCallback | None = None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _remember(mapping: OrderedDict[str, _T], key: str, value: _T) -> None:
    """Insert and keep only the newest entries: a long session must not grow without bound."""
    mapping[key] = value
    mapping.move_to_end(key)
    while len(mapping) > _KEEP_PER_USER:
        mapping.popitem(last=False)


_TOOL_VERBS: dict[str, tuple[str, str]] = {
    "Write": ("Writing", "Wrote"),
    "Edit": ("Editing", "Edited"),
    "MultiEdit": ("Editing", "Edited"),
    "NotebookEdit": ("Editing", "Edited"),
    "Read": ("Reading", "Read"),
    "Bash": ("Running", "Ran"),
    "Glob": ("Searching", "Searched"),
    "Grep": ("Searching", "Searched"),
    "WebFetch": ("Fetching", "Fetched"),
    "WebSearch": ("Searching the web for", "Searched the web for"),
    "TodoWrite": ("Updating the task list", "Updated the task list"),
}


def describe_tool(tool_name: str, tool_input: dict[str, Any] | None, cwd: str, done: bool) -> str:
    """A short human line for a tool call: ``Writing code/index.html``, ``Ran npm test``."""
    present, past = _TOOL_VERBS.get(tool_name, (f"Using {tool_name}", f"Used {tool_name}"))
    verb = past if done else present
    args = tool_input or {}
    target = ""
    if isinstance(args.get("file_path"), str):
        path = PurePosixPath(args["file_path"])
        if cwd and path.is_relative_to(cwd):
            path = path.relative_to(cwd)
        target = str(path)
    elif isinstance(args.get("command"), str):
        target = args["command"].strip().splitlines()[0] if args["command"].strip() else ""
    else:
        for key in ("pattern", "url", "query"):
            if isinstance(args.get(key), str):
                target = args[key]
                break
    if len(target) > 120:
        target = target[:117] + "..."
    return f"{verb} {target}".strip()


class NotifyHub:
    """The hub: HTTP server, per-session tokens, and waiters on the sessions' signals.

    Parameters
    ----------
    on_activity:
        Called as ``on_activity(user_id, type, message)`` for tool use, notifications and notify
        calls, in arrival order, from one worker thread (never from the request thread, so a
        slow relay does not slow down the AI's hooks).
    """

    def __init__(
        self,
        on_activity: ActivityCallback | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._on_activity = on_activity
        self._host = host
        self._port = port
        self._cond = threading.Condition()
        self._users: dict[str, _UserState] = {}
        self._by_digest: dict[str, str] = {}
        self._httpd: _HubHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._activities: queue.Queue[tuple[str, ActivityType, str] | None] = queue.Queue()

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> NotifyHub:
        if self._httpd is not None:
            return self
        self._httpd = _HubHTTPServer((self._host, self._port), self)
        self._threads = [
            threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": _SHUTDOWN_POLL_SECONDS},
                name="notify-hub",
                daemon=True,
            ),
            threading.Thread(target=self._relay_activities, name="notify-relay", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        logger.info("notify hub listening", extra={"url": self.url})
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._activities.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        self._httpd = None
        self._threads = []

    def __enter__(self) -> NotifyHub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise HubError("notify hub is not started")
        return f"http://{self._host}:{self._httpd.server_port}"

    # -- sessions -------------------------------------------------------------------------

    def register(self, user_id: str) -> str:
        """Issue a fresh token for the user's session; any previous token stops working.

        Called before each (re)start of the CLI, so signals from an older process are refused
        and the waiters start from a clean state.
        """
        if not USER_ID_RE.match(user_id):
            raise ValueError(f"not a user id: {user_id!r}")
        token = secrets.token_urlsafe(32)
        with self._cond:
            self._drop(user_id)
            state = _UserState(token_digest=_digest(token))
            self._users[user_id] = state
            self._by_digest[state.token_digest] = user_id
            self._cond.notify_all()
        return token

    def unregister(self, user_id: str) -> None:
        with self._cond:
            self._drop(user_id)
            self._cond.notify_all()

    def on_permission(self, user_id: str, callback: PermissionCallback | None) -> None:
        """Call ``callback(user_id, ask)`` for the session's permission asks, until the next
        :meth:`register` or :meth:`unregister`; it runs on the hook's request thread, outside
        the hub's lock, and should be quick (the CLI waits for the hook)."""
        with self._cond:
            self._state(user_id).on_permission = callback

    def report(self, user_id: str, kind: ActivityType, message: str) -> None:
        """Relay an activity line for the user, in order with the session's own."""
        self._activities.put((user_id, kind, message))

    def is_registered(self, user_id: str) -> bool:
        with self._cond:
            return user_id in self._users

    def session_start(self, user_id: str) -> SessionStartInfo | None:
        with self._cond:
            return self._state(user_id).start

    def submitted_prompt(self, user_id: str, task_id: str) -> str | None:
        """The prompt id under which the task's instruction was submitted, if it was."""
        with self._cond:
            return self._state(user_id).prompts.get(task_id)

    def stop_info(self, user_id: str, prompt_id: str) -> StopInfo | None:
        with self._cond:
            return self._state(user_id).stops.get(prompt_id)

    def wait_ready(self, user_id: str, timeout: float) -> SessionStartInfo:
        """Wait for SessionStart since the last :meth:`register`."""
        return self._wait(user_id, timeout, lambda s: s.start, "SessionStart", check_end=False)

    def wait_submitted(self, user_id: str, task_id: str, timeout: float) -> str:
        """Wait until a submitted prompt names ``prompts/{task_id}.txt``; return its prompt id."""
        return self._wait(
            user_id, timeout, lambda s: s.prompts.get(task_id), f"submission of {task_id}"
        )

    def wait_stopped(self, user_id: str, prompt_id: str, timeout: float) -> StopInfo:
        """Wait for the Stop hook of the turn started by ``prompt_id``."""
        return self._wait(user_id, timeout, lambda s: s.stops.get(prompt_id), "Stop")

    # -- request handling (called by the HTTP handler) ------------------------------------

    def authenticate(self, authorization: str | None) -> str:
        """The user id a bearer token belongs to; :class:`_HttpError` 401 otherwise."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _HttpError(HTTPStatus.UNAUTHORIZED, "missing bearer token")
        with self._cond:
            user_id = self._by_digest.get(_digest(token.strip()))
        if user_id is None:
            raise _HttpError(HTTPStatus.UNAUTHORIZED, "unknown token")
        return user_id

    def handle_hook(self, user_id: str, event: HookEvent, payload: HookPayload) -> None:
        with self._cond:
            state = self._users.get(user_id)
            if state is None:
                return
            self._apply_hook(state, event, payload)
            self._cond.notify_all()
            ask = _permission_ask(state, event, payload)
            callback = state.on_permission
        if ask is not None and callback is not None:
            # The watcher reports the ask its own way (e.g. "...; denied").
            try:
                callback(user_id, ask)
            except Exception:
                logger.exception("permission callback failed")
            return
        activity = self._hook_activity(event, payload)
        if activity is not None:
            self._activities.put((user_id, *activity))

    def handle_notify(self, user_id: str, request: NotifyRequest) -> None:
        self._activities.put((user_id, request.type, request.message))

    # -- internals ------------------------------------------------------------------------

    def _apply_hook(self, state: _UserState, event: HookEvent, payload: HookPayload) -> None:
        if event is HookEvent.SESSION_START:
            state.start = SessionStartInfo(
                payload.session_id, payload.transcript_path, payload.source or ""
            )
            state.ended = None
        elif event is HookEvent.USER_PROMPT_SUBMIT:
            if payload.prompt_id:
                state.last_prompt_id = payload.prompt_id
                match = _PROMPT_FILE_RE.search(payload.prompt or "")
                # The first submission of a task counts; a later one never re-maps it.
                if match and match.group(1) not in state.prompts:
                    _remember(state.prompts, match.group(1), payload.prompt_id)
        elif event is HookEvent.STOP:
            # Versions without prompt_id on Stop: the turn that ended is the last one submitted.
            prompt_id = payload.prompt_id or state.last_prompt_id
            if prompt_id:
                info = StopInfo(
                    payload.last_assistant_message or "",
                    payload.session_id,
                    payload.transcript_path,
                )
                _remember(state.stops, prompt_id, info)
        elif event is HookEvent.PRE_TOOL_USE and payload.tool_name:
            state.last_tool = (payload.tool_name, dict(payload.tool_input or {}))
        elif event is HookEvent.SESSION_END and payload.reason != "clear":
            state.ended = payload.reason or "ended"

    @staticmethod
    def _hook_activity(event: HookEvent, payload: HookPayload) -> tuple[ActivityType, str] | None:
        if event in (HookEvent.PRE_TOOL_USE, HookEvent.POST_TOOL_USE) and payload.tool_name:
            done = event is HookEvent.POST_TOOL_USE
            line = describe_tool(payload.tool_name, payload.tool_input, payload.cwd, done)
            return ActivityType.STATUS, line
        # The idle reminder (60 s after every Stop) tells a person at the terminal nothing new.
        if (
            event is HookEvent.NOTIFICATION
            and payload.message
            and payload.notification_type != "idle_prompt"
        ):
            return ActivityType.STATUS, payload.message
        return None

    def _wait(
        self,
        user_id: str,
        timeout: float,
        found: Callable[[_UserState], _T | None],
        what: str,
        check_end: bool = True,
    ) -> _T:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                state = self._state(user_id)
                result = found(state)
                if result is not None:
                    return result
                if check_end and state.ended is not None:
                    raise SessionEnded(f"session ended ({state.ended}) before {what}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise HubTimeout(f"no {what} within {timeout:g} s")
                self._cond.wait(remaining)

    def _state(self, user_id: str) -> _UserState:
        state = self._users.get(user_id)
        if state is None:
            raise UnknownUser(user_id)
        return state

    def _drop(self, user_id: str) -> None:
        state = self._users.pop(user_id, None)
        if state is not None:
            self._by_digest.pop(state.token_digest, None)

    def _relay_activities(self) -> None:
        while (item := self._activities.get()) is not None:
            if self._on_activity is None:
                continue
            try:
                self._on_activity(*item)
            except Exception:
                logger.exception("activity callback failed")


def _permission_ask(
    state: _UserState, event: HookEvent, payload: HookPayload
) -> PermissionAsk | None:
    if event is HookEvent.PERMISSION_REQUEST and payload.tool_name:
        return PermissionAsk(payload.tool_name, dict(payload.tool_input or {}), dialog=False)
    if event is not HookEvent.NOTIFICATION:
        return None
    message = payload.message or ""
    kind = payload.notification_type
    # Versions without notification_type say "Claude needs your permission to use <tool>".
    if kind != PERMISSION_NOTIFICATION and not (kind is None and "permission" in message.lower()):
        return None
    tool_name, tool_input = state.last_tool or ("", {})
    named = re.search(r"permission to use (\S+)", message)
    if named:
        tool_name = named.group(1).rstrip(".")
    return PermissionAsk(tool_name or "a tool", tool_input, dialog=True, message=message)


class _HubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], hub: NotifyHub) -> None:
        super().__init__(address, _Handler)
        self.hub = hub


class _Handler(BaseHTTPRequestHandler):
    server: _HubHTTPServer
    server_version = "tmux-builder-notify-hub"

    def do_POST(self) -> None:
        try:
            body = self._read_body()
            user_id = self.server.hub.authenticate(self.headers.get("Authorization"))
            self._route(user_id, body)
        except _HttpError as error:
            self._reply(error.status, {"error": error.message})
            return
        self._reply(HTTPStatus.OK, {"ok": True})

    def do_GET(self) -> None:
        self._reply(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "POST only"})

    do_PUT = do_DELETE = do_PATCH = do_GET

    def _route(self, user_id: str, body: bytes) -> None:
        hub = self.server.hub
        path = self.path.split("?", 1)[0]
        if path == "/notify":
            hub.handle_notify(user_id, _parse(NotifyRequest, body))
        elif path.startswith("/hook/"):
            try:
                event = HookEvent(path.removeprefix("/hook/"))
            except ValueError:
                raise _HttpError(HTTPStatus.NOT_FOUND, "unknown hook event") from None
            hub.handle_hook(user_id, event, _parse(HookPayload, body))
        else:
            raise _HttpError(HTTPStatus.NOT_FOUND, "no such route")

    def _read_body(self) -> bytes:
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            raise _HttpError(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
        try:
            length = int(length_header)
        except ValueError:
            raise _HttpError(HTTPStatus.BAD_REQUEST, "bad Content-Length") from None
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            # Drain what a sane client sends (bounded) so it reads our 413 instead of a reset.
            remaining = min(max(length, 0), _MAX_DRAIN_BYTES)
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 65536))
                if not chunk:
                    break
                remaining -= len(chunk)
            raise _HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
        return self.rfile.read(length)

    def _reply(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        # The request line holds no secret (tokens travel in a header); keep it out of INFO.
        logger.debug("notify hub: " + format, *args)


_M = TypeVar("_M", bound=BaseModel)


def _parse(model: type[_M], body: bytes) -> _M:
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        fields = ", ".join(".".join(map(str, e["loc"])) or e["msg"] for e in error.errors())
        raise _HttpError(HTTPStatus.BAD_REQUEST, f"invalid body: {fields}") from None
