"""Screenshots in the host's real Chromium, of a site served from a temporary folder."""

from __future__ import annotations

import functools
import struct
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agent.browser import ChromiumNotFoundError, chromium_path, take_screenshots
from agent.errors import ScreenshotError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site_url(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text(
        "<!doctype html><html><head><title>Bakery</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        '<body style="margin:0"><h1>Fresh bread</h1><div style="height:1500px;background:#fc0">'
        "</div></body></html>"
    )
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_chromium_path_prefers_configured_and_explains_missing(tmp_path: Path) -> None:
    binary = tmp_path / "chromium"
    binary.write_text("")
    assert chromium_path(str(binary)) == str(binary)
    with pytest.raises(ChromiumNotFoundError, match="does not exist"):
        chromium_path(str(tmp_path / "nope"))


def test_chromium_path_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agent.browser.CHROMIUM_CANDIDATES", ())
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ChromiumNotFoundError, match="apt-get install chromium"):
        chromium_path()


@pytest.mark.browser
def test_desktop_and_mobile_full_page_screenshots_and_a_thumbnail(
    site_url: str, tmp_path: Path
) -> None:
    paths = take_screenshots(f"{site_url}/", tmp_path / "shots", chromium_path())

    assert [p.name for p in paths] == [
        "screenshot-desktop.png",
        "screenshot-mobile.png",
        "screenshot-thumbnail.png",
    ]
    desktop_width, desktop_height = png_size(paths[0])
    mobile_width, mobile_height = png_size(paths[1])
    assert desktop_width == 1280 and desktop_height > 1500  # full page, not just the viewport
    assert mobile_width == 390 and mobile_height > 1500
    assert png_size(paths[2]) == (320, 200)  # the first screen, a quarter of the size


@pytest.mark.browser
def test_http_error_is_a_screenshot_error(site_url: str, tmp_path: Path) -> None:
    with pytest.raises(ScreenshotError, match="HTTP 404") as caught:
        take_screenshots(f"{site_url}/missing.html", tmp_path / "shots", chromium_path())
    assert "/missing.html" in str(caught.value)
    assert caught.value.error_code == "ScreenshotError"


@pytest.mark.browser
def test_unreachable_site_is_a_screenshot_error(tmp_path: Path) -> None:
    with pytest.raises(ScreenshotError, match="127.0.0.1:9"):
        take_screenshots("http://127.0.0.1:9/", tmp_path / "shots", chromium_path())
