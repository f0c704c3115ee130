"""A session folder gets the skills and subagents of its (provider, site type), byte for byte
as in the repository, and only those; switching sites swaps them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent import prompts
from agent.prompts import session_content
from agent.session_setup import install_content, prepare_workspace
from agent.workspace import Workspace
from tests.claude_content.content import CONTENT_DIR, SESSION, USER, site
from tmux_builder.contracts import Provider, SiteType

COMMON_SKILLS = {"core", "frontend", "testing"}
COMMON_AGENTS = {
    "testers/e2e-test-writer",
    "testers/accessibility-reviewer",
    "utilities/requirements-analyst",
    "utilities/content-writer",
}
EXPECTED = {
    (Provider.AWS, SiteType.STATIC): ({"aws"}, {"deployers/static-site-packager"}),
    (Provider.AWS, SiteType.DYNAMIC): ({"aws"}, {"deployers/dynamic-app-packager"}),
    (Provider.AZURE, SiteType.STATIC): ({"azure"}, {"deployers/static-site-packager"}),
    (Provider.AZURE, SiteType.DYNAMIC): ({"azure"}, {"deployers/dynamic-app-packager"}),
}
OTHER_SESSION = "sess_20261122T080000_d4e5f6"


def _installed(ws: Workspace) -> tuple[set[str], set[str]]:
    root = ws.dir / ".claude"
    skills = {p.name for p in (root / "skills").iterdir()}
    agents = {
        p.relative_to(root / "agents").with_suffix("").as_posix()
        for p in (root / "agents").rglob("*.md")
    }
    return skills, agents


@pytest.mark.parametrize(("provider", "site_type"), list(EXPECTED), ids=lambda v: v.value)
def test_each_kind_of_site_gets_its_own_skills_and_agents(
    tmp_path: Path, provider: Provider, site_type: SiteType
) -> None:
    ws = prepare_workspace(Workspace(tmp_path, USER), SESSION, site(provider, site_type))
    skills, agents = EXPECTED[(provider, site_type)]
    assert _installed(ws) == (COMMON_SKILLS | skills, COMMON_AGENTS | agents)
    for item in session_content(provider, site_type):
        source = CONTENT_DIR / item.path
        sources = [p for p in source.rglob("*") if p.is_file()] if source.is_dir() else [source]
        for path in sources:
            copy = ws.dir / ".claude" / path.relative_to(CONTENT_DIR)
            assert copy.read_bytes() == path.read_bytes(), copy
    assert not (ws.dir / ".claude" / "README.md").exists(), "the README is for maintainers"


def test_aws_static_gets_no_azure_and_no_dynamic_content(tmp_path: Path) -> None:
    ws = prepare_workspace(Workspace(tmp_path, USER), SESSION, site(Provider.AWS, SiteType.STATIC))
    root = ws.dir / ".claude"
    files = "\n".join(p.relative_to(root).as_posix() for p in root.rglob("*"))
    assert "azure" not in files and "dynamic-app-packager" not in files
    claude_md = ws.claude_md_path.read_text()
    assert "Azure" not in claude_md and "/healthz" not in claude_md


def test_azure_dynamic_gets_the_dynamic_packager_and_the_azure_skill(tmp_path: Path) -> None:
    ws = prepare_workspace(
        Workspace(tmp_path, USER), SESSION, site(Provider.AZURE, SiteType.DYNAMIC)
    )
    root = ws.dir / ".claude"
    assert (root / "agents" / "deployers" / "dynamic-app-packager.md").is_file()
    assert (root / "skills" / "azure" / "SKILL.md").is_file()
    assert not (root / "skills" / "aws").exists()
    assert not (root / "agents" / "deployers" / "static-site-packager.md").exists()


def test_a_new_site_in_the_same_folder_swaps_content_and_instructions(tmp_path: Path) -> None:
    ws = prepare_workspace(Workspace(tmp_path, USER), SESSION, site(Provider.AWS, SiteType.STATIC))
    # The engine's settings live next to the managed folders and are left alone.
    ws.project_settings_path.write_text('{"permissions": {}}')
    ws.claude_md_path.write_text("edited during the first session")

    prepare_workspace(
        Workspace(tmp_path, USER), OTHER_SESSION, site(Provider.AZURE, SiteType.DYNAMIC)
    )

    skills, agents = _installed(ws)
    assert "azure" in skills and "aws" not in skills
    assert "deployers/dynamic-app-packager" in agents
    assert "deployers/static-site-packager" not in agents
    claude_md = ws.claude_md_path.read_text()
    assert OTHER_SESSION in claude_md and "site type: dynamic" in claude_md
    assert ws.project_settings_path.read_text() == '{"permissions": {}}'


def test_a_retried_step_keeps_edits_to_the_instructions_but_repairs_content(
    tmp_path: Path,
) -> None:
    spec = site(Provider.AWS, SiteType.STATIC)
    ws = prepare_workspace(Workspace(tmp_path, USER), SESSION, spec)
    ws.claude_md_path.write_text("edited by the session")
    (ws.dir / ".claude" / "skills" / "core" / "SKILL.md").unlink()
    stray = ws.dir / ".claude" / "skills" / "azure" / "SKILL.md"
    stray.parent.mkdir()
    stray.write_text("---\nname: azure\ndescription: left over\n---\nx\n")

    prepare_workspace(Workspace(tmp_path, USER), SESSION, spec)

    assert ws.claude_md_path.read_text() == "edited by the session"
    assert (ws.dir / ".claude" / "skills" / "core" / "SKILL.md").is_file()
    assert not stray.parent.exists()


def test_unchanged_content_is_not_rewritten(tmp_path: Path) -> None:
    spec = site(Provider.AZURE, SiteType.STATIC)
    ws = prepare_workspace(Workspace(tmp_path, USER), SESSION, spec)
    core = ws.dir / ".claude" / "skills" / "core" / "SKILL.md"
    before = core.stat().st_mtime_ns
    prepare_workspace(Workspace(tmp_path, USER), SESSION, spec)
    assert core.stat().st_mtime_ns == before


def test_items_missing_from_a_partial_checkout_are_skipped(tmp_path: Path) -> None:
    content = tmp_path / "content"
    (content / "skills" / "core").mkdir(parents=True)
    (content / "skills" / "core" / "SKILL.md").write_text("---\nname: core\n---\n")
    session_dir = tmp_path / "session"
    installed = install_content(session_dir, site(Provider.AWS, SiteType.STATIC), content)
    assert [item.name for item in installed] == ["core"]
    assert sorted(p.name for p in (session_dir / ".claude").rglob("*")) == [
        "SKILL.md",
        "core",
        "skills",
    ]


def test_the_instructions_marker_holds_no_secret(tmp_path: Path) -> None:
    ws = prepare_workspace(Workspace(tmp_path, USER), SESSION, site(Provider.AWS, SiteType.DYNAMIC))
    marker = json.loads((ws.dir / ".claude" / "tmux-builder-instructions.json").read_text())
    assert marker == {"session_id": SESSION, "provider": "aws", "site_type": "dynamic"}


@pytest.mark.parametrize(
    "rel",
    ["agents/deployers/dynamic-app-packager.md", "skills/aws/SKILL.md", "skills/azure/SKILL.md"],
)
def test_the_dynamic_contract_is_stated_as_the_code_defines_it(rel: str) -> None:
    text = " ".join((CONTENT_DIR / rel).read_text().split())
    assert f"`{prompts.DYNAMIC_START_COMMAND}`" in text
    assert f"`{prompts.DYNAMIC_PORT_ENV}`" in text or f"env.{prompts.DYNAMIC_PORT_ENV}" in text
    assert f"({prompts.DYNAMIC_DEFAULT_PORT} when unset)" in text
    assert f"`GET {prompts.DYNAMIC_HEALTH_PATH}`" in text
    # No other health route or port slips in.
    assert set(re.findall(r"GET (/\w+)", text)) <= {prompts.DYNAMIC_HEALTH_PATH}
