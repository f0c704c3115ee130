"""Reading the repository's ``.claude/`` the way the tests need it: frontmatter, references."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tmux_builder import naming
from tmux_builder.contracts import Provider, SiteSpec, SiteType

ROOT = Path(__file__).resolve().parents[2]
CONTENT_DIR = ROOT / ".claude"

USER = "0123456789abcdef0123456789abcdef"
SESSION = "sess_20261121T073000_a1b2c3"
COMBOS = [(provider, site_type) for provider in Provider for site_type in SiteType]

# The tools an agent of this system may be given (Claude Code's names).
KNOWN_TOOLS = frozenset({"Read", "Write", "Edit", "Bash", "Glob", "Grep"})
AGENT_GROUPS = frozenset({"deployers", "testers", "utilities"})
AGENT_KEYS = frozenset({"name", "description", "tools", "model"})
SKILL_KEYS = frozenset({"name", "description"})
MODELS = frozenset({"inherit", "sonnet", "opus", "haiku"})
NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

_FRONTMATTER_RE = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
MARKDOWN_LINK_RE = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CONTENT_PATH_RE = re.compile(r"(?:\.claude/)?((?:skills|agents)/[A-Za-z0-9_./-]+\.md)\b")
NAMED_ITEM_RE = re.compile(r"`([a-z0-9-]+)`\s+(skill|subagent)\b")
BACKTICKED_RE = re.compile(r"`([a-z0-9-]+)`")

# Patterns that must never appear in what the AI reads.
CREDENTIAL_PATTERNS = {
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "named CLI profile": re.compile(r"--profile\b|\bAWS_PROFILE\b", re.IGNORECASE),
    "aws configure": re.compile(r"\baws\s+configure\b", re.IGNORECASE),
    "az login": re.compile(r"\baz\s+login\b", re.IGNORECASE),
    "12-digit account id": re.compile(r"(?<!\d)\d{12}(?!\d)"),
    "secret key variable": re.compile(
        r"aws_secret_access_key|AWS_SECRET|AZURE_CLIENT_SECRET|ANTHROPIC_API_KEY", re.IGNORECASE
    ),
    "storage connection string": re.compile(r"AccountKey=|DefaultEndpointsProtocol=", re.I),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "old account names": re.compile(r"sunwaretech|cocreate", re.IGNORECASE),
}


@dataclass(frozen=True)
class ContentFile:
    path: Path
    kind: str  # "skill" or "agent"
    frontmatter: dict[str, Any]
    body: str

    @property
    def rel(self) -> str:
        return self.path.relative_to(CONTENT_DIR).as_posix()


def parse_frontmatter(text: str) -> tuple[dict[str, Any], str]:
    """(YAML mapping between the leading ``---`` lines, the rest); ValueError without one."""
    match = _FRONTMATTER_RE.match(text)
    if not match:
        raise ValueError("no frontmatter: the file must start with a --- ... --- block")
    data = yaml.safe_load(match.group(1))
    if not isinstance(data, dict):
        raise ValueError("frontmatter is not a mapping")
    return data, text[match.end() :]


def content_files(root: Path = CONTENT_DIR) -> list[ContentFile]:
    """Every skill (``SKILL.md``) and agent file under ``root`` (a ``.claude/`` folder)."""
    files = []
    for kind, pattern in (("skill", "skills/**/SKILL.md"), ("agent", "agents/**/*.md")):
        for path in sorted(root.glob(pattern)):
            frontmatter, body = parse_frontmatter(path.read_text(encoding="utf-8"))
            files.append(ContentFile(path, kind, frontmatter, body))
    return files


def all_names(root: Path = CONTENT_DIR) -> dict[str, str]:
    """Every skill and agent name in the repository -> its kind."""
    return {str(f.frontmatter["name"]): f.kind for f in content_files(root)}


def tools_of(frontmatter: dict[str, Any]) -> list[str]:
    return [tool.strip() for tool in str(frontmatter["tools"]).split(",")]


def site(provider: Provider, site_type: SiteType) -> SiteSpec:
    slug = "tea-shop-a1b2c3"
    return SiteSpec(
        provider=provider,
        site_type=site_type,
        slug=slug,
        resource_name=naming.resource_name(USER, slug),
    )


def local_references(text: str) -> list[str]:
    """Markdown link targets that are files (no URL scheme, no bare anchor), without anchors."""
    targets = []
    for target in MARKDOWN_LINK_RE.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        targets.append(target.split("#", 1)[0])
    return targets
