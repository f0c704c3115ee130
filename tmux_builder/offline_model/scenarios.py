"""Scripted hard cases of the offline model, for tests: a slow turn, a tool error, a permission ask.

A test asks for one by putting a marker in the text the model reads for the turn: the task's
prompt file (usually a line of its Requirements), a chat message (its chat prompt file), or the
words typed into the pane. Syntax, case-insensitive, anywhere in that text (usually a line of its
own)::

    [offline-model: slow 4s]     every answer of the turn comes 4 s late ("4", "4s", "1.5 s";
                                 "slow" alone is 5 s; at most 60 s)
    [offline-model: tool-error]  runs a Bash command that fails, then does the task anyway
    [offline-model: permission]  asks to use WebFetch, which the session does not allow, then
                                 does the task without it

Markers combine (several in one text: the tool error comes first, then the permission ask, and
every answer is late). An unknown case (``[offline-model: foo]``) is ignored. Only the offline
model honours markers; a real model just sees text. Markers are cut out of the requirements and
the chat message before they shape the site, so none reaches the plan or the page.

What each case does, and what Claude Code 2.1.329 does with it (checked in real tmux, with the
session's settings: ``--permission-mode acceptEdits``, ``permissions.allow`` Read, Write, Edit,
Bash):

- **slow**: the answer is held back before its first byte; side requests (titles, no tools) are
  never late. A prompt file's marker is known once the file is read, so the first answer of such
  a turn (the Read of the prompt file) is on time and every later one is late. The CLI just shows
  its spinner (its own request timeout is 10 minutes).
- **tool-error**: once the prompt is read, ``Bash`` runs ``cat .offline-model/missing-input.txt``
  (relative to the session folder, where it does not exist). The CLI returns an ``is_error``
  result (``Exit code 1`` and cat's message) and fires ``PostToolUseFailure``, not
  ``PostToolUse``. The model carries on and its answer ends by saying what failed.
- **permission**: once the prompt is read (after the tool error, if both), ``WebFetch`` of
  ``https://example.com/``. WebFetch is not in the allow list, so the CLI fires the
  ``PermissionRequest`` hook (tool name and input) and shows "Do you want to allow Claude to fetch
  this content?" (1 Yes / 2 Yes, don't ask again / 3 No (esc)); ``Notification``
  (``notification_type: permission_prompt``, "Claude needs your permission", no tool name) comes
  about 6 s later. A hook decision ``deny`` with a message comes back as an ``is_error`` result
  carrying the message, and the turn goes on: the model says the permission was denied and does
  the task. Escape (or option 3) instead interrupts the whole turn: no further request, no
  ``Stop``. Granted, the page is fetched (example.com, harmless) and the answer says so.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from tmux_builder.offline_model.conversation import Conversation, ToolCall
from tmux_builder.offline_model.messages_api import AssistantReply, ToolUseBlock
from tmux_builder.offline_model.plan_writer import md
from tmux_builder.offline_model.prompt_file import find_prompt_reference

MAX_DELAY_SECONDS = 60.0
DEFAULT_SLOW_SECONDS = 5.0
READ = "Read"
BASH = "Bash"
WEB_FETCH = "WebFetch"
# A file that is not in a session folder: the command fails with exit code 1.
TOOL_ERROR_COMMAND = "cat .offline-model/missing-input.txt"
PERMISSION_URL = "https://example.com/"

MARKER_RE = re.compile(r"\[[ \t]*offline-model[ \t]*:[ \t]*([^\]\n]*?)[ \t]*\]", re.I)
# A line holding nothing but markers (chat messages quote each line with "> ").
_MARKER_LINE_RE = re.compile(
    r"^[ \t>]*(?:\[[ \t]*offline-model[ \t]*:[^\]\n]*\][ \t]*)+(?:\n|\Z)", re.I | re.M
)
_SLOW_RE = re.compile(r"^slow(?:[ \t]+(\d{1,6}(?:\.\d{1,3})?)[ \t]*s?)?$", re.I)


class Case(StrEnum):
    SLOW = "slow"
    TOOL_ERROR = "tool-error"
    PERMISSION = "permission"


class Scenario(BaseModel):
    """The hard cases a turn asked for (all off: a normal turn)."""

    model_config = ConfigDict(frozen=True)

    delay_seconds: float = 0.0
    tool_error: bool = False
    permission: bool = False

    @property
    def scripted_calls(self) -> bool:
        return self.tool_error or self.permission


def parse_scenario(text: str) -> Scenario:
    """The cases the markers in ``text`` ask for; unknown cases are ignored."""
    delay, tool_error, permission = 0.0, False, False
    for match in MARKER_RE.finditer(text):
        case = " ".join(match.group(1).split()).lower()
        slow = _SLOW_RE.match(case)
        if slow:
            seconds = float(slow.group(1)) if slow.group(1) else DEFAULT_SLOW_SECONDS
            delay = min(seconds, MAX_DELAY_SECONDS)
        elif case == Case.TOOL_ERROR:
            tool_error = True
        elif case == Case.PERMISSION:
            permission = True
    return Scenario(delay_seconds=delay, tool_error=tool_error, permission=permission)


def strip_markers(text: str) -> str:
    """``text`` without its markers (lines holding only markers go entirely)."""
    return MARKER_RE.sub("", _MARKER_LINE_RE.sub("", text))


def turn_scenario(conversation: Conversation, prompt_file_text: str | None = None) -> Scenario:
    """The turn's scenario: markers in the prompt and in the prompt file, once it was read.

    ``prompt_file_text`` is the prompt file's text when the caller has it; otherwise the last
    successful Read of the file the prompt names is used.
    """
    texts = [conversation.prompt]
    if prompt_file_text is not None:
        texts.append(prompt_file_text)
    else:
        read = _prompt_file_read(conversation)
        if read is not None:
            texts.append(read.result or "")
    return parse_scenario("\n".join(texts))


def response_delay(conversation: Conversation) -> float:
    """Seconds to hold the next answer back (0 for side requests and normal turns)."""
    if not conversation.has_tools:
        return 0.0
    return turn_scenario(conversation).delay_seconds


def scripted_step(conversation: Conversation, scenario: Scenario) -> AssistantReply | None:
    """The scripted tool call due next (tool error first, then the permission ask), or None."""
    if scenario.tool_error and _tool_error_call(conversation) is None:
        return _call(conversation, BASH, {"command": TOOL_ERROR_COMMAND, "description": _PROBE})
    if scenario.permission and _permission_call(conversation) is None:
        return _call(
            conversation, WEB_FETCH, {"url": PERMISSION_URL, "prompt": "Summarize this page."}
        )
    return None


def scenario_notes(conversation: Conversation, scenario: Scenario) -> list[str]:
    """Sentences for the turn's answer: what went wrong on the way and how the turn went on."""
    notes = []
    probe = _tool_error_call(conversation) if scenario.tool_error else None
    if probe is not None:
        if probe.succeeded:
            notes.append(
                f"The scripted tool error did not happen: `{TOOL_ERROR_COMMAND}` succeeded."
            )
        else:
            notes.append(
                f"Recovered from a tool error: `{TOOL_ERROR_COMMAND}` failed "
                f"({md(_one_line(probe.result))}), so I went on without that input."
            )
    ask = _permission_call(conversation) if scenario.permission else None
    if ask is not None:
        if ask.succeeded:
            notes.append(f"I was allowed to use {WEB_FETCH} on {PERMISSION_URL}.")
        else:
            notes.append(
                f"I asked for permission to use {WEB_FETCH} on {PERMISSION_URL}; it was denied "
                f"({md(_one_line(ask.result))}), so I went on without it."
            )
    return notes


