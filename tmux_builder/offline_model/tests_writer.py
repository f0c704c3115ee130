"""End-to-end tests for a generated site: ``e2e/conftest.py`` and ``e2e/test_site.py``.

pytest + Playwright (sync API), aimed at the deployed site through ``SITE_URL``; a system
Chromium through ``CHROMIUM_PATH`` (Playwright cannot download its own browser offline). What the
tests expect (title, heading, anchors, form fields) comes from :class:`SiteFacts`, read from the
page that was actually generated; values are embedded with :func:`repr`, so any text (quotes,
``<script>``, emoji) stays a valid Python literal.
"""

from __future__ import annotations

from tmux_builder.offline_model.site_facts import SiteFacts

E2E_DIR = "e2e"
CONFTEST_PATH = f"{E2E_DIR}/conftest.py"
TEST_PATH = f"{E2E_DIR}/test_site.py"

CHROMIUM_ARGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-gpu",
)


def write_e2e_tests(facts: SiteFacts, site_name: str) -> dict[str, str]:
    """Relative path -> content; ``site_name`` is what the h1 must show (the page's own wins)."""
    return {CONFTEST_PATH: render_conftest(), TEST_PATH: render_test_module(facts, site_name)}


def generated_test_names(facts: SiteFacts) -> list[str]:
    """The tests :func:`render_test_module` writes, for summaries."""
    names = [
        "test_page_loads_with_title",
        "test_h1_shows_site_name",
        "test_nav_links_point_to_sections",
        "test_contact_form_fields_are_fillable",
        "test_images_load",
        "test_no_console_errors",
        "test_phone_has_no_horizontal_scroll",
    ]
    if facts.has_nav_toggle:
        names.append("test_phone_menu_opens")
    if facts.api_routes:
        names.extend(
            ["test_health_route_answers", "test_api_answers_json", "test_api_content_appears"]
        )
    return names


def render_conftest() -> str:
    args = "".join(f"    {arg!r},\n" for arg in CHROMIUM_ARGS)
    return f'''"""Fixtures for the site's end-to-end tests.

SITE_URL is the deployed site (required). CHROMIUM_PATH points Playwright at a system Chromium;
without it Playwright uses its own browser.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, Page, Response, sync_playwright

CHROMIUM_ARGS = [
{args}]
DESKTOP = {{"width": 1280, "height": 800}}
PHONE = {{"width": 375, "height": 812}}


@dataclass
class LoadedPage:
    """A page opened on the site, with what went wrong in its console."""

    page: Page
    response: Response | None = None
    console_errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def site_url() -> str:
    url = os.environ.get("SITE_URL", "").strip()
    if not url:
        pytest.fail("SITE_URL is not set: point it at the deployed site")
    return url


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Browser]:
    options: dict[str, object] = {{"headless": True, "args": CHROMIUM_ARGS}}
    executable = os.environ.get("CHROMIUM_PATH", "").strip()
    if executable:
        options["executable_path"] = executable
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**options)
        yield browser
        browser.close()


def _open(browser: Browser, url: str, viewport: dict[str, int]) -> Iterator[LoadedPage]:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    loaded = LoadedPage(page=page)

    def on_console(message) -> None:
        if message.type == "error":
            loaded.console_errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: loaded.console_errors.append(str(error)))
    loaded.response = page.goto(url, wait_until="load")
    try:
        yield loaded
    finally:
        context.close()


@pytest.fixture
def site(chromium_browser: Browser, site_url: str) -> Iterator[LoadedPage]:
    yield from _open(chromium_browser, site_url, DESKTOP)


@pytest.fixture
def phone_site(chromium_browser: Browser, site_url: str) -> Iterator[LoadedPage]:
    yield from _open(chromium_browser, site_url, PHONE)
'''


def render_test_module(facts: SiteFacts, site_name: str) -> str:
    name = site_name if site_name and site_name in facts.h1 else facts.h1
    fields = tuple((f.id, f.type) for f in facts.form_fields)
    parts = [
        _module_header(facts, name, fields),
        _TITLE_TEST if facts.title else _ANY_TITLE_TEST,
        _HEADING_TEST,
        _NAV_TEST,
        _FORM_TEST,
        _COMMON_TESTS,
    ]
    if facts.has_nav_toggle:
        parts.append(_MENU_TEST)
    if facts.api_routes:
        parts.append(_API_TESTS)
    return "\n\n".join(part.strip("\n") for part in parts) + "\n"


