"""Reading Claude Code's requests: working directory, last prompt, this turn's tool calls."""

from __future__ import annotations

from tmux_builder.offline_model.conversation import (
    find_working_dir,
    parse_conversation,
    strip_line_numbers,
    tool_result_text,
)
from tmux_builder.offline_model.messages_api import MessagesRequest

from .cli_double import REMINDER, TOOLS, environment_message, user_prompt

# Trimmed from a real 2.1.329 request: the working directory is in a role "system" message
# after the first prompt; a later prompt arrives as a plain string.
REAL_SHAPE = {
    "model": "claude-opus-5-5",
    "system": [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.329.5e8;"},
        {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
    ],
    "tools": TOOLS,
    "stream": True,
    "thinking": {"type": "adaptive", "display": "updates"},
    "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    "messages": [
        user_prompt("Please write the hello file\nsecond line of prompt"),
        environment_message("/tmp/ccprobe/work"),
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "Write",
                    "input": {"file_path": "/tmp/ccprobe/work/hello.txt", "content": "hi\n"},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "tool_use_id": "toolu_1",
                    "type": "tool_result",
                    "content": "File created successfully at: /tmp/ccprobe/work/hello.txt",
                }
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "Done."}]},
        {"role": "user", "content": "Write it again"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_2", "name": "Read", "input": {"file_path": "/a"}},
                {
                    "type": "tool_use",
                    "id": "toolu_3",
                    "name": "Write",
                    "input": {"file_path": "/b"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "1\tx\n2\t"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_3",
                    "content": [{"type": "text", "text": "File has not been read yet."}],
                    "is_error": True,
                    "cache_control": {"type": "ephemeral"},
                },
            ],
        },
    ],
}


def test_real_request_shape_is_understood():
    conversation = parse_conversation(MessagesRequest.model_validate(REAL_SHAPE))

    assert conversation.working_dir == "/tmp/ccprobe/work"
    assert conversation.prompt == "Write it again"
    assert conversation.has_tools
    # Only the calls after the last prompt belong to this turn.
    assert [(c.id, c.name) for c in conversation.calls] == [
        ("toolu_2", "Read"),
        ("toolu_3", "Write"),
    ]
    read, write = conversation.calls
    assert read.succeeded and read.result == "1\tx\n2\t"
    assert not write.succeeded and write.is_error
    assert write.result == "File has not been read yet."
    assert write.file_path == "/b"


def test_list_prompt_skips_system_reminders():
    request = MessagesRequest.model_validate(
        {"messages": [user_prompt("Build it")], "tools": TOOLS}
    )

    assert parse_conversation(request).prompt == "Build it"


def test_a_message_of_only_reminders_is_not_a_prompt():
    request = MessagesRequest.model_validate(
        {
            "messages": [
                user_prompt("first"),
                {"role": "user", "content": [{"type": "text", "text": REMINDER}]},
            ]
        }
    )

    assert parse_conversation(request).prompt == "first"


def test_inline_reminder_inside_a_string_prompt_is_removed():
    request = MessagesRequest.model_validate(
        {"messages": [{"role": "user", "content": f"{REMINDER}Read prompts/a.txt please"}]}
    )

    assert parse_conversation(request).prompt == "Read prompts/a.txt please"


def test_working_dir_in_top_level_system_prompt_is_found():
    request = MessagesRequest.model_validate(
        {
            "system": "<env>\nPrimary working directory: /srv/site one\n</env>",
            "messages": [user_prompt("hi")],
        }
    )

    assert find_working_dir(request) == "/srv/site one"


def test_no_working_dir_gives_none():
    request = MessagesRequest.model_validate({"messages": [user_prompt("hi")]})

    assert find_working_dir(request) is None


def test_tool_result_text_handles_strings_lists_and_reminders():
    assert tool_result_text("plain") == "plain"
    assert (
        tool_result_text([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]) == "a\nb"
    )
    assert tool_result_text(f"1\tx{REMINDER}") == "1\tx"
    assert tool_result_text(None) == ""


def test_strip_line_numbers_recovers_the_file():
    assert strip_line_numbers("1\tnew y\n2\t") == "new y\n"
    assert strip_line_numbers("1\tline one\n2\t\tindented two\n3\tthree") == (
        "line one\n\tindented two\nthree"
    )
    assert strip_line_numbers("     1\u2192old style\n     2\u2192arrow") == "old style\narrow"
    assert strip_line_numbers("    10\tpadded cat -n") == "padded cat -n"


def test_strip_line_numbers_leaves_unnumbered_text_alone():
    assert strip_line_numbers("no numbers here") == "no numbers here"


def test_json_is_wanted_when_the_output_format_is_a_schema():
    request = MessagesRequest.model_validate(
        {
            "messages": [user_prompt("hi")],
            "output_config": {"format": {"type": "json_schema", "schema": {}}},
        }
    )

    assert parse_conversation(request).wants_json


def test_unknown_fields_are_accepted():
    request = MessagesRequest.model_validate(REAL_SHAPE | {"some_future_field": {"x": 1}})

    assert request.stream is True


def test_a_reminder_between_lines_keeps_them_apart():
    request = MessagesRequest.model_validate(
        {"messages": [{"role": "user", "content": f"Hello\n{REMINDER}World"}]}
    )

    assert parse_conversation(request).prompt == "Hello\nWorld"


def test_text_beside_tool_results_does_not_start_a_new_turn():
    request = MessagesRequest.model_validate(
        {
            "messages": [
                user_prompt("Read prompts/a.txt and do what it says."),
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": "t1",
                            "name": "Read",
                            "input": {"file_path": "/w/a"},
                        }
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "t1", "content": "1\tx"},
                        {"type": "text", "text": "PostToolUse hook says: looks fine"},
                    ],
                },
            ]
        }
    )

    conversation = parse_conversation(request)

    assert conversation.prompt == "Read prompts/a.txt and do what it says."
    assert [c.id for c in conversation.calls] == ["t1"]
