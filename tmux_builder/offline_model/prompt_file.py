"""The agent's prompt files, as the offline model reads them.

The agent writes a prompt file per task and pastes one line (``Read prompts/<id>.txt and do what
it says.``) into the pane. Format version 1::

    # Task: create_plan
    Task id: create_plan-<execution>-a0
    Provider: aws
    Site type: static
    Site URL: https://...          (e2e_tests only)

    ## Requirements
    <the user's words>

    ## Instructions
    <numbered instructions for a real model>

Parsing is tolerant (case, spacing, markdown emphasis, missing fields): a real model would read
it loosely too, and a stricter reader would turn a cosmetic change into a failed build.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from pydantic import BaseModel, ConfigDict

from tmux_builder.pipeline import AI_STEPS, Step

PROMPT_REF_RE = re.compile(r"(?:/[^\s'\"`<>|]*/)?prompts/[A-Za-z0-9._-]+\.txt")
_HEADER_RE = re.compile(r"^[#>*\s]*([A-Za-z][A-Za-z ]{1,30}?)\s*\**\s*:\s*\**\s*(.*?)\s*\**\s*$")
_SECTION_RE = re.compile(r"^\s*#{1,6}\s*(.+?)\s*#*\s*$")
_SAFE_ID_RE = re.compile(r"[^A-Za-z0-9._-]+")


class PromptTask(BaseModel):
    """One task as the prompt file describes it."""

    model_config = ConfigDict(frozen=True)

    step: Step
    task_id: str
    provider: str = "aws"
    site_type: str = "static"
    site_url: str = ""
    requirements: str = ""
    instructions: str = ""


class PromptFileError(ValueError):
    """The prompt file names no task the offline model can do."""


def find_prompt_reference(prompt: str) -> str | None:
    """The last prompt-file path named in a chat prompt, or None for a plain chat message."""
    matches = PROMPT_REF_RE.findall(prompt)
    return matches[-1] if matches else None


def parse_prompt_file(text: str, *, fallback_task_id: str = "task") -> PromptTask:
    headers: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        section = _SECTION_RE.match(line)
        title = section.group(1).strip().rstrip(":").strip() if section else ""
        if section and ":" not in title:
            current = title.lower()
            sections.setdefault(current, [])
            continue
        header = _HEADER_RE.match(line) if current is None else None
        if header:
            headers[header.group(1).strip().lower()] = header.group(2).strip()
            continue
        if current is not None:
            sections[current].append(line)

    step = _step_from(headers.get("task", ""))
    task_id = _SAFE_ID_RE.sub("-", headers.get("task id", "")).strip("-.") or fallback_task_id
    return PromptTask(
        step=step,
        task_id=task_id,
        provider=headers.get("provider", "aws").lower() or "aws",
        site_type=headers.get("site type", "static").lower() or "static",
        site_url=headers.get("site url", ""),
        requirements=_section_text(sections, "requirements"),
        instructions=_section_text(sections, "instructions"),
    )


def task_id_from_path(reference: str) -> str:
    """The prompt file's stem: the task id when the file does not say one."""
    return PurePosixPath(reference).stem or "task"


def _step_from(value: str) -> Step:
    cleaned = value.strip().strip("`*").strip().lower().replace("-", "_").replace(" ", "_")
    for step in AI_STEPS:
        if cleaned == step.value:
            return step
    raise PromptFileError(f"unknown task {value!r}; expected one of {sorted(AI_STEPS)}")


def _section_text(sections: dict[str, list[str]], name: str) -> str:
    for key, lines in sections.items():
        if key.startswith(name):
            return "\n".join(lines).strip()
    return ""
