"""Read a Messages API request the way the offline model needs it.

The model is stateless: every request carries the whole conversation, and the next action is
recomputed from it. This module turns the request into the three things that decide that action:
the working directory, the user's last real prompt, and the tool calls made since that prompt
(with their results).

Shapes seen from Claude Code 2.1.329:

- the working directory is in a ``role: "system"`` message inside ``messages`` (not in the
  top-level ``system``), as `` - Primary working directory: /abs/path``;
- user content is a string or a list of blocks, often led by ``<system-reminder>`` text blocks;
- tool results come back as ``{"type": "tool_result", "tool_use_id", "content", "is_error"?}``
  where content is a string or a list of text blocks;
- a Read result is ``cat -n`` style: ``"1\\tfirst line\\n2\\tsecond line"``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from tmux_builder.offline_model.messages_api import ApiMessage, ContentBlock, MessagesRequest

# Newlines around a reminder go with it; tabs stay (an empty numbered line is "3\t").
_REMINDER_RE = re.compile(r"\n*<system-reminder>.*?(?:</system-reminder>|\Z)\n*", re.DOTALL)
_WORKING_DIR_RE = re.compile(
    r"^[ \t]*(?:-[ \t]*)?(?:Primary working directory|Working directory):[ \t]*(\S[^\n]*?)[ \t]*$",
    re.MULTILINE,
)
# "     1\tline" (cat -n), "1\tline" (2.1.x) or "     1→line" (older CLIs).
_NUMBERED_LINE_RE = re.compile(r"^\s*\d+(?:\t|\u2192)(.*)$")


class ToolCall(BaseModel):
    """One tool_use of the current turn and, once the CLI ran it, its result."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    input: dict[str, Any]
    result: str | None = None
    is_error: bool = False

    @property
    def file_path(self) -> str | None:
        value = self.input.get("file_path")
        return value if isinstance(value, str) else None

    @property
    def succeeded(self) -> bool:
        return self.result is not None and not self.is_error


class Conversation(BaseModel):
    """What the offline model knows about a request."""

    model_config = ConfigDict(frozen=True)

    working_dir: str | None
    prompt: str
    calls: tuple[ToolCall, ...]
    has_tools: bool
    system_text: str
    wants_json: bool
    digest: str


def parse_conversation(request: MessagesRequest) -> Conversation:
    prompt_index = _last_prompt_index(request.messages)
    prompt = _prompt_text(request.messages[prompt_index]) if prompt_index is not None else ""
    turn = request.messages[prompt_index + 1 :] if prompt_index is not None else []
    system_text = _text_of(request.system) if request.system is not None else ""
    return Conversation(
        working_dir=find_working_dir(request),
        prompt=prompt,
        calls=tuple(_tool_calls(turn)),
        has_tools=bool(request.tools),
        system_text=system_text,
        wants_json=_wants_json(request, system_text),
        digest=request.digest(),
    )


def find_working_dir(request: MessagesRequest) -> str | None:
    """The last ``Primary working directory:`` line, in the messages or the system prompt."""
    texts = [_text_of(m.content) for m in request.messages]
    if request.system is not None:
        texts.insert(0, _text_of(request.system))
    found: str | None = None
    for text in texts:
        for match in _WORKING_DIR_RE.finditer(text):
            found = match.group(1)
    return found


def strip_system_reminders(text: str) -> str:
    return _drop_reminders(text).strip()


def tool_result_text(content: Any) -> str:
    """A tool result's text: its string content, or its text blocks joined."""
    if isinstance(content, str):
        return _drop_reminders(content)
    if isinstance(content, list):
        parts = [
            _drop_reminders(block.get("text", ""))
            for block in content
            if isinstance(block, dict) and block.get("type") == "text"
        ]
        return "\n".join(parts)
    return ""


def strip_line_numbers(read_result: str) -> str:
    """Recover a file's text from a Read result (``cat -n`` style); other lines are notes."""
    lines = read_result.split("\n")
    numbered = [_NUMBERED_LINE_RE.match(line) for line in lines]
    if not any(numbered):
        return read_result.strip()
    return "\n".join(match.group(1) for match in numbered if match)


def _drop_reminders(text: str) -> str:
    return _REMINDER_RE.sub("\n", text).strip("\n")


def _text_of(content: str | list[ContentBlock] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(
        block.get("text", "")
        for block in content
        if isinstance(block, dict) and block.get("type") == "text"
    )


def _prompt_text(message: ApiMessage) -> str:
    if isinstance(message.content, str):
        return strip_system_reminders(message.content)
    texts = [
        strip_system_reminders(block.get("text", ""))
        for block in message.content
        if isinstance(block, dict) and block.get("type") == "text"
    ]
    return "\n".join(text for text in texts if text)


def _is_prompt(message: ApiMessage) -> bool:
    """A user message with words of its own, not only reminders.

    A message carrying tool results is never a prompt, even with text beside them (hook
    context, notes): taking that text for a new prompt would end a task turn half-way.
    """
    if message.role != "user":
        return False
    if isinstance(message.content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in message.content
    ):
        return False
    return bool(_prompt_text(message))


def _last_prompt_index(messages: list[ApiMessage]) -> int | None:
    for index in range(len(messages) - 1, -1, -1):
        if _is_prompt(messages[index]):
            return index
    return None


def _tool_calls(turn: list[ApiMessage]) -> list[ToolCall]:
    uses: list[dict[str, Any]] = []
    results: dict[str, tuple[str, bool]] = {}
    for message in turn:
        if not isinstance(message.content, list):
            continue
        for block in message.content:
            if not isinstance(block, dict):
                continue
            if message.role == "assistant" and block.get("type") == "tool_use":
                uses.append(block)
            elif message.role == "user" and block.get("type") == "tool_result":
                text = tool_result_text(block.get("content"))
                results[str(block.get("tool_use_id"))] = (text, bool(block.get("is_error")))
    calls = []
    for use in uses:
        result, is_error = results.get(str(use.get("id")), (None, False))
        raw_input = use.get("input")
        calls.append(
            ToolCall(
                id=str(use.get("id")),
                name=str(use.get("name")),
                input=raw_input if isinstance(raw_input, dict) else {},
                result=result,
                is_error=is_error,
            )
        )
    return calls


def _wants_json(request: MessagesRequest, system_text: str) -> bool:
    """Side requests (titles, summaries) sometimes ask for JSON; answer them in kind."""
    fmt = (request.output_config or {}).get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return True
    return bool(re.search(r"\bJSON\b", system_text))
