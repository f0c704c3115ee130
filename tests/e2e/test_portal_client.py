"""The client portal in a real browser (Debian Chromium) against the embedded stack, doing what a
person does: fill in the onboarding form, watch the nine steps turn green, chat with the AI,
upload a PNG, open the live site, come back through the personal link on a phone, redeploy.
A second user's browser, pointed at the first user's build all along, receives none of it.

Screenshots of every main screen (desktop and phone) go to ``test-output/portal-client/``.
"""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.launcher import ROOT
from tmux_builder.pipeline import STEPS

if TYPE_CHECKING:
    from playwright.sync_api import Browser, FilePayload, Page, Response, ViewportSize, WebSocket

pytestmark = [pytest.mark.e2e, pytest.mark.tmux, pytest.mark.claude, pytest.mark.browser]

SHOTS = ROOT / "test-output" / "portal-client"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
BUILD_TIMEOUT_MS = 180_000
# Realtime event types (the WebSocket protocol); none of these may reach another user.
EVENT_TYPES = {"step", "activity", "chat", "deployed", "screenshot", "execution"}
REFUSED = "This build belongs to another account"


def _png(width: int = 16, height: int = 16) -> bytes:
    """A real PNG (a small orange square): the server checks uploads by their bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + b"\xf0\x80\x20" * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def _snap(page: Page, name: str) -> None:
    """``{name}-desktop.png`` and ``{name}-phone.png`` of the whole page, back at desktop size."""
    page.screenshot(path=SHOTS / f"{name}-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=SHOTS / f"{name}-phone.png", full_page=True)
    page.set_viewport_size(DESKTOP)


@dataclass
class Observer:
    """A second user's browser tab, recording every API answer and socket frame it receives."""

    page: Page
    user_id: str
    # (url, status, body) of every API answer, read as it arrives (a later page drops bodies).
    responses: list[tuple[str, int, str | None]] = field(default_factory=list)
    frames: list[str] = field(default_factory=list)

    def watch(self) -> None:
        self.page.on("response", self._response)
        self.page.on("websocket", self._socket)

    def _response(self, response: Response) -> None:
        if "/api/" not in response.url:
            return
        try:
            body: str | None = response.body().decode(errors="replace")
        except Exception:  # an unreadable body fails the check in the test
            body = None
        self.responses.append((response.url, response.status, body))

    def _socket(self, socket: WebSocket) -> None:
        socket.on("framereceived", lambda payload: self.frames.append(str(payload)))


@dataclass
class FirstUser:
    """What the walkthrough learned about the first user, for the isolation check."""

    execution_ids: list[str] = field(default_factory=list)
    user_id: str = ""
    session_id: str = ""