def _module_header(facts: SiteFacts, name: str, fields: tuple[tuple[str, str], ...]) -> str:
    field_lines = "".join(f"    ({field_id!r}, {kind!r}),\n" for field_id, kind in fields)
    target_lines = "".join(f"    {target!r},\n" for target in facts.nav_targets)
    return f'''"""End-to-end tests for {_docstring_safe(name)}, written from its index.html.

Run against the deployed site: SITE_URL=https://... pytest e2e
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from playwright.sync_api import expect

EXPECTED_TITLE = {facts.title!r}
SITE_NAME = {name!r}
NAV_TARGETS = (
{target_lines})
FORM_ID = {facts.form_id!r}
API_ROUTES = {facts.api_routes!r}
FORM_FIELDS = (
{field_lines})
SAMPLE_VALUES = {{
    "text": "Test Visitor",
    "email": "visitor@example.com",
    "tel": "+1 555 0100",
    "url": "https://example.com",
    "number": "3",
    "date": "2030-06-01",
    "textarea": "Hello from the end-to-end tests.",
}}


def _exists(page, element_id: str) -> bool:
    return page.evaluate("id => document.getElementById(id) !== null", element_id)
'''


def _docstring_safe(text: str) -> str:
    return text.replace("\\", "/").replace('"""', "'''") or "the site"


_TITLE_TEST = """
def test_page_loads_with_title(site):
    assert site.response is not None, "no response from the site"
    assert site.response.status == 200
    assert site.page.title() == EXPECTED_TITLE
"""

_ANY_TITLE_TEST = """
def test_page_loads_with_title(site):
    assert site.response is not None, "no response from the site"
    assert site.response.status == 200
    assert site.page.title().strip(), "the page has no <title>"
"""

_HEADING_TEST = """
def test_h1_shows_site_name(site):
    heading = site.page.locator("h1").first
    expect(heading).to_be_visible()
    assert SITE_NAME in " ".join((heading.text_content() or "").split())
"""

_NAV_TEST = """
def test_nav_links_point_to_sections(site):
    page = site.page
    hrefs = page.locator("nav a[href^='#']").evaluate_all(
        "links => links.map(link => link.getAttribute('href'))"
    )
    for target in NAV_TARGETS:
        assert f"#{target}" in hrefs, f"the nav has no link to #{target}"
    for href in hrefs:
        assert _exists(page, href[1:]), f"nav link {href} points at nothing"
    if NAV_TARGETS:
        page.locator(f"nav a[href='#{NAV_TARGETS[0]}']").first.click()
        expect(page).to_have_url(re.compile(f"#{re.escape(NAV_TARGETS[0])}$"))
"""

_FORM_TEST = """
def test_contact_form_fields_are_fillable(site):
    page = site.page
    assert FORM_ID and _exists(page, FORM_ID), "the page has no contact form"
    assert FORM_FIELDS, "the contact form has no fields"
    form = page.locator(f"[id='{FORM_ID}']")
    for field_id, kind in FORM_FIELDS:
        field = form.locator(f"[id='{field_id}']")
        expect(field).to_be_visible()
        assert page.locator(f"label[for='{field_id}']").count() >= 1, f"{field_id} has no label"
        if kind == "select":
            field.select_option(index=0)
            continue
        if kind in ("checkbox", "radio"):
            field.check()
            continue
        value = SAMPLE_VALUES.get(kind, "Test value")
        field.fill(value)
        expect(field).to_have_value(value)
    url_before = page.url
    form.locator("[type='submit']").first.click()
    page.wait_for_timeout(200)
    assert page.url.split("#")[0] == url_before.split("#")[0], "submitting left the page"
    assert site.console_errors == []
"""

_COMMON_TESTS = '''
def test_images_load(site):
    broken = site.page.evaluate(
        """() => Array.from(document.images)
            .filter(img => img.loading !== "lazy")
            .filter(img => !(img.complete && img.naturalWidth > 0))
            .map(img => img.currentSrc || img.src)"""
    )
    assert broken == []


def test_no_console_errors(site):
    site.page.wait_for_timeout(300)
    assert site.console_errors == []


def test_phone_has_no_horizontal_scroll(phone_site):
    overflow = phone_site.page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at 375px wide"
'''

_MENU_TEST = """
def test_phone_menu_opens(phone_site):
    page = phone_site.page
    toggle = page.locator(".nav-toggle").first
    expect(toggle).to_be_visible()
    toggle.click()
    if NAV_TARGETS:
        expect(page.locator(f"nav a[href='#{NAV_TARGETS[0]}']").first).to_be_visible()
"""

_API_TESTS = """
def test_health_route_answers(site, site_url):
    response = site.page.request.get(urljoin(site_url, "healthz"))
    assert response.status == 200, f"healthz answered {response.status}"


def test_api_answers_json(site, site_url):
    for route in API_ROUTES:
        response = site.page.request.get(urljoin(site_url, route))
        assert response.status == 200, f"{route} answered {response.status}"
        assert response.headers.get("content-type", "").startswith("application/json")
        items = response.json().get("items")
        assert isinstance(items, list) and items, f"{route} returned no items"


def test_api_content_appears(site, site_url):
    for route in API_ROUTES:
        items = site.page.request.get(urljoin(site_url, route)).json()["items"]
        container = site.page.locator(f"[data-api='{route}']")
        expect(container.locator(".card")).to_have_count(len(items))
        expect(container).to_contain_text(items[0]["title"])
        expect(container).to_have_attribute("aria-busy", "false")
"""
