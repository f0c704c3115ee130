"""Screenshots of a deployed site in the host's Chromium, through Playwright.

Playwright cannot download its own browser builds here, so every launch names the Debian
``chromium`` binary and turns off the browser's own network chatter (updates, sync): the
only traffic is the site under test.
"""

from __future__ import annotations

import shutil
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent.errors import ScreenshotError

if TYPE_CHECKING:
    from playwright.sync_api import Browser

# The real binary: /usr/bin/chromium is a shell wrapper that prints a warning on every start.
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")

CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-gpu",
]


class ChromiumNotFoundError(FileNotFoundError):
    """No Chromium binary on this host: a setup problem, not a failure of the site."""


@dataclass(frozen=True)
class Viewport:
    name: str
    width: int
    height: int
    mobile: bool = False
    # < 1 renders the page smaller: Chromium itself makes the thumbnail, no image library.
    scale: float = 1.0
    full_page: bool = True


DESKTOP = Viewport("desktop", 1280, 800)
MOBILE = Viewport("mobile", 390, 844, mobile=True)
# The first screen of the desktop view at a quarter of its size (320x200) for lists and cards.
THUMBNAIL = Viewport("thumbnail", 1280, 800, scale=0.25, full_page=False)
VIEWPORTS = (DESKTOP, MOBILE, THUMBNAIL)


def chromium_path(configured: str = "") -> str:
    """The Chromium to launch: the configured one, else the Debian package's binary."""
    if configured:
        if Path(configured).is_file():
            return configured
        raise ChromiumNotFoundError(f"configured chromium {configured!r} does not exist")
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    found = shutil.which("chromium")
    if found:
        return found
    raise ChromiumNotFoundError(
        "no Chromium found (looked in "
        + ", ".join(CHROMIUM_CANDIDATES)
        + " and PATH); install it with `apt-get install chromium`"
    )


def take_screenshots(
    url: str,
    out_dir: Path,
    chromium: str,
    *,
    timeout_s: float = 30.0,
    settle_timeout_s: float = 10.0,
) -> list[Path]:
    """Full-page PNGs of ``url`` at desktop (1280x800) and mobile (390x844) sizes, and a
    320x200 thumbnail of the desktop view's first screen.

    Returns ``[screenshot-desktop.png, screenshot-mobile.png, screenshot-thumbnail.png]`` in
    ``out_dir``. A page that
    answers HTTP >= 400 or cannot be loaded raises :class:`ScreenshotError`: a picture of an
    error page is not a screenshot of the site.
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                for viewport in VIEWPORTS:
                    path = out_dir / f"screenshot-{viewport.name}.png"
                    _capture(browser, url, viewport, path, timeout_s, settle_timeout_s)
                    paths.append(path)
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise ScreenshotError(f"could not capture {url}: {_first_line(exc)}") from exc
    return paths


def _capture(
    browser: Browser,
    url: str,
    viewport: Viewport,
    path: Path,
    timeout_s: float,
    settle_timeout_s: float,
) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    context = browser.new_context(
        viewport={"width": viewport.width, "height": viewport.height},
        is_mobile=viewport.mobile,
        has_touch=viewport.mobile,
        device_scale_factor=viewport.scale,
    )
    try:
        page = context.new_page()
        try:
            response = page.goto(url, wait_until="load", timeout=timeout_s * 1000)
        except PlaywrightTimeoutError as exc:
            raise ScreenshotError(f"{url} did not load within {timeout_s:.0f}s") from exc
        if response is None:
            raise ScreenshotError(f"{url} gave no HTTP response")
        if response.status >= 400:
            raise ScreenshotError(f"{url} answered HTTP {response.status}")
        # Pages that poll or stream never go idle; the loaded page is good enough then.
        with suppress(PlaywrightTimeoutError):
            page.wait_for_load_state("networkidle", timeout=settle_timeout_s * 1000)
        page.screenshot(path=str(path), full_page=viewport.full_page, timeout=timeout_s * 1000)
    finally:
        context.close()


def _first_line(exc: Exception) -> str:
    """Playwright messages carry a multi-line call log; its first line says what went wrong."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