@pytest.fixture(scope="module")
def stack(shared_stack: dict[str, Any]) -> dict[str, Any]:
    if not (ROOT / "frontend" / "dist" / "index.html").is_file():
        pytest.fail("the portal is not built: run `npm --prefix frontend run build` (make does)")
    return shared_stack


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    from agent.browser import chromium_path

    shutil.rmtree(SHOTS, ignore_errors=True)  # only this run's screens, never a stale one
    SHOTS.mkdir(parents=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=[
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def observer(stack: dict[str, Any], browser: Browser) -> Observer:
    """A second client, made by the admin (no build of its own), signed in through its link."""
    answer = requests.post(
        stack["api_url"] + "/api/admin/sessions",
        json={"email": "second.user@example.com", "client_name": "Second User"},
        headers={"Authorization": f"Bearer {stack['admin_token']}"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    created = answer.json()
    page = browser.new_context(viewport=PHONE).new_page()
    watcher = Observer(page=page, user_id=created["user_id"])
    watcher.watch()
    page.goto(created["client_url"])
    page.get_by_role("list", name="Your projects").wait_for()
    return watcher


@pytest.fixture(scope="module")
def first_user() -> FirstUser:
    return FirstUser()


def test_a_person_goes_from_the_form_to_a_live_site(
    stack: dict[str, Any], browser: Browser, observer: Observer, first_user: FirstUser
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()

    # Onboarding, with an inline error first.
    page.goto(stack["portal_url"] + "client_input")
    page.get_by_label("Your name").fill("Mei Tanaka")
    page.get_by_label("Email").fill("mei@")
    page.get_by_label("What should we build?").fill("A tea shop site with a dark theme")
    page.get_by_role("button", name="Start building").click()
    expect(page.get_by_text("Enter a valid email address.")).to_be_visible()
    _snap(page, "01-onboarding-invalid")
    page.get_by_label("Email").fill("mei@example.com")
    page.get_by_label("Phone").fill("+81 90 1234 5678")
    page.get_by_role("button", name="Start building").click()

    # The build page, live: the personal link is shown once; the steps turn green.
    page.wait_for_url("**/status/*", timeout=15_000)
    execution_id = urlsplit(page.url).path.rsplit("/", 1)[1]
    first_user.execution_ids.append(execution_id)
    # The second user now watches the first user's build, for the rest of the module.
    observer.page.goto(stack["portal_url"] + f"status/{execution_id}")
    refused = observer.page.get_by_role("heading", name=REFUSED)
    expect(refused).to_be_visible()

    personal_link = page.get_by_role("link", name="your personal link").get_attribute("href") or ""
    assert "/client#token=" in personal_link
    last = page.get_by_test_id(f"step-{STEPS[-1].value}")
    expect(last).not_to_have_attribute("data-status", "succeeded")
    expect(page.get_by_test_id("step-create_user")).to_have_attribute(
        "data-status", "succeeded", timeout=30_000
    )
    _snap(page, "02-building")
    for step in STEPS:
        expect(page.get_by_test_id(f"step-{step.value}")).to_have_attribute(
            "data-status", "succeeded", timeout=BUILD_TIMEOUT_MS
        )
    expect(page.get_by_text("Your site is live.")).to_be_visible(timeout=15_000)
    expect(page.get_by_test_id("e2e-result")).to_contain_text("E2E tests: passed")
    expect(page.get_by_alt_text("Screenshot of the deployed site")).to_be_visible()
    activity = page.get_by_role("list", name="Latest activity")
    expect(activity).to_contain_text("Storage bucket ready")
    expect(activity).not_to_contain_text("tmux-")
    status = requests.get(
        f"{stack['api_url']}/api/status/{execution_id}",
        headers={"Authorization": f"Bearer {stack['admin_token']}"},
        timeout=10,
    ).json()
    first_user.user_id, first_user.session_id = status["user_id"], status["session_id"]
    _snap(page, "03-live")

    # The live site, from its link.
    with page.expect_popup() as popup:
        page.get_by_role("link", name="http://127.0.0.1", exact=False).first.click()
    site = popup.value
    site.wait_for_load_state()
    expect(site.locator("h1").first).to_be_visible()
    assert "tea" in site.content().lower()
    site.screenshot(path=SHOTS / "04-live-site-desktop.png", full_page=True)
    site.close()

    # Chat: the answer comes back, rendered from markdown.
    page.get_by_label("Message to the AI").fill("What can you change on my site?")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_test_id("chat-user").last).to_contain_text("What can you change on my site?")
    answer = page.get_by_test_id("chat-assistant").last
    expect(answer).to_be_visible(timeout=60_000)
    expect(answer.locator("li").first).to_be_visible()
    expect(page.get_by_test_id("chat-user").last).to_have_attribute("data-status", "answered")

    # Upload a PNG: preview, then accepted after the server checked its bytes.
    png: FilePayload = {"name": "shop-logo.png", "mimeType": "image/png", "buffer": _png()}
    page.get_by_label("File to upload").set_input_files(png)
    expect(page.get_by_alt_text("Preview of shop-logo.png")).to_be_visible()
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_text("“shop-logo.png” was uploaded.", exact=False)).to_be_visible(
        timeout=30_000
    )
    expect(page.get_by_role("list", name="Uploaded files")).to_contain_text("shop-logo.png")
    # A file that is not what its name says is refused, with the reason.
    fake: FilePayload = {"name": "fake.png", "mimeType": "image/png", "buffer": b"just some text"}
    page.get_by_label("File to upload").set_input_files(fake)
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("alert")).to_be_visible(timeout=30_000)
    _snap(page, "05-chat-and-upload")
    context.close()

    # Later, on a phone, through the personal link only (a fresh browser profile).
    phone = browser.new_context(viewport=PHONE).new_page()
    phone.goto(personal_link)
    expect(phone).to_have_url(stack["portal_url"] + "client")
    project = phone.get_by_role("link", name="View build progress", exact=False)
    expect(project).to_be_visible(timeout=15_000)
    phone.screenshot(path=SHOTS / "06-projects-phone.png", full_page=True)
    phone.set_viewport_size(DESKTOP)
    phone.screenshot(path=SHOTS / "06-projects-desktop.png", full_page=True)
    phone.set_viewport_size(PHONE)
    project.click()
    expect(phone.get_by_text("Your site is live.")).to_be_visible(timeout=15_000)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the build page scrolls sideways on a phone ({width} px)"

    # Redeploy, confirmed, opens the new build, which goes live at the same address.
    phone.get_by_role("button", name="Redeploy…").click()
    phone.get_by_role("button", name="Yes, redeploy").click()
    phone.wait_for_url(
        lambda url: not url.endswith(f"/{execution_id}"), timeout=15_000, wait_until="commit"
    )
    new_id = urlsplit(phone.url).path.rsplit("/", 1)[1]
    first_user.execution_ids.append(new_id)
    expect(phone.get_by_text("Redeploy started")).to_be_visible()
    expect(phone.get_by_test_id("step-create_plan")).to_have_attribute("data-status", "skipped")
    expect(phone.get_by_text("Your site is live.")).to_be_visible(timeout=BUILD_TIMEOUT_MS)
    expect(phone.get_by_role("list", name="Builds of this site")).to_contain_text("Redeploy")
    phone.screenshot(path=SHOTS / "07-redeployed-phone.png", full_page=True)
    phone.context.close()


def test_a_second_user_receives_none_of_the_first_users_events(
    observer: Observer, first_user: FirstUser
) -> None:
    from playwright.sync_api import expect

    assert first_user.user_id, "needs the walkthrough above (same module) to have run"
    page = observer.page
    expect(page.get_by_role("heading", name=REFUSED)).to_be_visible()
    expect(page.get_by_role("list", name="Build steps")).to_have_count(0)
    page.screenshot(path=SHOTS / "08-second-user-refused-phone.png", full_page=True)

    private = [first_user.user_id, first_user.session_id]
    for frame in observer.frames:
        assert not any(value in frame for value in private), f"a frame leaked: {frame[:300]}"
        try:
            event = json.loads(frame)
        except ValueError:
            continue
        if isinstance(event, dict):
            assert event.get("type") not in EVENT_TYPES, f"an event reached the wrong user: {frame}"

    assert observer.responses, "the second user's browser asked the API nothing"
    for url, status, body in observer.responses:
        assert body is not None, f"could not read the answer of {url}"
        assert not any(value in body for value in private), f"{url} leaked: {body[:300]}"
        if any(e in url for e in first_user.execution_ids):
            assert status in (401, 403, 404), f"{url} answered {status}"

    # Their own project list still shows only their own project.
    page.goto(page.url.split("/status/")[0] + "/client")
    projects = page.get_by_role("list", name="Your projects").get_by_role("listitem")
    expect(projects).to_have_count(1)
    page.screenshot(path=SHOTS / "09-second-user-projects-phone.png", full_page=True)


def test_screenshots_of_every_main_screen_were_saved() -> None:
    names = sorted(p.name for p in SHOTS.glob("*.png"))
    for expected in (
        "01-onboarding-invalid-phone.png",
        "02-building-desktop.png",
        "03-live-phone.png",
        "05-chat-and-upload-desktop.png",
        "06-projects-phone.png",
    ):
        assert expected in names, names
    assert all((SHOTS / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in names)
