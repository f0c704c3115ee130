"""The prompt files the agent writes are the ones the offline model reads (one format, v1),
and the session's instructions carry the rules and no credential."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.prompts import session_instructions, task_prompt
from agent.session_setup import prepare_workspace
from agent.workspace import Workspace
from tmux_builder import naming
from tmux_builder.contracts import Provider, SiteSpec, SiteType
from tmux_builder.offline_model.prompt_file import find_prompt_reference, parse_prompt_file
from tmux_builder.pipeline import AI_STEPS, Step

USER = "0123456789abcdef0123456789abcdef"
SESSION = "sess_20261121T073000_a1b2c3"
SITE = SiteSpec(
    provider=Provider.AWS,
    site_type=SiteType.STATIC,
    slug="tea-shop-a1b2c3",
    resource_name=naming.resource_name(USER, "tea-shop-a1b2c3"),
)
REQUIREMENTS = (
    'A tea shop site with a dark theme.\nQuotes "like this", <b>tags</b> and `backticks`.'
)


@pytest.mark.parametrize("step", sorted(AI_STEPS))
def test_the_offline_model_reads_what_the_agent_writes(step: Step) -> None:
    url = "http://127.0.0.1:9000" if step is Step.E2E_TESTS else None
    text = task_prompt(step, f"{step.value}-x-a0", SITE, REQUIREMENTS, site_url=url)
    parsed = parse_prompt_file(text)
    assert parsed.step is step
    assert parsed.task_id == f"{step.value}-x-a0"
    assert parsed.provider == "aws"
    assert parsed.site_type == "static"
    assert parsed.requirements == REQUIREMENTS
    assert parsed.site_url == (url or "")


def test_the_pasted_line_names_the_prompt_file() -> None:
    line = "Read prompts/create_plan-abc_sess-a0.txt and do what it says."
    assert find_prompt_reference(line) == "prompts/create_plan-abc_sess-a0.txt"


def test_only_ai_steps_have_prompts() -> None:
    with pytest.raises(ValueError):
        task_prompt(Step.DEPLOY, "t", SITE, REQUIREMENTS)


def test_instructions_carry_the_rules_and_no_credentials(tmp_path: Path) -> None:
    text = session_instructions(USER, SESSION, SITE)
    assert SITE.resource_name in text
    assert "Tailwind CSS v3" in text
    assert "localhost" in text
    for tag in naming.resource_tags(USER, SESSION, "static"):
        assert tag in text
    for secret_word in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET",
        "aws_secret",
        "--profile",
        "ANTHROPIC_API_KEY",
    ):
        assert secret_word not in text

    ws = prepare_workspace(Workspace(tmp_path, USER), SESSION, SITE)
    assert ws.claude_md_path.read_text() == text
    assert (ws.dir / ".claude" / "skills" / "core" / "SKILL.md").is_file()
    assert (ws.dir / ".claude" / "skills" / "frontend" / "SKILL.md").is_file()
    # A second preparation keeps the session's instructions as they were.
    ws.claude_md_path.write_text("edited by the session")
    prepare_workspace(Workspace(tmp_path, USER), SESSION, SITE)
    assert ws.claude_md_path.read_text() == "edited by the session"
