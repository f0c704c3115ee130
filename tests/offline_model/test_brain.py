"""The brain, turn stage by turn stage, and whole turns through the CLI double."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tmux_builder.offline_model.brain import MAX_NOT_READ_RETRIES, decide
from tmux_builder.offline_model.conversation import parse_conversation
from tmux_builder.offline_model.messages_api import (
    AssistantReply,
    MessagesRequest,
    TextBlock,
    ToolUseBlock,
)

from .cli_double import NOT_READ, TOOLS, CliDouble, environment_message, numbered, user_prompt

REQUIREMENTS = "A portfolio website for a photographer named Ada, dark theme."


def prompt_file(task: str, task_id: str, requirements: str = REQUIREMENTS) -> str:
    return (
        f"# Task: {task}\nTask id: {task_id}\nProvider: aws\nSite type: static\n\n"
        f"## Requirements\n{requirements}\n\n## Instructions\n1. Do it.\n"
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "prompts").mkdir()
    for task in ("create_plan", "generate_code", "e2e_tests"):
        (tmp_path / "prompts" / f"{task}-x-a0.txt").write_text(prompt_file(task, f"{task}-x-a0"))
    return tmp_path


def ask(
    workdir: Path,
    *turn: dict,
    prompt: str = "Read prompts/create_plan-x-a0.txt and do what it says.",
) -> AssistantReply:
    messages = [user_prompt(prompt), environment_message(workdir), *turn]
    request = MessagesRequest.model_validate({"messages": messages, "tools": TOOLS})
    return decide(parse_conversation(request))


def tool_uses(reply: AssistantReply) -> list[ToolUseBlock]:
    assert reply.stop_reason == "tool_use"
    return [b for b in reply.content if isinstance(b, ToolUseBlock)]


def text_of(reply: AssistantReply) -> str:
    assert reply.stop_reason == "end_turn"
    (block,) = reply.content
    assert isinstance(block, TextBlock)
    return block.text


def assistant(*uses: ToolUseBlock) -> dict:
    return {"role": "assistant", "content": [u.model_dump() for u in uses]}


def results(*items: tuple[ToolUseBlock, str, bool]) -> dict:
    return {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": u.id, "content": c}
            | ({"is_error": True} if e else {})
            for u, c, e in items
        ],
    }


def test_a_request_without_tools_gets_text():
    request = MessagesRequest.model_validate(
        {"messages": [user_prompt("Build me a tea shop site")]}
    )

    reply = decide(parse_conversation(request))

    assert text_of(reply) == "Build me a tea shop site"


def test_a_title_request_asking_for_json_gets_json():
    request = MessagesRequest.model_validate(
        {
            "messages": [user_prompt("Read prompts/create_plan-x-a0.txt and do what it says.")],
            "output_config": {"format": {"type": "json_schema", "schema": {}}},
        }
    )

    assert json.loads(text_of(decide(parse_conversation(request)))) == {
        "title": "Run task create_plan-x-a0"
    }


def test_a_chat_message_gets_text_and_no_tools(workdir):
    reply = ask(workdir, prompt="Make the header <b>blue</b>")

    answer = text_of(reply)
    assert "offline model" in answer
    assert "\\<b\\>blue\\</b\\>" in answer


def test_first_step_reads_the_prompt_file(workdir):
    (read,) = tool_uses(ask(workdir))

    assert read.name == "Read"
    assert read.input == {"file_path": str(workdir / "prompts/create_plan-x-a0.txt")}


def test_an_absolute_prompt_path_is_used_as_is(workdir):
    path = workdir / "prompts/create_plan-x-a0.txt"

    (read,) = tool_uses(ask(workdir, prompt=f"Read {path} and do what it says."))

    assert read.input == {"file_path": str(path)}


def test_after_the_prompt_a_plan_is_written_with_its_summary(workdir):
    (read,) = tool_uses(ask(workdir))
    prompt_text = (workdir / "prompts/create_plan-x-a0.txt").read_text()

    writes = tool_uses(ask(workdir, assistant(read), results((read, numbered(prompt_text), False))))

    assert [w.name for w in writes] == ["Write", "Write"]
    assert [w.input["file_path"] for w in writes] == [
        str(workdir / "plan.md"),
        str(workdir / "summary-create_plan-x-a0.md"),
    ]
    assert "- **Site name:** Ada" in writes[0].input["content"]


def test_generate_code_reads_the_plan_first(workdir):
    prompt = "Read prompts/generate_code-x-a0.txt and do what it says."
    (read,) = tool_uses(ask(workdir, prompt=prompt))
    text = (workdir / "prompts/generate_code-x-a0.txt").read_text()

    (plan_read,) = tool_uses(
        ask(workdir, assistant(read), results((read, numbered(text), False)), prompt=prompt)
    )

    assert plan_read.name == "Read"
    assert plan_read.input == {"file_path": str(workdir / "plan.md")}


def test_a_missing_plan_does_not_stop_the_code(workdir):
    prompt = "Read prompts/generate_code-x-a0.txt and do what it says."
    (read,) = tool_uses(ask(workdir, prompt=prompt))
    text = (workdir / "prompts/generate_code-x-a0.txt").read_text()
    turn = [assistant(read), results((read, numbered(text), False))]
    (plan_read,) = tool_uses(ask(workdir, *turn, prompt=prompt))
    turn += [assistant(plan_read), results((plan_read, "File does not exist.", True))]

    writes = tool_uses(ask(workdir, *turn, prompt=prompt))

    assert [Path(w.input["file_path"]).relative_to(workdir).as_posix() for w in writes] == [
        "code/index.html",
        "code/styles.css",
        "code/script.js",
        "summary-generate_code-x-a0.md",
    ]


def test_an_unreadable_prompt_file_ends_the_turn_with_the_reason(workdir):
    (read,) = tool_uses(ask(workdir))

    reply = ask(workdir, assistant(read), results((read, "File does not exist.", True)))

    assert "could not read `prompts/create_plan-x-a0.txt`: File does not exist." in text_of(reply)


def test_a_prompt_file_with_an_unknown_task_is_reported(workdir):
    (read,) = tool_uses(ask(workdir))

    reply = ask(workdir, assistant(read), results((read, numbered("# Task: deploy\n"), False)))

    assert "names no task I can do" in text_of(reply)


def test_not_read_errors_are_recovered_by_reading_then_writing_again(workdir):
    (workdir / "plan.md").write_text("an older plan\n")
    cli = CliDouble(workdir, enforce_read_before_write=True)

    answer = cli.run_turn("Read prompts/create_plan-x-a0.txt and do what it says.")

    steps = [[b.name for b in r.content if isinstance(b, ToolUseBlock)] for r in cli.replies]
    assert steps == [["Read"], ["Write", "Write"], ["Read"], ["Write"], []]
    assert answer.startswith("Wrote `plan.md`")
    assert "Ada" in (workdir / "plan.md").read_text()


def test_a_write_that_keeps_failing_is_reported_not_retried_forever(workdir):
    prompt_text = numbered((workdir / "prompts/create_plan-x-a0.txt").read_text())
    turn: list[dict] = []
    plan_writes = 0
    reply = ask(workdir)
    for _ in range(12):
        if reply.stop_reason == "end_turn":
            break
        answered = []
        for use in tool_uses(reply):
            if use.name == "Read":
                answered.append(
                    (use, prompt_text if "prompts" in use.input["file_path"] else "1\told", False)
                )
            elif use.input["file_path"].endswith("plan.md"):
                plan_writes += 1
                answered.append((use, NOT_READ, True))
            else:
                answered.append((use, "File created successfully", False))
        turn += [assistant(*tool_uses(reply)), results(*answered)]
        reply = ask(workdir, *turn)

    answer = text_of(reply)
    assert plan_writes == MAX_NOT_READ_RETRIES + 1
    assert "could not be written" in answer
    assert "`plan.md`: File has not been read yet." in answer


def test_other_write_errors_are_reported_in_the_final_text(workdir):
    (read,) = tool_uses(ask(workdir))
    text = numbered((workdir / "prompts/create_plan-x-a0.txt").read_text())
    turn = [assistant(read), results((read, text, False))]
    writes = tool_uses(ask(workdir, *turn))
    turn += [
        assistant(*writes),
        results((writes[0], "EACCES: permission denied", True), (writes[1], "File created", False)),
    ]

    answer = text_of(ask(workdir, *turn))

    assert "`plan.md`: EACCES: permission denied" in answer
    assert "Written: `summary-create_plan-x-a0.md`" in answer


def test_equal_requests_get_equal_answers(workdir):
    assert ask(workdir) == ask(workdir)
    (first,) = tool_uses(ask(workdir))
    (other,) = tool_uses(
        ask(workdir, prompt="Read prompts/e2e_tests-x-a0.txt and do what it says.")
    )
    assert first.id != other.id


def test_three_tasks_in_one_session_build_plan_site_and_tests(workdir):
    cli = CliDouble(workdir)

    plan = cli.run_turn("Read prompts/create_plan-x-a0.txt and do what it says.")
    code = cli.run_turn("Read prompts/generate_code-x-a0.txt and do what it says.")
    tests = cli.run_turn("Read prompts/e2e_tests-x-a0.txt and do what it says.")

    assert plan.startswith("Wrote `plan.md`: the plan for **Ada — Photography Portfolio**")
    assert code.startswith("Wrote the site for **Ada** in `code/`, following `plan.md`")
    assert tests.startswith("Wrote 8 end-to-end tests for **Ada — Photography Portfolio**")
    assert "<title>Ada — Photography Portfolio</title>" in (workdir / "code/index.html").read_text()
    assert (
        "EXPECTED_TITLE = 'Ada — Photography Portfolio'"
        in (workdir / "e2e/test_site.py").read_text()
    )
    for task in ("create_plan", "generate_code", "e2e_tests"):
        assert (workdir / f"summary-{task}-x-a0.md").read_text().startswith(f"# Summary: {task}")


def test_a_name_changed_in_the_plan_reaches_the_site(workdir):
    cli = CliDouble(workdir)
    cli.run_turn("Read prompts/create_plan-x-a0.txt and do what it says.")
    plan = workdir / "plan.md"
    plan.write_text(plan.read_text().replace("- **Site name:** Ada", "- **Site name:** Ada Lind"))

    cli.run_turn("Read prompts/generate_code-x-a0.txt and do what it says.")

    assert '<h1 id="site-name">Ada Lind</h1>' in (workdir / "code/index.html").read_text()


@pytest.mark.parametrize(
    "refusal",
    [
        NOT_READ,
        "File has been modified since read, either by the user or by a linter. Read it again "
        "before attempting to write it.",
    ],
)
def test_each_read_first_refusal_leads_to_a_read_then_a_rewrite(workdir, refusal):
    (read,) = tool_uses(ask(workdir))
    text = numbered((workdir / "prompts/create_plan-x-a0.txt").read_text())
    turn = [assistant(read), results((read, text, False))]
    plan, summary = tool_uses(ask(workdir, *turn))
    turn += [assistant(plan, summary), results((plan, refusal, True), (summary, "ok", False))]

    (again,) = tool_uses(ask(workdir, *turn))
    turn += [assistant(again), results((again, "1\tedited by hand", False))]
    (rewrite,) = tool_uses(ask(workdir, *turn))

    assert again.name == "Read" and again.input == {"file_path": plan.input["file_path"]}
    assert rewrite.name == "Write" and rewrite.input == plan.input
