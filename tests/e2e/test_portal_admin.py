"""The admin portal in a real browser against the embedded stack: the admin pages need the
login, a wrong (or a client's) token is refused, and the admin finds a built session, watches
its pane and execution history in the split view, and deletes the user after confirming.

Screenshots of each admin screen go to ``test-output/`` (as the other portal test's do)."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
import requests

from tests.e2e.launcher import ROOT, finished_build
from tmux_builder.api_client import ApiClient

pytestmark = [pytest.mark.e2e, pytest.mark.tmux, pytest.mark.claude, pytest.mark.browser]
REQUIREMENTS = "A one-page site for a pottery studio called Kiln, with class times, warm colours"
SHOTS = ROOT / "test-output"


@pytest.fixture(scope="module")
def stack(shared_stack: dict[str, Any]) -> dict[str, Any]:
    return shared_stack


def _pane_line(info: dict[str, Any], session_id: str) -> str:
    """A distinctive line of the session's pane, as the API has it."""
    response = requests.get(
        f"{info['api_url'].rstrip('/')}/api/admin/sessions/{session_id}/pane",
        headers={"Authorization": f"Bearer {info['admin_token']}"},
        timeout=10,
    )
    response.raise_for_status()
    lines = [line.strip() for line in response.json()["text"].splitlines()]
    words = [line for line in lines if len(line) > 12 and re.search(r"[A-Za-z]{4}", line)]
    assert words, f"the pane capture is empty: {response.json()}"
    return max(words, key=len)[:60]


def test_the_admin_finds_watches_and_deletes_a_user(stack: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    from agent.browser import chromium_path

    api = ApiClient(stack["api_url"], token=stack["admin_token"])
    email = f"kiln-{secrets.token_hex(3)}@example.com"
    started = api.create_user(email, REQUIREMENTS, "aws", "static")
    portal = stack["portal_url"]
    SHOTS.mkdir(exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=[
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})

            # Every admin page needs the login; a wrong token and a client's token are refused.
            page.goto(portal + "admin/sessions")
            page.wait_for_url("**/admin/login?next=*")
            expect(page.get_by_role("heading", name="Admin sign-in")).to_be_visible()
            page.goto(portal + f"admin/sessions/{started['session_id']}")
            page.wait_for_url("**/admin/login?next=*")
            token_field = page.get_by_label("Admin token")
            token_field.fill("not-the-admin-token")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_text("That admin token is not valid.")).to_be_visible()
            token_field.fill(started["client_token"])
            page.get_by_role("button", name="Sign in").click()
            expect(
                page.get_by_text("That is a client link token, not the admin token.")
            ).to_be_visible()
            page.screenshot(path=SHOTS / "admin-login.png")
            assert page.evaluate("() => sessionStorage.length") == 0

            token_field.fill(stack["admin_token"])
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"**/admin/sessions/{started['session_id']}")
            stored = page.evaluate("() => sessionStorage.getItem('tmuxBuilder.adminToken')")
            assert stored == stack["admin_token"]

            status = finished_build(api, started["execution_id"], stack)

            # Find the built session in the list by searching its e-mail.
            page.get_by_role("link", name="Sessions", exact=True).click()
            page.get_by_role("searchbox", name="Search sessions").fill(email)
            page.get_by_role("button", name="Search").click()
            row_link = page.get_by_role("link", name=f"Open the session of {email}")
            expect(row_link).to_be_visible(timeout=15_000)
            expect(page.get_by_role("table")).to_contain_text("live", timeout=15_000)
            page.screenshot(path=SHOTS / "admin-sessions.png", full_page=True)
            row_link.click()

            # The split view: chat | activity, the pane, the execution history.
            expect(page.get_by_role("heading", name=email)).to_be_visible()
            expect(page.get_by_role("region", name="Chat")).to_be_visible()
            expect(page.get_by_role("region", name="Activity")).to_be_visible()
            pane = page.get_by_label("Pane text")
            expect(pane).to_contain_text(_pane_line(stack, started["session_id"]), timeout=10_000)
            states = page.get_by_role("list", name="States")
            for name in ("create_user", "deploy", "e2e_tests", "record_success"):
                expect(states.locator(f'details[data-state="{name}"]')).to_be_visible()
            deploy = states.locator('details[data-state="deploy"]')
            deploy.locator("summary").first.click()
            expect(deploy).to_contain_text("sqs:sendMessage.waitForTaskToken")
            expect(deploy).to_contain_text("[redacted]")
            expect(deploy).to_contain_text(status["deployed_url"].rstrip("/"))
            page.screenshot(path=SHOTS / "admin-session.png", full_page=True)

            # Delete the user, after a confirmation that names them.
            page.get_by_role("button", name="Delete user").click()
            dialog = page.get_by_role("dialog", name=f"Delete the user {email}?")
            expect(dialog).to_be_visible()
            page.screenshot(path=SHOTS / "admin-delete-confirm.png")
            dialog.get_by_role("button", name="Delete user").click()
            page.wait_for_url("**/admin/sessions?filter=deleted", timeout=60_000)
            expect(page.get_by_role("tab", name="Deleted")).to_have_attribute(
                "aria-selected", "true"
            )
            page.get_by_role("searchbox", name="Search sessions").fill(email)
            page.get_by_role("button", name="Search").click()
            expect(page.get_by_role("link", name=f"Open the session of {email}")).to_be_visible()
            expect(page.get_by_role("table")).to_contain_text("deleted")
            page.screenshot(path=SHOTS / "admin-deleted.png", full_page=True)

            page.get_by_role("link", name="Requests").click()
            expect(page.get_by_role("heading", name="Onboarding requests")).to_be_visible()
            page.screenshot(path=SHOTS / "admin-requests.png", full_page=True)
            page.get_by_role("link", name="New session").first.click()
            expect(page.get_by_role("heading", name="New session")).to_be_visible()
            page.screenshot(path=SHOTS / "admin-new-session.png", full_page=True)
        finally:
            browser.close()

    site = requests.get(status["deployed_url"], timeout=10)
    assert site.status_code != 200 or "Kiln" not in site.text, "the deleted site is still served"
