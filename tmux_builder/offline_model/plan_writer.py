"""``plan.md``: the build plan a careful developer would write before coding the site.

The plan is the contract between the plan step and the code step: it names the site, its pages
and sections, its design, the files to write, how it is deployed and how it is tested. The code
step reads the site name back from the ``- **Site name:**`` line (:func:`read_planned_name`), so
a plan edited by hand changes the site.
"""

from __future__ import annotations

import re

from tmux_builder.offline_model.site_design import SiteDesign
from tmux_builder.offline_model.site_writer import (
    CONTACT_SECTION_ID,
    INDEX_PATH,
    SCRIPT_PATH,
    STYLES_PATH,
)
from tmux_builder.offline_model.tests_writer import CONFTEST_PATH, TEST_PATH

PLAN_PATH = "plan.md"

_NAME_LINE_RE = re.compile(r"^\s*[-*]?\s*\**\s*Site name\s*:?\s*\**\s*:?\s*(.+?)\s*$", re.I | re.M)
_MD_SPECIAL_RE = re.compile(r"([\\`*_\[\]<>|#])")

_LAYOUT_WORDS = {
    "cards": "cards",
    "gallery": "an image grid (CSS gradient tiles, no external images)",
    "list": "a two-column timetable",
    "steps": "numbered steps",
    "quotes": "quote cards",
    "faq": "expandable questions (details/summary)",
}


def md(text: str) -> str:
    """User text made inert in markdown (no emphasis, links or raw HTML)."""
    return _MD_SPECIAL_RE.sub(r"\\\1", text)


def read_planned_name(plan_text: str) -> str | None:
    match = _NAME_LINE_RE.search(plan_text)
    if not match:
        return None
    name = re.sub(r"\\(.)", r"\1", match.group(1)).strip().strip("*").strip()
    return name or None


def write_plan(design: SiteDesign, *, provider: str, site_type: str) -> str:
    p = design.palette
    lines = [
        f"# Plan: {md(design.title)}",
        "",
        "## Overview",
        "",
        f"A one-page, responsive {md(design.kind_label)} website for {md(design.name)}. "
        f"{md(design.tagline)}",
        "",
        "## Site",
        "",
        f"- **Site name:** {md(design.name)}",
        f"- **Title:** {md(design.title)}",
        f"- **Kind:** {md(design.kind_label)}",
        f"- **Provider:** {_provider_label(provider)}",
        f"- **Site type:** {md(site_type)} ({_site_type_note(site_type)})",
    ]
    if design.location:
        lines.append(f"- **Location:** {md(design.location)}")
    lines.extend(
        [
            "",
            "## Audience",
            "",
            f"{md(design.audience)}. They arrive on a phone as often as on a laptop, so the "
            "page must read well at 375 px wide and load fast on a weak connection.",
            "",
            "## Pages and sections",
            "",
            "One page, `index.html`, with in-page navigation:",
            "",
            f"1. **Home** (`#home`): the name as the only `<h1>`, the tagline "
            f"\u201c{md(design.tagline)}\u201d and a call to action "
            f"\u201c{md(design.cta_label)}\u201d.",
        ]
    )
    for number, section in enumerate(design.sections, start=2):
        lines.append(
            f"{number}. **{md(section.label)}** (`#{section.id}`): {md(section.heading)}, "
            f"shown as {_LAYOUT_WORDS[section.layout]}; {len(section.items)} entries."
        )
    lines.extend(
        [
            f"{len(design.sections) + 2}. **Contact** (`#{CONTACT_SECTION_ID}`): "
            f"{md(design.contact_heading)}; a form with labelled Name, Email and Message "
            "fields, validated in the browser.",
            "",
            "## Design",
            "",
            f"- **Theme:** {p.mode}",
            f"- **Palette:** background `{p.background}`, surface `{p.surface}`, text "
            f"`{p.text}`, muted `{p.muted}`, accent `{p.accent}` (links `{p.accent_ink}`, "
            f"text on accent `{p.on_accent}`)",
            f"- **Typography:** headings {_font_label(design.heading_font)}, body "
            f"{_font_label(design.body_font)}; system fonts only, nothing downloaded",
            f"- **Tone:** {design.tone}; corner radius {design.radius_px} px",
            "- **Visuals:** an inline SVG illustration in the hero and CSS gradients; no "
            "external images, fonts or scripts",
            "- **Accessibility:** skip link, landmarks, labelled form fields, visible focus, "
            "text contrast of at least 4.5:1",
            "",
            "## Files",
            "",
            f"- `{INDEX_PATH}`: semantic HTML5 with `<meta viewport>`, the title and every "
            "section above",
            f"- `{STYLES_PATH}`: CSS variables for the palette, grid and flex layouts, one "
            "phone breakpoint, no horizontal scrolling at 375 px",
            f"- `{SCRIPT_PATH}`: the phone menu toggle and the contact form's submit handler",
            f"- `{CONFTEST_PATH}`, `{TEST_PATH}`: end-to-end tests (written after the code)",
            "",
            "## Deployment",
            "",
            *_deployment_lines(provider),
            "",
            "## Test plan",
            "",
            "End-to-end tests with pytest and Playwright against the deployed URL "
            "(`SITE_URL`), never against localhost:",
            "",
            f"- the page answers 200 and its title is exactly \u201c{md(design.title)}\u201d",
            f"- the `<h1>` is visible and shows \u201c{md(design.name)}\u201d",
            "- every navigation link points at a section that exists",
            "- the contact form's fields are present, labelled and fillable; submitting "
            "stays on the page",
            "- images (if any) load, and the console shows no errors",
            "- at 375 x 812 the page does not scroll sideways, and the menu opens",
            "",
            "## Requirements (as given)",
            "",
            *(f"> {md(line)}" if line.strip() else ">" for line in _requirement_lines(design)),
            "",
        ]
    )
    return "\n".join(lines)


def _requirement_lines(design: SiteDesign) -> list[str]:
    return design.requirements.splitlines() or ["(none given)"]


def _site_type_note(site_type: str) -> str:
    if site_type.lower() == "static":
        return "HTML, CSS and a little JavaScript; no build step"
    return "this plan covers the static front end; no server code is written offline"


def _provider_label(provider: str) -> str:
    return {"aws": "AWS (S3 + CloudFront)", "azure": "Azure (Storage static website + CDN)"}.get(
        provider.lower(), md(provider)
    )


def _deployment_lines(provider: str) -> list[str]:
    if provider.lower() == "azure":
        return [
            "- Upload `code/` to the storage account's `$web` container with correct "
            "content types; `index.html` as the index document.",
            "- Serve it through Azure CDN / Front Door over HTTPS; purge the CDN after "
            "each redeploy.",
            "- The public URL is the CDN endpoint, never localhost.",
        ]
    return [
        "- Upload `code/` to a private S3 bucket with correct content types "
        "(`text/html`, `text/css`, `application/javascript`).",
        "- Serve it through a CloudFront distribution with origin access control, HTTPS "
        "only, `index.html` as the default root object.",
        "- Redeploys update the same distribution and invalidate `/*`.",
        "- The public URL is the CloudFront domain, never localhost.",
    ]


def _font_label(stack: str) -> str:
    first = stack.split(",")[0].strip().strip('"')
    family = stack.rsplit(",", 1)[-1].strip()
    return f"{first} ({family})"
