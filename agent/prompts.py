"""What the AI is asked to do: the session's standing instructions, the ``.claude/`` content a
session gets, and one prompt file per task.

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

The standing instructions and the skills and subagents are chosen per (provider, site type):
an AWS static site gets the ``aws`` skill and the static packager, an Azure dynamic site the
``azure`` skill and the dynamic packager; the rest every session gets.

No credential, account id or cloud profile ever appears in these texts: deploying is done by
the agent with short-lived credentials the AI never sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from tmux_builder import dynamic_site, naming
from tmux_builder.contracts import Provider, SiteSpec, SiteType
from tmux_builder.pipeline import Step

# What the platform relies on when it runs a dynamic site (the `dynamic-app-packager` subagent
# and the provider skills state the same values; a test keeps them in step). One home with the
# deployers, the offline model and the embedded stack's instance host: tmux_builder.dynamic_site.
DYNAMIC_START_COMMAND = dynamic_site.START_COMMAND
DYNAMIC_PORT_ENV = dynamic_site.PORT_ENV
DYNAMIC_DEFAULT_PORT = dynamic_site.DEFAULT_PORT
DYNAMIC_HEALTH_PATH = dynamic_site.HEALTH_PATH

_ALL_PROVIDERS = frozenset(Provider)
_ALL_SITE_TYPES = frozenset(SiteType)


@dataclass(frozen=True)
class ContentItem:
    """A skill folder or subagent file of the repository's ``.claude/``, and who gets it.

    ``path`` is relative to ``.claude/``: ``skills/<name>`` (Claude Code discovers skills one
    level deep only) or ``agents/<group>/<name>.md`` (agents are discovered in subfolders).
    """

    path: str
    providers: frozenset[Provider] = _ALL_PROVIDERS
    site_types: frozenset[SiteType] = _ALL_SITE_TYPES

    @property
    def kind(self) -> str:
        return "skill" if self.path.startswith("skills/") else "agent"

    @property
    def name(self) -> str:
        """The name Claude Code knows it by (its frontmatter ``name``)."""
        path = PurePosixPath(self.path)
        return path.name if self.kind == "skill" else path.stem

    def applies_to(self, provider: Provider, site_type: SiteType) -> bool:
        return provider in self.providers and site_type in self.site_types


SESSION_CONTENT: tuple[ContentItem, ...] = (
    ContentItem("skills/core"),
    ContentItem("skills/frontend"),
    ContentItem("skills/testing"),
    ContentItem("skills/aws", providers=frozenset({Provider.AWS})),
    ContentItem("skills/azure", providers=frozenset({Provider.AZURE})),
    ContentItem(
        "agents/deployers/static-site-packager.md", site_types=frozenset({SiteType.STATIC})
    ),
    ContentItem(
        "agents/deployers/dynamic-app-packager.md", site_types=frozenset({SiteType.DYNAMIC})
    ),
    ContentItem("agents/testers/e2e-test-writer.md"),
    ContentItem("agents/testers/accessibility-reviewer.md"),
    ContentItem("agents/utilities/requirements-analyst.md"),
    ContentItem("agents/utilities/content-writer.md"),
)


def session_content(provider: Provider, site_type: SiteType) -> tuple[ContentItem, ...]:
    """The skills and subagents a session for this kind of site gets, in a stable order."""
    return tuple(item for item in SESSION_CONTENT if item.applies_to(provider, site_type))


_HOSTING = {
    (Provider.AWS, SiteType.STATIC): "Amazon S3 + CloudFront",
    (Provider.AWS, SiteType.DYNAMIC): "an Amazon EC2 instance",
    (Provider.AZURE, SiteType.STATIC): "Azure Blob Storage (static website) + Azure CDN",
    (Provider.AZURE, SiteType.DYNAMIC): "an Azure virtual machine",
}

_PACKAGER = {
    SiteType.STATIC: "static-site-packager",
    SiteType.DYNAMIC: "dynamic-app-packager",
}

_GENERATE_CODE_STATIC = """\
1. Read `plan.md` and follow it.
2. Write the complete site into `code/`, with `code/index.html` as the entry page. Plain HTML,
   CSS and JavaScript are fine; if you use a build tool, use Tailwind CSS v3 (`tailwindcss@3`,
   never v4), make `npm run build` write `code/dist/`, and run the build.
3. The site must be responsive (it must work on a 375 px wide phone), have a <title> and an <h1>
   with the site's name, and load no resources from other hosts.
4. Do not deploy and do not start a server: the platform deploys `code/` for you.
5. Write a short summary of what you built to `summary-{task_id}.md`."""

_GENERATE_CODE_DYNAMIC = f"""\
1. Read `plan.md` and follow it.
2. Write the complete app into `code/`: a small Node.js server that `{DYNAMIC_START_COMMAND}`
   in `code/` starts, listening on the port in `{DYNAMIC_PORT_ENV}` ({DYNAMIC_DEFAULT_PORT}
   when unset), with `GET {DYNAMIC_HEALTH_PATH}` answering 200 and `GET /` serving
   `code/index.html`. If you use Tailwind, use Tailwind CSS v3 (`tailwindcss@3`, never v4).