def with_notes(answer: str, notes: list[str]) -> str:
    if not notes:
        return answer
    return answer + "\n\n" + "\n".join(f"- {note}" for note in notes)


# -- internals ---------------------------------------------------------------------------

_PROBE = "Look for an optional input file"


def _tool_error_call(conversation: Conversation) -> ToolCall | None:
    return next(
        (
            c
            for c in conversation.calls
            if c.name == BASH and c.input.get("command") == TOOL_ERROR_COMMAND
        ),
        None,
    )


def _permission_call(conversation: Conversation) -> ToolCall | None:
    return next(
        (
            c
            for c in conversation.calls
            if c.name == WEB_FETCH and c.input.get("url") == PERMISSION_URL
        ),
        None,
    )


def _prompt_file_read(conversation: Conversation) -> ToolCall | None:
    reference = find_prompt_reference(conversation.prompt)
    if reference is None:
        return None
    wanted = posixpath.normpath(reference)
    reads = [
        c
        for c in conversation.calls
        if c.name == READ
        and c.succeeded
        and c.file_path is not None
        and _same_file(posixpath.normpath(c.file_path), wanted)
    ]
    return reads[-1] if reads else None


def _same_file(path: str, reference: str) -> bool:
    if reference.startswith("/"):
        return path == reference
    return path.endswith("/" + reference) or path == reference


def _call(conversation: Conversation, name: str, tool_input: dict[str, str]) -> AssistantReply:
    """Ids derive from the conversation, so equal requests get byte-equal answers."""
    seed = f"{conversation.digest}:scenario:{name}"
    block = ToolUseBlock(
        id="toolu_" + hashlib.sha256(seed.encode()).hexdigest()[:24], name=name, input=tool_input
    )
    return AssistantReply.tool_uses([block])


def _one_line(text: str | None) -> str:
    words = " ".join((text or "no details").split())
    return words[:200] if words else "no details"
