"""What each task reads and what it writes, as pure functions of the prompt file and inputs.

- ``create_plan``: nothing to read; writes ``plan.md``.
- ``generate_code``: reads ``plan.md`` (if present); writes ``code/index.html``, ``styles.css``,
  ``script.js``.
- ``e2e_tests``: reads ``code/index.html``; writes ``e2e/conftest.py`` and ``e2e/test_site.py``.

Every task also writes ``summary-<task_id>.md``. The answer is the short markdown the user sees
in the chat when the turn ends.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from tmux_builder.offline_model.dynamic_app_writer import (
    dynamic_code_answer,
    dynamic_files_label,
    write_dynamic_site,
)
from tmux_builder.offline_model.plan_writer import PLAN_PATH, md, read_planned_name, write_plan
from tmux_builder.offline_model.prompt_file import PromptTask
from tmux_builder.offline_model.site_design import SiteDesign, design_site
from tmux_builder.offline_model.site_facts import read_site_facts
from tmux_builder.offline_model.site_writer import (
    INDEX_PATH,
    SCRIPT_PATH,
    STYLES_PATH,
    render_index,
    write_site,
)
from tmux_builder.offline_model.tests_writer import (
    CONFTEST_PATH,
    TEST_PATH,
    generated_test_names,
    write_e2e_tests,
)
from tmux_builder.pipeline import Step


class Deliverable(BaseModel):
    """The files of one task (relative path -> content, in write order) and the chat answer."""

    model_config = ConfigDict(frozen=True)

    files: dict[str, str]
    answer: str


def summary_path(task: PromptTask) -> str:
    return f"summary-{task.task_id}.md"


def required_inputs(task: PromptTask) -> tuple[str, ...]:
    """Files to Read before writing (relative paths); a missing one is not an error."""
    if task.step == Step.GENERATE_CODE:
        return (PLAN_PATH,)
    if task.step == Step.E2E_TESTS:
        return (INDEX_PATH,)
    return ()


def build_deliverable(task: PromptTask, inputs: dict[str, str | None]) -> Deliverable:
    """``inputs`` maps each required input to its text, or None when it could not be read."""
    if task.step == Step.CREATE_PLAN:
        files, answer = _plan(task)
    elif task.step == Step.GENERATE_CODE:
        files, answer = _code(task, inputs.get(PLAN_PATH))
    elif task.step == Step.E2E_TESTS:
        files, answer = _tests(task, inputs.get(INDEX_PATH))
    else:
        raise ValueError(f"the offline model does not do {task.step}")
    files[summary_path(task)] = f"# Summary: {task.step.value} ({task.task_id})\n\n{answer}\n"
    return Deliverable(files=files, answer=answer)


def _plan(task: PromptTask) -> tuple[dict[str, str], str]:
    design = design_site(task.requirements)
    plan = write_plan(design, provider=task.provider, site_type=task.site_type)
    sections = ", ".join(["Home", *(md(s.label) for s in design.sections), "Contact"])
    answer = "\n".join(
        [
            f"Wrote `{PLAN_PATH}`: the plan for **{md(design.title)}**.",
            "",
            f"- **Site:** {md(design.kind_label)}, {design.palette.mode} theme, accent "
            f"`{design.palette.accent}`, {design.tone} tone",
            f"- **Sections:** {sections}",
            f"- **Files:** {_files_label(task)}",
            f"- **Deploy:** {_deploy_label(task.provider)}",
            "- **Tests:** title, heading, navigation, contact form, console errors, phone layout",
        ]
    )
    return {PLAN_PATH: plan}, answer


def _code(task: PromptTask, plan_text: str | None) -> tuple[dict[str, str], str]:
    planned = read_planned_name(plan_text) if plan_text else None
    design = design_site(task.requirements, name_override=planned)
    source = f"`{PLAN_PATH}`" if plan_text else "the requirements (no plan.md was found)"
    if task.site_type.lower() == "dynamic":
        return write_dynamic_site(design), dynamic_code_answer(design, source)
    files = write_site(design)
    answer = "\n".join(
        [
            f"Wrote the site for **{md(design.name)}** in `code/`, following {source}.",
            "",
            f"- `{INDEX_PATH}`: {_section_list(design)}, a navigation bar and a labelled "
            "contact form",
            f"- `{STYLES_PATH}`: {design.palette.mode} theme, accent `{design.palette.accent}`, "
            "responsive down to 375 px",
            f"- `{SCRIPT_PATH}`: phone menu toggle and contact form handling",
        ]
    )
    return files, answer


def _tests(task: PromptTask, index_html: str | None) -> tuple[dict[str, str], str]:
    design = design_site(task.requirements)
    facts = read_site_facts(index_html if index_html else render_index(design))
    files = write_e2e_tests(facts, design.name)
    source = f"`{INDEX_PATH}`" if index_html else "the design (code/index.html was not found)"
    names = generated_test_names(facts)
    answer = "\n".join(
        [
            f"Wrote {len(names)} end-to-end tests for **{md(facts.title or design.title)}**, "
            f"from {source}.",
            "",
            f"- `{CONFTEST_PATH}`: Playwright fixtures (`SITE_URL`, `CHROMIUM_PATH`)",
            f"- `{TEST_PATH}`: " + ", ".join(f"`{name}`" for name in names),
            "",
            "Run them with `SITE_URL=<deployed url> pytest e2e`.",
        ]
    )
    return files, answer


def _files_label(task: PromptTask) -> str:
    if task.site_type.lower() == "dynamic":
        return dynamic_files_label()
    return f"`{INDEX_PATH}`, `{STYLES_PATH}`, `{SCRIPT_PATH}`"


def _section_list(design: SiteDesign) -> str:
    labels = ["Home", *(md(s.label) for s in design.sections), "Contact"]
    return f"{len(labels)} sections ({', '.join(labels)})"


def _deploy_label(provider: str) -> str:
    if provider.lower() == "azure":
        return "Azure Storage static website behind a CDN"
    return "S3 + CloudFront (never localhost)"
