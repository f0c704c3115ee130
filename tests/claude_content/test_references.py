"""Every file a skill, an agent, the README or a session's CLAUDE.md points to exists: in the
repository, and in each session folder after assembly for its (provider, site type)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.prompts import SESSION_CONTENT, session_instructions
from agent.session_setup import prepare_workspace
from agent.workspace import Workspace
from tests.claude_content.content import (
    BACKTICKED_RE,
    COMBOS,
    CONTENT_DIR,
    CONTENT_PATH_RE,
    NAMED_ITEM_RE,
    ROOT,
    SESSION,
    USER,
    all_names,
    local_references,
    site,
)
from tmux_builder.contracts import Provider, SiteType

MARKDOWN = sorted(CONTENT_DIR.rglob("*.md"))
NAMES = all_names()


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", MARKDOWN, ids=_rel)
def test_markdown_links_lead_to_files_that_exist(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for target in local_references(text):
        assert (path.parent / target).exists(), f"{_rel(path)} links to missing {target}"


@pytest.mark.parametrize("path", MARKDOWN, ids=_rel)
def test_paths_into_skills_and_agents_exist(path: Path) -> None:
    for mentioned in CONTENT_PATH_RE.findall(path.read_text(encoding="utf-8")):
        assert (CONTENT_DIR / mentioned).is_file(), f"{_rel(path)} mentions missing {mentioned}"


@pytest.mark.parametrize("path", MARKDOWN, ids=_rel)
def test_named_skills_and_subagents_exist(path: Path) -> None:
    for name, kind in NAMED_ITEM_RE.findall(path.read_text(encoding="utf-8")):
        expected = "skill" if kind == "skill" else "agent"
        assert NAMES.get(name) == expected, f"{_rel(path)} names a {kind} {name!r} that is not one"


def test_every_skill_and_agent_is_assigned_to_sessions_and_every_assignment_exists() -> None:
    on_disk = {
        p.parent.relative_to(CONTENT_DIR).as_posix() for p in CONTENT_DIR.glob("skills/*/SKILL.md")
    }
    on_disk |= {p.relative_to(CONTENT_DIR).as_posix() for p in CONTENT_DIR.glob("agents/**/*.md")}
    assigned = {item.path for item in SESSION_CONTENT}
    assert on_disk == assigned, {"unassigned": on_disk - assigned, "missing": assigned - on_disk}
    for item in SESSION_CONTENT:
        assert NAMES[item.name] == item.kind


@pytest.mark.parametrize(("provider", "site_type"), COMBOS, ids=lambda v: v.value)
def test_a_session_folder_names_only_what_it_has(
    tmp_path: Path, provider: Provider, site_type: SiteType
) -> None:
    """CLAUDE.md and every installed file name only skills and agents of this session."""
    ws = prepare_workspace(Workspace(tmp_path, USER), SESSION, site(provider, site_type))
    installed_root = ws.dir / ".claude"
    installed = all_names(installed_root)
    texts = {"CLAUDE.md": ws.claude_md_path.read_text(encoding="utf-8")}
    for path in installed_root.rglob("*.md"):
        texts[path.relative_to(ws.dir).as_posix()] = path.read_text(encoding="utf-8")

    for where, text in texts.items():
        for token in BACKTICKED_RE.findall(text):
            if token in NAMES:
                assert token in installed, f"{where} names {token!r}, not in this session"
        for mentioned in CONTENT_PATH_RE.findall(text):
            assert (installed_root / mentioned).is_file(), f"{where} mentions {mentioned}"
        if where != "CLAUDE.md":
            path = ws.dir / where
            for target in local_references(text):
                assert (path.parent / target).exists(), f"{where} links to missing {target}"

    # And CLAUDE.md lists every one of them.
    for name in installed:
        assert f"`{name}`" in texts["CLAUDE.md"], name


def test_claude_md_is_what_session_instructions_render(tmp_path: Path) -> None:
    spec = site(Provider.AZURE, SiteType.DYNAMIC)
    ws = prepare_workspace(Workspace(tmp_path, USER), SESSION, spec)
    assert ws.claude_md_path.read_text() == session_instructions(USER, SESSION, spec)
