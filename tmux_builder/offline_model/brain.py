"""Decide the offline model's next assistant message from the conversation so far.

Stateless on purpose: the CLI sends the whole conversation with every request, so the next
action is recomputed from it (which prompt, which files were read, which writes failed). A
restarted server, a retried request or two CLIs talking to one server all just work.

A task turn goes:

1. Read the prompt file named in the user's one-line message;
2. Read the task's inputs (``plan.md``, ``code/index.html``), if any;
3. Write every output in one message (parallel tool calls);
4. recover from "File has not been read yet" (or "modified since read") by Reading that file
   and writing it again;
5. end the turn with a short markdown answer (the chat message users see).

A chat message arrives the same way, as a prompt file ``prompts/chat-<id>.txt``: the turn reads
it and the site's files and writes what the message changes (:mod:`chat_edits`). A message that
names no prompt file (typed into the pane) gets a text answer (:func:`chat_reply`); a request
without tools is a side request such as a session title (:func:`side_reply`), answered with
text, never a tool call.

Scripted hard cases for tests (a slow turn, a tool error, a permission ask) are asked for with
markers such as ``[offline-model: slow 4s]`` in the prompt file or the message; see
:mod:`scenarios`. :func:`decide` is the only place that waits (for ``slow``).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import time
from collections.abc import Callable

from tmux_builder.offline_model.chat_edits import (
    CHAT_INPUTS,
    ChatPromptError,
    chat_deliverable,
    is_chat_reference,
    parse_chat_prompt,
)
from tmux_builder.offline_model.conversation import Conversation, ToolCall, strip_line_numbers
from tmux_builder.offline_model.deliverables import (
    Deliverable,
    build_deliverable,
    required_inputs,
)
from tmux_builder.offline_model.messages_api import AssistantReply, ToolUseBlock
from tmux_builder.offline_model.plan_writer import md
from tmux_builder.offline_model.prompt_file import (
    PromptFileError,
    find_prompt_reference,
    parse_prompt_file,
    task_id_from_path,
)
from tmux_builder.offline_model.scenarios import (
    Scenario,
    parse_scenario,
    response_delay,
    scenario_notes,
    scripted_step,
    strip_markers,
    turn_scenario,
    with_notes,
)

READ = "Read"
WRITE = "Write"
# After this many "not read yet" failures for one file, stop retrying and report it.
MAX_NOT_READ_RETRIES = 2

# Write refusals that a Read cures: never read in this session, or changed on disk since.
_NOT_READ_RE = re.compile(
    r"has not been read|read it first|modified since read|since this session read it"
    r"|read it again",
    re.I,
)


def decide(
    conversation: Conversation, *, sleep: Callable[[float], None] = time.sleep
) -> AssistantReply:
    """The one dispatch point: side request, chat message, or a step of a task turn.

    A turn marked ``slow`` (see :mod:`scenarios`) gets its answer after that delay.
    """
    reply = _dispatch(conversation)
    delay = response_delay(conversation)
    if delay > 0:
        sleep(delay)
    return reply


def _dispatch(conversation: Conversation) -> AssistantReply:
    if not conversation.has_tools:
        return side_reply(conversation)
    reference = find_prompt_reference(conversation.prompt)
    if reference is None:
        return chat_reply(conversation)
    if is_chat_reference(reference):
        return _ChatTurn(conversation, reference).next_reply()
    return _TaskTurn(conversation, reference).next_reply()


def side_reply(conversation: Conversation) -> AssistantReply:
    """Titles and summaries the CLI asks for on the side: short text (JSON if asked for)."""
    gist = _gist(strip_markers(conversation.prompt))
    if conversation.wants_json:
        return AssistantReply.text(json.dumps({"title": gist}))
    if "summar" in (conversation.prompt + conversation.system_text).lower():
        return AssistantReply.text(f"Summary: the user asked: {gist}.")
    return AssistantReply.text(gist)


def chat_reply(conversation: Conversation) -> AssistantReply:
    """Words typed into the pane, not a prompt file: answered, nothing changed."""
    scenario = parse_scenario(conversation.prompt)
    step = scripted_step(conversation, scenario)
    if step is not None:
        return step
    echo = _gist(strip_markers(conversation.prompt), words=40, chars=240)
    answer = (
        "I'm the offline model standing in for Claude on this machine. I work from prompt "
        "files: tasks (`prompts/<task>.txt`) build the plan, the site's code and its end-to-end "
        "tests, and chat messages (`prompts/chat-<id>.txt`, written when you use the chat) "
        "change the site. Words typed straight into this pane are not one of those, so "
        f"nothing was changed for: \u201c{md(echo)}\u201d."
    )
    return AssistantReply.text(with_notes(answer, scenario_notes(conversation, scenario)))


class _TaskTurn:
    """One turn driven by a prompt file; every method reads the conversation, none stores."""

    def __init__(self, conversation: Conversation, reference: str) -> None:
        self.conversation = conversation
        self.reference = reference
        working_dir = conversation.working_dir
        if reference.startswith("/") and working_dir is None:
            # ".../<workdir>/prompts/<id>.txt": outputs go next to the prompts folder.
            working_dir = posixpath.dirname(posixpath.dirname(posixpath.normpath(reference)))
        self.working_dir = working_dir or ""
        self.scenario = Scenario()

    def absolute(self, relative: str) -> str:
        return posixpath.normpath(posixpath.join(self.working_dir, relative))

    def next_reply(self) -> AssistantReply:
        if not self.working_dir:
            return AssistantReply.text(
                f"I can't tell which directory I'm working in, so I can't open `{self.reference}`."
            )
        prompt_path = self.absolute(self.reference)
        prompt_read = self._last_read(prompt_path)
        if prompt_read is None:
            return self._reads([prompt_path])
        if not prompt_read.succeeded:
            return AssistantReply.text(
                f"I could not read `{self.reference}`: {_first_line(prompt_read.result)}"
            )
        prompt_text = strip_line_numbers(prompt_read.result or "")
        try:
            task = parse_prompt_file(
                strip_markers(prompt_text), fallback_task_id=task_id_from_path(self.reference)
            )
        except PromptFileError as error:
            return AssistantReply.text(f"`{self.reference}` names no task I can do: {error}.")
        scripted = self._scripted(prompt_text)
        if scripted is not None:
            return scripted

        inputs = [self.absolute(path) for path in required_inputs(task)]
        unread = [path for path in inputs if self._last_read(path) is None]
        if unread:
            return self._reads(unread)
        texts = {
            relative: self._read_text(self.absolute(relative)) for relative in required_inputs(task)
        }
        return self._write_step(build_deliverable(task, texts))

    def _write_step(self, deliverable: Deliverable) -> AssistantReply:
        pending, to_read, to_rewrite, failed = [], [], [], {}
        for relative in deliverable.files:
            path = self.absolute(relative)
            state, detail = self._write_state(path)
            if state == "pending":
                pending.append(relative)
            elif state == "read":
                to_read.append(path)
            elif state == "rewrite":
                to_rewrite.append(relative)
            elif state == "failed":
                failed[relative] = detail
        if pending or to_rewrite:
            return self._writes(deliverable, pending or to_rewrite)
        if to_read:
            return self._reads(to_read)
        notes = scenario_notes(self.conversation, self.scenario)
        return AssistantReply.text(with_notes(_final_answer(deliverable, failed), notes))

    def _scripted(self, prompt_text: str) -> AssistantReply | None:
        """The scripted hard case due next, if the prompt file asks for one (see scenarios)."""
        self.scenario = turn_scenario(self.conversation, prompt_text)
        return scripted_step(self.conversation, self.scenario)

    def _write_state(self, path: str) -> tuple[str, str]:
        """pending | done | read (before a retry) | rewrite | failed, with the error text."""
        writes = [c for c in self._calls_on(path) if c.name == WRITE]
        if not writes:
            return "pending", ""
        last = writes[-1]
        if last.succeeded:
            return "done", ""
        error = _first_line(last.result) if last.result is not None else "no result came back"
        not_read = [w for w in writes if w.is_error and _NOT_READ_RE.search(w.result or "")]
        if not _NOT_READ_RE.search(last.result or "") or len(not_read) > MAX_NOT_READ_RETRIES:
            return "failed", error
        calls = self._calls_on(path)
        read_since = any(c.name == READ for c in calls[calls.index(last) + 1 :])
        return ("rewrite" if read_since else "read"), error

    def _calls_on(self, path: str) -> list[ToolCall]:
        return [
            c
            for c in self.conversation.calls
            if c.file_path and posixpath.normpath(c.file_path) == path
        ]

    def _last_read(self, path: str) -> ToolCall | None:
        reads = [c for c in self._calls_on(path) if c.name == READ and c.result is not None]
        return reads[-1] if reads else None

    def _read_text(self, path: str) -> str | None:
        call = self._last_read(path)
        if call is None or not call.succeeded:
            return None
        return strip_line_numbers(call.result or "")

    def _reads(self, paths: list[str]) -> AssistantReply:
        return AssistantReply.tool_uses(
            [self._tool_use(i, READ, {"file_path": path}) for i, path in enumerate(paths)]
        )

    def _writes(self, deliverable: Deliverable, relatives: list[str]) -> AssistantReply:
        return AssistantReply.tool_uses(
            [
                self._tool_use(
                    i,
                    WRITE,
                    {"file_path": self.absolute(rel), "content": deliverable.files[rel]},
                )
                for i, rel in enumerate(relatives)
            ]
        )

    def _tool_use(self, index: int, name: str, tool_input: dict[str, str]) -> ToolUseBlock:
        """Ids derive from the conversation, so equal requests get byte-equal answers."""
        seed = f"{self.conversation.digest}:{index}:{name}:{tool_input['file_path']}"
        return ToolUseBlock(
            id="toolu_" + hashlib.sha256(seed.encode()).hexdigest()[:24],
            name=name,
            input=tool_input,
        )


class _ChatTurn(_TaskTurn):
    """A chat message's turn: its prompt file, then the site's files, then the changed files."""

    def next_reply(self) -> AssistantReply:
        if not self.working_dir:
            return AssistantReply.text(
                f"I can't tell which directory I'm working in, so I can't open `{self.reference}`."
            )
        prompt_read = self._last_read(self.absolute(self.reference))
        if prompt_read is None:
            return self._reads([self.absolute(self.reference)])
        if not prompt_read.succeeded:
            return AssistantReply.text(
                f"I could not read `{self.reference}`: {_first_line(prompt_read.result)}"
            )
        prompt_text = strip_line_numbers(prompt_read.result or "")
        try:
            chat = parse_chat_prompt(prompt_text, fallback_id=task_id_from_path(self.reference))
        except ChatPromptError as error:
            return AssistantReply.text(f"`{self.reference}` is not a chat message: {error}.")
        scripted = self._scripted(prompt_text)
        if scripted is not None:
            return scripted
        unread = [
            self.absolute(path)
            for path in CHAT_INPUTS
            if self._last_read(self.absolute(path)) is None
        ]
        if unread:
            return self._reads(unread)
        texts = {path: self._read_text(self.absolute(path)) for path in CHAT_INPUTS}
        return self._write_step(chat_deliverable(strip_markers(chat.message).strip(), texts))


def _final_answer(deliverable: Deliverable, failed: dict[str, str]) -> str:
    if not failed:
        return deliverable.answer
    problems = "\n".join(f"- `{path}`: {md(error)}" for path, error in failed.items())
    written = [path for path in deliverable.files if path not in failed]
    done = ", ".join(f"`{path}`" for path in written) or "nothing"
    return f"Some files could not be written:\n\n{problems}\n\nWritten: {done}."


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0][:300] if lines else "(no details)"


def _gist(prompt: str, *, words: int = 8, chars: int = 60) -> str:
    reference = find_prompt_reference(prompt)
    if reference is not None:
        return f"Run task {task_id_from_path(reference)}"[:chars]
    text = " ".join(prompt.split()[:words])[:chars].strip()
    return text[:1].upper() + text[1:] if text else "New session"
