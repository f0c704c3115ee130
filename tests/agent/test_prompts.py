"""The prompt files the agent writes are the ones the offline model reads (one format, v1),
and the session's instructions carry the rules and no credential."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import prompts
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


def _site(provider: Provider, site_type: SiteType) -> SiteSpec:
    return SITE.model_copy(update={"provider": provider, "site_type": site_type})


COMBOS = [(provider, site_type) for provider in Provider for site_type in SiteType]


@pytest.mark.parametrize(("provider", "site_type"), COMBOS, ids=lambda v: v.value)
def test_instructions_follow_the_provider_and_site_type(
    provider: Provider, site_type: SiteType
) -> None:
    text = session_instructions(USER, SESSION, _site(provider, site_type))
    assert f"Provider: {provider.value}; site type: {site_type.value}" in text
    for key, value in naming.resource_tags(USER, SESSION, site_type.value).items():
        assert f"- {key}: {value}" in text
    assert SITE.resource_name in text
    assert "Tailwind CSS v3" in text and "never v4" in text
    assert "Never treat localhost as a deployment" in text
    assert "no cloud credentials" in text

    hosting = {
        (Provider.AWS, SiteType.STATIC): "Amazon S3 + CloudFront",
        (Provider.AWS, SiteType.DYNAMIC): "Amazon EC2",
        (Provider.AZURE, SiteType.STATIC): "Azure Blob Storage (static website) + Azure CDN",
        (Provider.AZURE, SiteType.DYNAMIC): "Azure virtual machine",
    }[(provider, site_type)]
    assert hosting in text

    if provider is Provider.AZURE:
        assert "3-24 lowercase letters and digits (no hyphens)" in text
        assert "S3 bucket" not in text and "`aws`" not in text
    else:
        assert "3-63 lowercase letters, digits and hyphens" in text
        assert "Azure" not in text and "`azure`" not in text

    if site_type is SiteType.STATIC:
        assert "`code/dist/`" in text and "`static-site-packager`" in text
        assert prompts.DYNAMIC_HEALTH_PATH not in text and "dynamic-app-packager" not in text
    else:
        assert f"`{prompts.DYNAMIC_START_COMMAND}`" in text
        assert f"`GET {prompts.DYNAMIC_HEALTH_PATH}` answers 200" in text
        assert f"`{prompts.DYNAMIC_PORT_ENV}` environment variable" in text
        assert "`dynamic-app-packager`" in text and "static-site-packager" not in text
    assert "run_in_background: false" in text


@pytest.mark.parametrize(("provider", "site_type"), COMBOS, ids=lambda v: v.value)
def test_instructions_name_the_skills_and_agents_the_session_gets(
    provider: Provider, site_type: SiteType
) -> None:
    text = session_instructions(USER, SESSION, _site(provider, site_type))
    for item in prompts.SESSION_CONTENT:
        named = f"`{item.name}`" in text
        assert named == item.applies_to(provider, site_type), item.path


@pytest.mark.parametrize("site_type", list(SiteType), ids=lambda v: v.value)
def test_the_code_task_asks_for_what_the_site_type_deploys(site_type: SiteType) -> None:
    text = task_prompt(Step.GENERATE_CODE, "t-a0", _site(Provider.AWS, site_type), REQUIREMENTS)
    parsed = parse_prompt_file(text)
    assert parsed.step is Step.GENERATE_CODE and parsed.site_type == site_type.value
    assert parsed.requirements == REQUIREMENTS
    assert "summary-t-a0.md" in text and "Do not deploy" in text
    if site_type is SiteType.DYNAMIC:
        assert f"`{prompts.DYNAMIC_START_COMMAND}`" in text
        assert f"`GET {prompts.DYNAMIC_HEALTH_PATH}` answering 200" in text
    else:
        assert "`code/dist/`" in text and prompts.DYNAMIC_HEALTH_PATH not in text
