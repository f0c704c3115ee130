"""An in-process stand-in for Claude Code's tool loop, for fast tests of the offline model.

It builds requests shaped like the ones Claude Code 2.1.329 sends (a ``role: "system"`` message
carrying the working directory, ``<system-reminder>`` blocks before the prompt, ``cat -n``
style Read results) and runs Read and Write on a real directory, including the CLI's rule that
an existing file must be Read before it is overwritten. The real CLI is exercised in
``test_real_claude_cli.py``; this double keeps the many edge cases fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tmux_builder.offline_model.brain import decide
from tmux_builder.offline_model.conversation import parse_conversation
from tmux_builder.offline_model.messages_api import AssistantReply, MessagesRequest

REMINDER = "<system-reminder>\nAttribution for git commits: add a trailer.\n</system-reminder>\n"
NOT_READ = "File has not been read yet. Read it first before writing to it."
TOOLS = [{"name": "Read", "input_schema": {}}, {"name": "Write", "input_schema": {}}]


def environment_message(workdir: Path | str) -> dict[str, Any]:
    return {
        "role": "system",
        "content": "# Environment\nYou have been invoked in the following environment: \n"
        f" - Primary working directory: {workdir}\n - Is a git repository: false\n"
        " - Platform: linux\n",
    }


def user_prompt(text: str) -> dict[str, Any]:
    return {
        "role": "user",
        "content": [{"type": "text", "text": REMINDER}, {"type": "text", "text": text}],
    }


def numbered(text: str) -> str:
    """A Read result the way 2.1.329 prints it: ``N<tab>line``."""
    return "\n".join(f"{n}\t{line}" for n, line in enumerate(text.split("\n"), start=1))


class CliDouble:
    """Drives turns against :func:`decide`, executing its tool calls on ``workdir``."""

    def __init__(self, workdir: Path, *, enforce_read_before_write: bool = True) -> None:
        self.workdir = workdir
        self.enforce = enforce_read_before_write
        self.messages: list[dict[str, Any]] = []
        self.known: set[str] = set()
        self.replies: list[AssistantReply] = []

    def request(self, **extra: Any) -> MessagesRequest:
        return MessagesRequest.model_validate(
            {"model": "claude-opus-5-5", "messages": self.messages, "tools": TOOLS}
            | {"stream": True}
            | extra
        )

    def run_turn(self, prompt: str, max_steps: int = 12) -> str:
        self.messages.append(user_prompt(prompt))
        if len(self.messages) == 1:
            self.messages.append(environment_message(self.workdir))
        for _ in range(max_steps):
            reply = decide(parse_conversation(self.request()))
            self.replies.append(reply)
            self.messages.append(
                {"role": "assistant", "content": [b.model_dump() for b in reply.content]}
            )
            if reply.stop_reason == "end_turn":
                return reply.content[0].text  # type: ignore[union-attr]
            results = [self._run(block.model_dump()) for block in reply.content]
            self.messages.append({"role": "user", "content": results})
        raise AssertionError(f"no end_turn within {max_steps} steps")

    def _run(self, block: dict[str, Any]) -> dict[str, Any]:
        path = Path(block["input"]["file_path"])
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": block["id"]}
        if block["name"] == "Read":
            if not path.is_file():
                note = (
                    f"File does not exist. Note: your current working directory is {self.workdir}."
                )
                return result | {"content": note, "is_error": True}
            self.known.add(str(path))
            return result | {"content": numbered(path.read_text())}
        if block["name"] == "Write":
            existed = path.exists()
            if self.enforce and existed and str(path) not in self.known:
                return result | {
                    "content": f"<tool_use_error>{NOT_READ}</tool_use_error>",
                    "is_error": True,
                }
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block["input"]["content"])
            self.known.add(str(path))
            verb = "has been updated successfully" if existed else "created successfully"
            return result | {"content": f"The file {path} {verb}."}
        return result | {"content": f"unknown tool {block['name']}", "is_error": True}
