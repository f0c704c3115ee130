"""Every skill and subagent is a file Claude Code loads: frontmatter it reads, names it accepts,
in the layout it discovers (skills one level under skills/, agents in group folders)."""

from __future__ import annotations

import pytest

from tests.claude_content.content import (
    AGENT_GROUPS,
    AGENT_KEYS,
    CONTENT_DIR,
    KNOWN_TOOLS,
    MODELS,
    NAME_RE,
    SKILL_KEYS,
    ContentFile,
    content_files,
    local_references,
    parse_frontmatter,
    tools_of,
)

FILES = content_files()
SKILLS = [f for f in FILES if f.kind == "skill"]
AGENTS = [f for f in FILES if f.kind == "agent"]


def test_the_expected_skills_and_agents_exist() -> None:
    assert {f.frontmatter["name"] for f in SKILLS} == {
        "core",
        "frontend",
        "testing",
        "aws",
        "azure",
    }
    assert {f.rel for f in AGENTS} == {
        "agents/deployers/static-site-packager.md",
        "agents/deployers/dynamic-app-packager.md",
        "agents/testers/e2e-test-writer.md",
        "agents/testers/accessibility-reviewer.md",
        "agents/utilities/requirements-analyst.md",
        "agents/utilities/content-writer.md",
    }


def test_every_other_markdown_file_is_the_readme_or_linked_from_its_skill() -> None:
    """Supporting files of a skill are fine when its SKILL.md links them; nothing else is."""
    others = sorted(
        p
        for p in CONTENT_DIR.rglob("*.md")
        if p.relative_to(CONTENT_DIR).as_posix() not in {f.rel for f in FILES} | {"README.md"}
    )
    for path in others:
        parts = path.relative_to(CONTENT_DIR).parts
        assert parts[0] == "skills" and len(parts) >= 3, f"{path} is neither a skill nor an agent"
        skill = CONTENT_DIR / "skills" / parts[1] / "SKILL.md"
        links = local_references(skill.read_text(encoding="utf-8"))
        assert path.relative_to(skill.parent).as_posix() in links, f"{skill} does not link {path}"


@pytest.mark.parametrize("item", FILES, ids=lambda f: f.rel)
def test_frontmatter_has_a_name_and_a_description(item: ContentFile) -> None:
    name = item.frontmatter.get("name")
    description = item.frontmatter.get("description")
    assert isinstance(name, str) and NAME_RE.match(name) and len(name) <= 64, name
    assert isinstance(description, str) and 40 <= len(description) <= 1024, description
    assert item.body.strip(), "the body is what the model reads: it cannot be empty"


@pytest.mark.parametrize("item", SKILLS, ids=lambda f: f.rel)
def test_skills_sit_one_level_under_skills_named_as_their_folder(item: ContentFile) -> None:
    # Claude Code 2.1.x discovers skills/<name>/SKILL.md only, not skills/<area>/<name>/.
    parts = item.path.relative_to(CONTENT_DIR).parts
    assert len(parts) == 3 and parts[0] == "skills" and parts[2] == "SKILL.md", item.rel
    assert item.frontmatter["name"] == parts[1]
    assert set(item.frontmatter) <= SKILL_KEYS, set(item.frontmatter) - SKILL_KEYS


@pytest.mark.parametrize("item", AGENTS, ids=lambda f: f.rel)
def test_agents_sit_in_their_group_named_as_their_file(item: ContentFile) -> None:
    parts = item.path.relative_to(CONTENT_DIR).parts
    assert len(parts) == 3 and parts[0] == "agents" and parts[1] in AGENT_GROUPS, item.rel
    assert item.frontmatter["name"] == item.path.stem
    assert set(item.frontmatter) <= AGENT_KEYS, set(item.frontmatter) - AGENT_KEYS
    assert item.frontmatter.get("model", "inherit") in MODELS


@pytest.mark.parametrize("item", AGENTS, ids=lambda f: f.rel)
def test_agent_tools_are_a_comma_separated_list_of_known_tools(item: ContentFile) -> None:
    assert isinstance(item.frontmatter.get("tools"), str), "tools: Read, Write, ... (one string)"
    tools = tools_of(item.frontmatter)
    assert tools and set(tools) <= KNOWN_TOOLS, set(tools) - KNOWN_TOOLS
    assert len(tools) == len(set(tools)), "a tool is listed twice"


def test_reviewers_and_analysts_cannot_write_and_test_writers_cannot_run_anything() -> None:
    tools = {f.frontmatter["name"]: set(tools_of(f.frontmatter)) for f in AGENTS}
    for read_only in ("accessibility-reviewer", "requirements-analyst"):
        assert tools[read_only] <= {"Read", "Glob", "Grep"}, read_only
    # The platform runs the tests; their writer has no shell to run them with.
    assert "Bash" not in tools["e2e-test-writer"]
    assert "Bash" not in tools["content-writer"]


def test_names_are_unique_across_skills_and_agents() -> None:
    names = [f.frontmatter["name"] for f in FILES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    "text",
    [
        "no frontmatter\n",
        "---\nname: x\n",  # never closed
        "---\n- a\n- b\n---\nbody\n",  # not a mapping
        "\n---\nname: x\n---\nbody\n",  # not at the very start
    ],
)
def test_the_parser_rejects_what_claude_code_would_not_read(text: str) -> None:
    with pytest.raises(ValueError):
        parse_frontmatter(text)
