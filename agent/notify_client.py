"""``tmux-builder-notify``: report from inside a session to the agent's notify hub.

Usage::

    tmux-builder-notify hook <EventName>      # hook JSON on stdin (Claude Code hooks)
    tmux-builder-notify status "text"
    tmux-builder-notify progress 75
    tmux-builder-notify summary "text"
    tmux-builder-notify done ["text"]
    tmux-builder-notify error "text"
    tmux-builder-notify ack ["text"]
    tmux-builder-notify deployed <url>

It runs on every tool call, so it imports only the standard library, and it never gets in the
CLI's way: when the hub cannot be reached it says so on stderr and exits 0 (a failing hook could
block the AI; exit code 2 from a hook even vetoes the tool call). Usage errors exit 2. It prints
nothing on stdout, because Claude Code adds a hook's stdout to the conversation.
"""

from __future__ import annotations

import json
import os
import sys

URL_ENV = "TMUX_BUILDER_NOTIFY_URL"
TOKEN_ENV = "TMUX_BUILDER_NOTIFY_TOKEN"
MAX_BODY_BYTES = 1024 * 1024
TIMEOUT_SECONDS = 10.0
NOTIFY_VERSION = 1
EXIT_OK = 0
EXIT_USAGE = 2

# verb -> (argument name, required)
_VERBS: dict[str, tuple[str, bool]] = {
    "status": ("text", True),
    "progress": ("percent", True),
    "summary": ("text", True),
    "done": ("text", False),
    "error": ("text", True),
    "ack": ("text", False),
    "deployed": ("url", True),
}
_HOOK_EVENT_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class UsageError(ValueError):
    """The command line does not name a known verb with its argument."""


def _usage() -> str:
    verbs = " | ".join(
        f"{verb} {'<' + arg + '>' if required else '[' + arg + ']'}"
        for verb, (arg, required) in _VERBS.items()
    )
    return f"usage: tmux-builder-notify hook <EventName> | {verbs}"


def build_request(argv: list[str], stdin: bytes | None) -> tuple[str, bytes]:
    """The hub path and JSON body for a command line; :class:`UsageError` if it is malformed."""
    if not argv:
        raise UsageError("no command")
    verb, args = argv[0], argv[1:]
    if verb == "hook":
        if len(args) != 1 or not args[0] or not set(args[0]) <= _HOOK_EVENT_CHARS:
            raise UsageError("hook takes one event name")
        return f"/hook/{args[0]}", _shrink_hook_body(stdin or b"{}")
    if verb not in _VERBS:
        raise UsageError(f"unknown command {verb!r}")
    arg_name, required = _VERBS[verb]
    if len(args) > 1 or (required and not args):
        raise UsageError(f"{verb} takes {'one' if required else 'at most one'} {arg_name}")
    message = args[0] if args else ""
    if verb == "progress" and not (message.isdigit() and 0 <= int(message) <= 100):
        raise UsageError("progress takes an integer from 0 to 100")
    body = {"version": NOTIFY_VERSION, "type": verb, "message": message}
    return "/notify", json.dumps(body).encode()


def _shrink_hook_body(body: bytes) -> bytes:
    """Keep a hook body under the hub's limit by dropping bulky tool output, never the event."""
    if len(body) <= MAX_BODY_BYTES:
        return body
    try:
        payload = json.loads(body)
    except ValueError:
        return body  # the hub will refuse it; nothing better to send
    if isinstance(payload, dict):
        for key in ("tool_response", "tool_input"):
            payload.pop(key, None)
        message = payload.get("last_assistant_message")
        if isinstance(message, str) and len(message) > MAX_BODY_BYTES // 2:
            payload["last_assistant_message"] = message[: MAX_BODY_BYTES // 2]
    return json.dumps(payload).encode()


def post(url: str, token: str, path: str, body: bytes) -> int:
    """POST to the hub and return the HTTP status (errors included)."""
    # Imported here: urllib.request is most of this tool's start-up time, and usage errors or a
    # missing hub URL should not pay for it.
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url.rstrip("/") + path,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (["-h"], ["--help"]):
        print(_usage(), file=sys.stderr)
        return EXIT_OK
    stdin = sys.stdin.buffer.read() if args[:1] == ["hook"] and sys.stdin else None
    try:
        path, body = build_request(args, stdin)
    except UsageError as error:
        print(f"tmux-builder-notify: {error}\n{_usage()}", file=sys.stderr)
        return EXIT_USAGE
    url, token = os.environ.get(URL_ENV, ""), os.environ.get(TOKEN_ENV, "")
    if not url or not token:
        print(f"tmux-builder-notify: {URL_ENV}/{TOKEN_ENV} not set; not reported", file=sys.stderr)
        return EXIT_OK
    try:
        status = post(url, token, path, body)
    except (OSError, ValueError) as error:
        print(f"tmux-builder-notify: hub unreachable ({error}); not reported", file=sys.stderr)
        return EXIT_OK
    if status != 200:
        print(f"tmux-builder-notify: hub answered {status}; not reported", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
