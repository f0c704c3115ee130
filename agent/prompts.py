"""What the AI is asked to do: the session's standing instructions and one prompt file per task.

Prompt files follow a small, stable format (version 1) that a real model reads as instructions
and the offline model parses::

    # Task: <create_plan|generate_code|e2e_tests>
    Task id: <task_id>
    Provider: <aws|azure>
    Site type: <static|dynamic>
    Site URL: <url>                (e2e_tests only)

    ## Requirements
    <what the person asked for>

    ## Instructions
    <numbered steps>

No credential, account id or cloud profile ever appears in these texts: deploying is done by
the agent with short-lived credentials the AI never sees.
"""

from __future__ import annotations

from tmux_builder import naming
from tmux_builder.contracts import SiteSpec
from tmux_builder.pipeline import Step

_INSTRUCTIONS = {
    Step.CREATE_PLAN: """\
1. Read the requirements above carefully.
2. Write an implementation plan to `plan.md` in the working directory: overview, the site's
   name and title, audience, pages and sections, design (palette, typography, light or dark),
   the files you will write, how it will be deployed, and how it will be tested.
3. Do not write any code yet.
4. Write a short summary of the plan to `summary-{task_id}.md`.""",
    Step.GENERATE_CODE: """\
1. Read `plan.md` and follow it.
2. Write the complete site into `code/`, with `code/index.html` as the entry page. For a static
   site plain HTML, CSS and JavaScript are fine; if you use a build tool, use Tailwind CSS v3
   (`tailwindcss@3`, never v4) and make `npm run build` write `code/dist/`.
3. The site must be responsive (it must work on a 375 px wide phone), have a <title> and an <h1>
   with the site's name, and load no resources from other hosts.
4. Do not deploy and do not start a server: the platform deploys `code/` for you.
5. Write a short summary of what you built to `summary-{task_id}.md`.""",
    Step.E2E_TESTS: """\
1. Read `code/index.html` to learn the site's real title, heading, sections and links.
2. Write Playwright tests in Python (pytest, sync API) in `e2e/test_site.py`, with the browser
   fixtures in `e2e/conftest.py`. The tests read the site's address from the environment
   variable `SITE_URL` and the browser binary from `CHROMIUM_PATH` (pass it as
   `executable_path` when it is set).
3. Cover: the page loads with its title, the main heading, every navigation link's target,
   forms, images loading, no console errors, and the mobile layout (375 px, no horizontal scroll).
4. Do not run the tests: the platform runs them against the live site and reports the result.
5. Write a short summary to `summary-{task_id}.md`.""",
}


def task_prompt(
    step: Step, task_id: str, site: SiteSpec, requirements: str, site_url: str | None = None
) -> str:
    if step not in _INSTRUCTIONS:
        raise ValueError(f"{step.value} is not a step for the AI")
    header = [
        f"# Task: {step.value}",
        f"Task id: {task_id}",
        f"Provider: {site.provider.value}",
        f"Site type: {site.site_type.value}",
    ]
    if site_url:
        header.append(f"Site URL: {site_url}")
    return (
        "\n".join(header)
        + "\n\n## Requirements\n"
        + requirements.strip()
        + "\n\n## Instructions\n"
        + _INSTRUCTIONS[step].format(task_id=task_id)
        + "\n"
    )


def session_instructions(user_id: str, session_id: str, site: SiteSpec) -> str:
    """The session's standing rules (``CLAUDE.md`` and ``system_prompt.txt``)."""
    tags = naming.resource_tags(user_id, session_id, site.site_type.value)
    tag_lines = "\n".join(f"- {k}: {v}" for k, v in tags.items())
    return f"""\
# tmux-builder session

You are building one website for one person. Tasks arrive as files in `prompts/`; each
names what to do and where to write the result. Work only inside this folder.

## The site
- Provider: {site.provider.value}; site type: {site.site_type.value}
- Cloud resources for this site are named `{site.resource_name}` (pattern
  `tmux-{naming.user_prefix(user_id)}-<site>`); every resource carries these tags:
{tag_lines}

## Rules
- Put the site's source in `code/`; `code/index.html` is the entry page.
- Use Tailwind CSS v3 if you use Tailwind at all (`tailwindcss@3`); never v4.
- Never treat localhost as a deployment: the platform deploys `code/` to the cloud and
  reports the live URL. Do not start servers or deploy yourself.
- You have no cloud credentials and need none. Never ask for keys or write any.
- Report progress with `tmux-builder-notify status "<what you are doing>"` when useful.
- When a task is done, write its summary file and stop.
"""
