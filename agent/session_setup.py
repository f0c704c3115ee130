"""Setting up a user's session folder before the AI's turn: its standing instructions
(``CLAUDE.md`` / ``system_prompt.txt``) and the skills and subagents from the repository's
``.claude/`` that fit the site's provider and site type (see :data:`agent.prompts.SESSION_CONTENT`).

The session folder belongs to a user, and a user can build several sites: the instructions are
written once per session (the AI may edit them; a retried step keeps its edits) and rewritten
when the folder serves another session. The skills and subagents are platform content: they
are replaced whenever they differ from what the site should have, so a session never keeps
another provider's skills or a packager for the other site type.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from agent.prompts import ContentItem, session_content, session_instructions
from agent.workspace import Workspace, atomic_write
from tmux_builder.contracts import SiteSpec

# The repository's .claude/ folder (next to the packages in a source checkout).
DEFAULT_CONTENT_DIR = Path(__file__).resolve().parents[1] / ".claude"
# The folders of a session's .claude/ this module owns; settings.json is the engine's.
MANAGED_FOLDERS = ("skills", "agents")
# Which session (and site) the instructions were written for; no secret in it.
INSTRUCTIONS_MARKER = "tmux-builder-instructions.json"


def prepare_workspace(
    ws: Workspace, session_id: str, site: SiteSpec, content_dir: Path | None = None
) -> Workspace:
    """Create the folder, write the session's instructions, and install its ``.claude/`` content."""
    ws.create()
    written_for = {
        "session_id": session_id,
        "provider": site.provider.value,
        "site_type": site.site_type.value,
    }
    marker = ws.dir / ".claude" / INSTRUCTIONS_MARKER
    if not ws.claude_md_path.exists() or _read_json(marker) != written_for:
        ws.write_instructions(session_instructions(ws.user_id, session_id, site))
        atomic_write(marker, json.dumps(written_for) + "\n")
    install_content(ws.dir, site, content_dir or DEFAULT_CONTENT_DIR)
    return ws


def install_content(session_dir: Path, site: SiteSpec, content_dir: Path) -> list[ContentItem]:
    """Make ``session_dir/.claude/{skills,agents}`` hold exactly the site's items.

    Missing items in ``content_dir`` are skipped (a partial checkout still gets the rest).
    Returns the items installed.
    """
    items = [
        item
        for item in session_content(site.provider, site.site_type)
        if (content_dir / item.path).exists()
    ]
    wanted = _files_of(content_dir, items)
    target = session_dir / ".claude"
    if _installed_files(target) == wanted:
        return items
    for folder in MANAGED_FOLDERS:
        shutil.rmtree(target / folder, ignore_errors=True)
    for relpath, content in wanted.items():
        path = target / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return items


def _files_of(content_dir: Path, items: list[ContentItem]) -> dict[str, bytes]:
    """Relative path under ``.claude/`` -> bytes, for every file of ``items``."""
    files: dict[str, bytes] = {}
    for item in items:
        source = content_dir / item.path
        paths = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
        for path in paths:
            files[path.relative_to(content_dir).as_posix()] = path.read_bytes()
    return files


def _installed_files(target: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for folder in MANAGED_FOLDERS:
        root = target / folder
        if root.is_dir():
            for path in root.rglob("*"):
                if path.is_file():
                    files[path.relative_to(target).as_posix()] = path.read_bytes()
    return files


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
