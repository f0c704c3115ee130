"""plan.md, the e2e test files and the per-task deliverables."""

from __future__ import annotations

import ast

import pytest

from tmux_builder.offline_model.deliverables import build_deliverable, required_inputs
from tmux_builder.offline_model.plan_writer import read_planned_name, write_plan
from tmux_builder.offline_model.prompt_file import PromptTask
from tmux_builder.offline_model.site_design import design_site
from tmux_builder.offline_model.site_facts import read_site_facts
from tmux_builder.offline_model.site_writer import INDEX_PATH, write_site
from tmux_builder.offline_model.tests_writer import CONFTEST_PATH, TEST_PATH, write_e2e_tests
from tmux_builder.pipeline import Step

ADA = "A portfolio website for a photographer named Ada, dark theme"
EVIL = 'A shop named "Zoë\'s <script>\\"""\' & 🍰" in blue'


def task(step: Step, requirements: str = ADA, provider: str = "aws") -> PromptTask:
    return PromptTask(
        step=step, task_id=f"{step.value}-x-a0", provider=provider, requirements=requirements
    )


def test_plan_has_every_part_a_developer_needs():
    plan = write_plan(design_site(ADA), provider="aws", site_type="static")

    for heading in (
        "## Overview",
        "## Site",
        "## Audience",
        "## Pages and sections",
        "## Design",
        "## Files",
        "## Deployment",
        "## Test plan",
    ):
        assert heading in plan
    assert "- **Site name:** Ada" in plan
    assert "- **Title:** Ada — Photography Portfolio" in plan
    assert "**Theme:** dark" in plan
    assert "CloudFront" in plan and "never localhost" in plan
    assert "(`#gallery`)" in plan and "(`#contact`)" in plan


def test_azure_plan_deploys_to_azure():
    plan = write_plan(design_site(ADA), provider="azure", site_type="static")

    assert "$web" in plan and "S3" not in plan


@pytest.mark.parametrize("requirements", [ADA, EVIL, "a blog named *Star* [link](x) `code`"])
def test_the_planned_name_reads_back(requirements):
    design = design_site(requirements)

    assert read_planned_name(write_plan(design, provider="aws", site_type="static")) == design.name


def test_user_text_in_the_plan_is_inert_markdown():
    plan = write_plan(design_site(EVIL), provider="aws", site_type="static")

    assert "<script>" not in plan
    assert "\\<script\\>" in plan


def test_a_plan_without_a_name_line_gives_none():
    assert read_planned_name("# Plan\n\nNo name here.\n") is None


@pytest.mark.parametrize("requirements", [ADA, EVIL])
def test_generated_tests_are_valid_python_with_the_page_facts(requirements):
    design = design_site(requirements)
    facts = read_site_facts(write_site(design)[INDEX_PATH])

    files = write_e2e_tests(facts, design.name)

    module = ast.parse(files[TEST_PATH])
    constants = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in module.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    assert constants["EXPECTED_TITLE"] == facts.title
    assert constants["SITE_NAME"] == design.name
    assert constants["NAV_TARGETS"] == facts.nav_targets
    assert constants["FORM_FIELDS"] == (
        ("name", "text"),
        ("email", "email"),
        ("message", "textarea"),
    )
    ast.parse(files[CONFTEST_PATH])


def test_conftest_uses_site_url_and_the_system_chromium():
    conftest = write_e2e_tests(read_site_facts(write_site(design_site(ADA))[INDEX_PATH]), "Ada")[
        CONFTEST_PATH
    ]

    assert 'os.environ.get("SITE_URL"' in conftest
    assert 'os.environ.get("CHROMIUM_PATH"' in conftest
    assert 'options["executable_path"] = executable' in conftest
    for flag in (
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-gpu",
    ):
        assert repr(flag) in conftest
    assert 'PHONE = {"width": 375, "height": 812}' in conftest


def test_tests_follow_the_page_not_the_requirements():
    html = write_site(design_site("a bakery called Crumb"))[INDEX_PATH]

    files = write_e2e_tests(read_site_facts(html), "Something Else")

    assert "SITE_NAME = 'Crumb'" in files[TEST_PATH]


def test_required_inputs_per_task():
    assert required_inputs(task(Step.CREATE_PLAN)) == ()
    assert required_inputs(task(Step.GENERATE_CODE)) == ("plan.md",)
    assert required_inputs(task(Step.E2E_TESTS)) == ("code/index.html",)


def test_each_deliverable_writes_its_files_and_a_summary():
    plan = build_deliverable(task(Step.CREATE_PLAN), {})
    code = build_deliverable(task(Step.GENERATE_CODE), {"plan.md": plan.files["plan.md"]})
    tests = build_deliverable(task(Step.E2E_TESTS), {"code/index.html": code.files[INDEX_PATH]})

    assert list(plan.files) == ["plan.md", "summary-create_plan-x-a0.md"]
    assert list(code.files) == [
        "code/index.html",
        "code/styles.css",
        "code/script.js",
        "summary-generate_code-x-a0.md",
    ]
    assert list(tests.files) == ["e2e/conftest.py", "e2e/test_site.py", "summary-e2e_tests-x-a0.md"]
    assert plan.files["summary-create_plan-x-a0.md"] == (
        f"# Summary: create_plan (create_plan-x-a0)\n\n{plan.answer}\n"
    )


def test_tests_without_a_page_fall_back_to_the_design():
    tests = build_deliverable(task(Step.E2E_TESTS), {"code/index.html": None})

    assert "code/index.html was not found" in tests.answer
    assert "EXPECTED_TITLE = 'Ada — Photography Portfolio'" in tests.files[TEST_PATH]


def test_answers_escape_user_text():
    plan = build_deliverable(task(Step.CREATE_PLAN, EVIL), {})

    assert "<script>" not in plan.answer
