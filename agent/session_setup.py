"""Setting up a user's session folder before the AI's first turn: its standing instructions
(``CLAUDE.md`` / ``system_prompt.txt``) and the project's skills from ``.claude/skills``."""

from __future__ import annotations

import shutil
from pathlib import Path

from agent.prompts import session_instructions
from agent.workspace import Workspace
from tmux_builder.contracts import SiteSpec

# The repository's .claude/ folder (next to the packages in a source checkout).
DEFAULT_CONTENT_DIR = Path(__file__).resolve().parents[1] / ".claude"


def prepare_workspace(
    ws: Workspace, session_id: str, site: SiteSpec, content_dir: Path | None = None
) -> Workspace:
    """Create the folder, write the instructions once, and (re)install the skills."""
    ws.create()
    if not ws.claude_md_path.exists():
        ws.write_instructions(session_instructions(ws.user_id, session_id, site))
    skills = (content_dir or DEFAULT_CONTENT_DIR) / "skills"
    if skills.is_dir():
        shutil.copytree(skills, ws.dir / ".claude" / "skills", dirs_exist_ok=True)
    return ws
