"""Parsing the agent's prompt files, tolerantly."""

from __future__ import annotations

import pytest

from tmux_builder.offline_model.prompt_file import (
    PromptFileError,
    find_prompt_reference,
    parse_prompt_file,
    task_id_from_path,
)
from tmux_builder.pipeline import Step

PROMPT = """# Task: e2e_tests
Task id: e2e_tests-0123456789ab_sess_20260101T000000_abcdef-a1
Provider: azure
Site type: static
Site URL: https://d111.cloudfront.net

## Requirements
A tea shop, dark theme.
Name: not a header here

## Instructions
1. Read code/index.html.
2. Write e2e/test_site.py.
"""


def test_version_one_format_is_parsed():
    task = parse_prompt_file(PROMPT)

    assert task.step == Step.E2E_TESTS
    assert task.task_id == "e2e_tests-0123456789ab_sess_20260101T000000_abcdef-a1"
    assert task.provider == "azure"
    assert task.site_type == "static"
    assert task.site_url == "https://d111.cloudfront.net"
    assert task.requirements == "A tea shop, dark theme.\nName: not a header here"
    assert task.instructions.startswith("1. Read code/index.html.")


def test_loose_formatting_is_accepted():
    text = "#  TASK :  **Generate-Code**\n**Task ID:** gen 1/../x\n\n## Requirements:\nA bakery\n"

    task = parse_prompt_file(text)

    assert task.step == Step.GENERATE_CODE
    assert task.task_id == "gen-1-..-x"
    assert task.requirements == "A bakery"
    assert task.provider == "aws"


def test_missing_task_id_falls_back():
    task = parse_prompt_file("# Task: create_plan\n", fallback_task_id="create_plan-x-a0")

    assert task.task_id == "create_plan-x-a0"
    assert task.requirements == ""


@pytest.mark.parametrize("task", ["deploy", "", "make coffee"])
def test_unknown_tasks_are_refused(task):
    with pytest.raises(PromptFileError):
        parse_prompt_file(f"# Task: {task}\n")


@pytest.mark.parametrize(
    ("prompt", "reference"),
    [
        (
            "Read prompts/create_plan-abc-a0.txt and do what it says.",
            "prompts/create_plan-abc-a0.txt",
        ),
        ("Read /srv/w/prompts/x_1.2.txt now", "/srv/w/prompts/x_1.2.txt"),
        ("Read `prompts/a.txt`, then prompts/b.txt", "prompts/b.txt"),
        ("Make the header blue", None),
        ("prompts/../etc.txt", None),
    ],
)
def test_prompt_references_are_found(prompt, reference):
    assert find_prompt_reference(prompt) == reference


def test_task_id_from_path_is_the_stem():
    assert task_id_from_path("prompts/create_plan-abc-a0.txt") == "create_plan-abc-a0"
