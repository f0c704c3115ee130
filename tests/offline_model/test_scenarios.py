"""The offline model's scripted hard cases: marker parsing and the brain's answers, turn by turn.

The real CLI's side of these cases (its dialog, hooks and keys) is in
``tests/agent/test_engine_hard_cases.py``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tmux_builder.offline_model.brain import decide
from tmux_builder.offline_model.conversation import parse_conversation
from tmux_builder.offline_model.messages_api import (
    AssistantReply,
    MessagesRequest,
    TextBlock,
    ToolUseBlock,
)
from tmux_builder.offline_model.scenarios import (
    DEFAULT_SLOW_SECONDS,
    MAX_DELAY_SECONDS,
    PERMISSION_URL,
    TOOL_ERROR_COMMAND,
    Scenario,
    parse_scenario,
    strip_markers,
)

from .cli_double import CliDouble, environment_message, numbered, user_prompt

TOOLS = [
    {"name": name, "input_schema": {}} for name in ("Read", "Write", "Edit", "Bash", "WebFetch")
]
REQUIREMENTS = "A one-page site for a bakery called Crumb: opening hours and a contact form."
DENIED = "The agent does not grant this permission; do the task without this tool."


def prompt_file(task: str, task_id: str, *markers: str) -> str:
    lines = "\n".join(markers)
    return (
        f"# Task: {task}\nTask id: {task_id}\nProvider: aws\nSite type: static\n\n"
        f"## Requirements\n{REQUIREMENTS}\n{lines}\n\n## Instructions\n1. Do it.\n"
    )


def chat_file(message: str) -> str:
    quoted = "\n".join(f"> {line}" for line in message.splitlines())
    return f"# Chat\nMessage id: m1\nSession: s1\n\n## Message\n{quoted}\n\n## Instructions\n1.\n"


class HardCasesCli(CliDouble):
    """The CLI double, plus Bash (run for real in the folder) and WebFetch (denied or granted)."""

    def __init__(self, workdir: Path, *, grant: bool = False) -> None:
        super().__init__(workdir)
        self.grant = grant
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _run(self, block: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((block["name"], block["input"]))
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": block["id"]}
        if block["name"] == "Bash":
            done = subprocess.run(
                block["input"]["command"],
                shell=True,
                cwd=self.workdir,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode:
                text = f"Exit code {done.returncode}\n{done.stderr.strip()}"
                return result | {"content": text, "is_error": True}
            return result | {"content": done.stdout}
        if block["name"] == "WebFetch":
            if self.grant:
                return result | {"content": "Example Domain: a page for examples."}
            return result | {"content": DENIED, "is_error": True}
        return super()._run(block)

    def request(self, **extra: Any) -> MessagesRequest:
        return super().request(tools=TOOLS, **extra)


def tool_names(cli: HardCasesCli) -> list[str]:
    return [name for name, _ in cli.calls]


def text_of(reply: AssistantReply) -> str:
    (block,) = reply.content
    assert isinstance(block, TextBlock)
    return block.text


# -- markers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[offline-model: slow 4s]", Scenario(delay_seconds=4)),
        ("[offline-model: slow 4]", Scenario(delay_seconds=4)),
        ("> [ Offline-Model :  SLOW 1.5 s ]", Scenario(delay_seconds=1.5)),
        ("[offline-model: slow]", Scenario(delay_seconds=DEFAULT_SLOW_SECONDS)),
        ("[offline-model: slow 999s]", Scenario(delay_seconds=MAX_DELAY_SECONDS)),
        ("[offline-model: tool-error]", Scenario(tool_error=True)),
        ("x [offline-model: permission] y", Scenario(permission=True)),
        (
            "[offline-model: slow 2s]\n[offline-model: tool-error][offline-model: permission]",
            Scenario(delay_seconds=2, tool_error=True, permission=True),
        ),
        ("[offline-model: slowly]\n[offline-model: crash]\n[offline-model slow 3s]", Scenario()),
        ("make it slow, with a tool error and a permission prompt", Scenario()),
        ("", Scenario()),
    ],
)
def test_markers_parse(text: str, expected: Scenario) -> None:
    assert parse_scenario(text) == expected


def test_markers_are_cut_out_and_marker_only_lines_go() -> None:
    text = (
        "Crumb bakery\n> [offline-model: slow 4s]\n[offline-model: permission]  \n"
        "A [offline-model: tool-error]site\n"
    )

    assert strip_markers(text) == "Crumb bakery\nA site\n"


# -- slow ----------------------------------------------------------------------------------


def ask(workdir: Path, prompt: str, *turn: dict[str, Any], tools: bool = True) -> tuple:
    messages = [user_prompt(prompt), environment_message(workdir), *turn]
    request = MessagesRequest.model_validate(
        {"messages": messages} | ({"tools": TOOLS} if tools else {})
    )
    delays: list[float] = []
    reply = decide(parse_conversation(request), sleep=delays.append)
    return reply, delays


def test_slow_delays_every_answer_once_the_prompt_file_is_read(tmp_path: Path) -> None:
    prompt = "Read prompts/create_plan-x-a0.txt and do what it says."
    text = prompt_file("create_plan", "create_plan-x-a0", "[offline-model: slow 4s]")

    first, before = ask(tmp_path, prompt)
    (read,) = first.content
    assert isinstance(read, ToolUseBlock) and before == []

    turn = [
        {"role": "assistant", "content": [read.model_dump()]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": read.id, "content": numbered(text)}],
        },
    ]
    second, after = ask(tmp_path, prompt, *turn)
    assert after == [4.0]
    assert second.stop_reason == "tool_use"
    # A side request of the same conversation (a title) is never late.
    _, side = ask(tmp_path, prompt, *turn, tools=False)
    assert side == []


def test_slow_in_a_typed_message_delays_its_answer(tmp_path: Path) -> None:
    reply, delays = ask(tmp_path, "hello [offline-model: slow 0.5s]")

    assert delays == [0.5]
    assert "offline-model" not in text_of(reply)


def test_a_normal_turn_is_never_late(tmp_path: Path) -> None:
    _, delays = ask(tmp_path, "Read prompts/create_plan-x-a0.txt and do what it says.")

    assert delays == []


# -- tool error and permission, whole turns -----------------------------------------------


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "prompts").mkdir()
    return tmp_path


def test_tool_error_then_recovery(workdir: Path) -> None:
    (workdir / "prompts/create_plan-x-a0.txt").write_text(
        prompt_file("create_plan", "create_plan-x-a0", "[offline-model: tool-error]")
    )
    cli = HardCasesCli(workdir)

    answer = cli.run_turn("Read prompts/create_plan-x-a0.txt and do what it says.")

    assert tool_names(cli) == ["Read", "Bash", "Write", "Write"]
    assert cli.calls[1][1]["command"] == TOOL_ERROR_COMMAND
    assert answer.startswith("Wrote `plan.md`")
    assert "Recovered from a tool error" in answer and "Exit code 1" in answer
    plan = (workdir / "plan.md").read_text()
    assert "Crumb" in plan and "offline-model" not in plan


def test_permission_denied_then_the_task_without_it(workdir: Path) -> None:
    (workdir / "prompts/generate_code-x-a0.txt").write_text(
        prompt_file(
            "generate_code",
            "generate_code-x-a0",
            "[offline-model: permission]",
            "[offline-model: tool-error]",
        )
    )
    cli = HardCasesCli(workdir)

    answer = cli.run_turn("Read prompts/generate_code-x-a0.txt and do what it says.")

    # The tool error comes first, then the permission ask, then the task as usual.
    assert tool_names(cli)[:4] == ["Read", "Bash", "WebFetch", "Read"]
    assert cli.calls[2][1]["url"] == PERMISSION_URL
    assert (workdir / "code/index.html").is_file()
    assert "offline-model" not in (workdir / "code/index.html").read_text()
    assert f"asked for permission to use WebFetch on {PERMISSION_URL}; it was denied" in answer
    assert "Recovered from a tool error" in answer


def test_permission_granted_is_said_too(workdir: Path) -> None:
    (workdir / "prompts/create_plan-x-a0.txt").write_text(
        prompt_file("create_plan", "create_plan-x-a0", "[offline-model: permission]")
    )
    cli = HardCasesCli(workdir, grant=True)

    answer = cli.run_turn("Read prompts/create_plan-x-a0.txt and do what it says.")

    assert tool_names(cli) == ["Read", "WebFetch", "Write", "Write"]
    assert f"I was allowed to use WebFetch on {PERMISSION_URL}." in answer


def test_a_chat_message_with_a_marker_still_changes_the_site(workdir: Path) -> None:
    (workdir / "prompts/generate_code-x-a0.txt").write_text(
        prompt_file("generate_code", "generate_code-x-a0")
    )
    cli = HardCasesCli(workdir)
    cli.run_turn("Read prompts/generate_code-x-a0.txt and do what it says.")
    (workdir / "prompts/chat-m1.txt").write_text(
        chat_file("Make the background blue\n[offline-model: tool-error]")
    )
    cli.calls.clear()

    answer = cli.run_turn("Read prompts/chat-m1.txt and do what it says.")

    assert tool_names(cli)[:2] == ["Read", "Bash"]
    assert "Write" in tool_names(cli)
    assert "Recovered from a tool error" in answer
    assert "offline-model" not in (workdir / "code/index.html").read_text()


def test_typed_message_with_permission_marker(workdir: Path) -> None:
    cli = HardCasesCli(workdir)

    answer = cli.run_turn("what can you do? [offline-model: permission]")

    assert tool_names(cli) == ["WebFetch"]
    assert "it was denied" in answer and "offline-model" not in answer.split("\n\n")[0]


def test_scripted_answers_are_deterministic(workdir: Path) -> None:
    (workdir / "prompts/create_plan-x-a0.txt").write_text(
        prompt_file("create_plan", "create_plan-x-a0", "[offline-model: tool-error]")
    )
    first, second = HardCasesCli(workdir), HardCasesCli(workdir)

    assert first.run_turn("Read prompts/create_plan-x-a0.txt and do what it says.") == (
        second.run_turn("Read prompts/create_plan-x-a0.txt and do what it says.")
    )
    assert [r.model_dump() for r in first.replies[:2]] == [
        r.model_dump() for r in second.replies[:2]
    ]
