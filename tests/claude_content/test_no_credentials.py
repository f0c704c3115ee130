"""No credential, profile or account id in anything the AI reads, and nothing that tells it to
deploy or to use a cloud CLI: the platform deploys with credentials the AI never sees."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.prompts import session_instructions, task_prompt
from tests.claude_content.content import (
    COMBOS,
    CONTENT_DIR,
    CREDENTIAL_PATTERNS,
    SESSION,
    USER,
    content_files,
    site,
)
from tmux_builder.contracts import Provider, SiteType
from tmux_builder.pipeline import AI_STEPS

CONTENT = sorted(p for p in CONTENT_DIR.rglob("*") if p.is_file())
# Commands that would mean the AI deploys or reaches the cloud itself.
CLOUD_COMMANDS = re.compile(
    r"^\s*(?:\$\s*)?(?:aws|az|azcopy|gcloud|terraform|sam|cdk)\s+\S", re.MULTILINE
)


def _leaks(text: str) -> list[str]:
    return [label for label, pattern in CREDENTIAL_PATTERNS.items() if pattern.search(text)]


@pytest.mark.parametrize("path", CONTENT, ids=lambda p: p.relative_to(CONTENT_DIR).as_posix())
def test_no_credentials_in_dot_claude(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert _leaks(text) == []
    assert not CLOUD_COMMANDS.search(text), CLOUD_COMMANDS.search(text)


@pytest.mark.parametrize(("provider", "site_type"), COMBOS, ids=lambda v: v.value)
def test_no_credentials_in_the_session_prompts(provider: Provider, site_type: SiteType) -> None:
    spec = site(provider, site_type)
    texts = [session_instructions(USER, SESSION, spec)]
    for step in AI_STEPS:
        texts.append(task_prompt(step, f"{step.value}-x-a0", spec, "A tea shop", "https://x"))
    for text in texts:
        assert _leaks(text) == []
        assert not CLOUD_COMMANDS.search(text)


@pytest.mark.parametrize(
    ("label", "sample"),
    [
        ("AWS access key id", "key " + "AKIA" + "ABCDEFGHIJKLMNOP here"),
        ("AWS access key id", "ASIAABCDEFGHIJKLMNOP"),
        ("named CLI profile", "aws s3 ls --profile admin"),
        ("aws configure", "run aws configure first"),
        ("12-digit account id", "arn:aws:iam::123456789012:role/x"),
        ("old account names", "the SunwareTech profile"),
        ("old account names", "CoCreate account"),
        ("storage connection string", "DefaultEndpointsProtocol=https;AccountName=a"),
    ],
)
def test_the_patterns_catch_what_the_replaced_system_wrote(label: str, sample: str) -> None:
    assert label in _leaks(sample)


def test_deployers_hosting_skills_and_core_say_the_ai_never_deploys() -> None:
    """They are about deploying; each says in so many words that the AI does not deploy."""
    for item in content_files():
        name = item.frontmatter["name"]
        if name.endswith("-packager") or name in ("aws", "azure", "core"):
            assert "never deploy" in " ".join(item.body.lower().split()), item.rel