3. The page must be responsive (it must work on a 375 px wide phone), have a <title> and an <h1>
   with the site's name, and load no resources from other hosts.
4. Do not deploy and do not leave a server running: the platform runs `code/` for you.
5. Write a short summary of what you built to `summary-{{task_id}}.md`."""

_INSTRUCTIONS = {
    Step.CREATE_PLAN: """\
1. Read the requirements above carefully.
2. Write an implementation plan to `plan.md` in the working directory: overview, the site's
   name and title, audience, pages and sections, design (palette, typography, light or dark),
   the files you will write, how it will be deployed, and how it will be tested.
3. Do not write any code yet.
4. Write a short summary of the plan to `summary-{task_id}.md`.""",
    Step.GENERATE_CODE: _GENERATE_CODE_STATIC,
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


def _instructions(step: Step, site_type: SiteType) -> str:
    if step is Step.GENERATE_CODE and site_type is SiteType.DYNAMIC:
        return _GENERATE_CODE_DYNAMIC
    return _INSTRUCTIONS[step]


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
        + _instructions(step, site.site_type).format(task_id=task_id)
        + "\n"
    )


def _deliverable(site: SiteSpec) -> str:
    hosting = _HOSTING[(site.provider, site.site_type)]
    if site.site_type is SiteType.STATIC:
        return f"""\
- Deliver static files. The platform publishes `code/dist/` when `code/dist/index.html`
  exists, otherwise `code/` itself, to {hosting}. Everything in that folder is public.
- With a build step (`npm run build` writing `code/dist/`), run the build yourself: building
  is not deploying. Link to files and use relative URLs; there is no server behind the site."""
    return f"""\
- Deliver a small Node.js server in `code/`; the platform runs it on {hosting}.
- `{DYNAMIC_START_COMMAND}` in `code/` starts it; it listens on all interfaces, on the port in
  the `{DYNAMIC_PORT_ENV}` environment variable ({DYNAMIC_DEFAULT_PORT} when unset).
- `GET {DYNAMIC_HEALTH_PATH}` answers 200 at once; `GET /` serves `code/index.html`; other
  static files come only from `code/assets/`. State lives in memory or under `code/data/`;
  there is no database."""


def _naming(user_id: str, site: SiteSpec) -> str:
    pattern = f"`tmux-{naming.user_prefix(user_id)}-<site>`"
    if site.provider is Provider.AZURE:
        return f"""\
- Cloud resources for this site are named from `{site.resource_name}` (pattern {pattern}).
  Azure storage account names allow only 3-24 lowercase letters and digits (no hyphens), so
  the site's storage account carries a shortened form of that name."""
    return f"""\
- Cloud resources for this site are named `{site.resource_name}` (pattern {pattern};
  S3 bucket names: 3-63 lowercase letters, digits and hyphens)."""


def _content_lines(site: SiteSpec) -> str:
    items = session_content(site.provider, site.site_type)
    skills = ", ".join(f"`{item.name}`" for item in items if item.kind == "skill")
    agents = ", ".join(f"`{item.name}`" for item in items if item.kind == "agent")
    return f"""\
- Skills: {skills}. The `{site.provider.value}` skill says what the platform expects of the
  output on {site.provider.value}.
- Subagents: {agents}. Before the summary of `generate_code`, check the output with the
  `{_PACKAGER[site.site_type]}` subagent. When you delegate, pass `run_in_background: false`
  and wait: a task is done only when its files are written."""


def session_instructions(user_id: str, session_id: str, site: SiteSpec) -> str:
    """The session's standing rules (``CLAUDE.md`` and ``system_prompt.txt``)."""
    tags = naming.resource_tags(user_id, session_id, site.site_type.value)
    tag_lines = "\n".join(f"  - {k}: {v}" for k, v in tags.items())
    hosting = _HOSTING[(site.provider, site.site_type)]
    return f"""\
# tmux-builder session

You are building one website for one person. Tasks arrive as files in `prompts/`; each
names what to do and where to write the result. Work only inside this folder. You plan,
write code and write tests; the platform deploys, checks health, takes screenshots and runs
the tests.

## The site
- Provider: {site.provider.value}; site type: {site.site_type.value}; hosted on {hosting}.
{_deliverable(site)}

## Names and tags (for information; the platform creates every resource)
{_naming(user_id, site)}
- Every resource carries these tags:
{tag_lines}
- Never write resource names, account details or deployment URLs into the site's code.

## Skills and subagents
{_content_lines(site)}

## Rules
- Put the site's source in `code/`; `code/index.html` is the entry page.
- Use Tailwind CSS v3 if you use Tailwind at all (`tailwindcss@3`); never v4.
- Never treat localhost as a deployment: the platform deploys `code/` to the cloud and
  reports the live URL. Do not deploy yourself and do not leave servers running.
- You have no cloud credentials and need none. Never ask for keys or write any, and never
  run a cloud CLI or SDK.
- Report progress with `tmux-builder-notify status "<what you are doing>"` when useful.
- When a task is done, write its summary file and stop.
"""
