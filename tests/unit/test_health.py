from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from control_plane.errors import InvalidStepInput, SiteNotReady
from control_plane.health import check_site
from tmux_builder.contracts import DeployResult


class _Site(BaseHTTPRequestHandler):
    answers: list[tuple[int, str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        status, content_type, body = (
            self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        )
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[tuple[str, type[_Site]]]:
    handler = type("Site", (_Site,), {"answers": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", handler
    server.shutdown()
    server.server_close()


PAGE = "<html><head><title>Ada &mdash; Photography</title></head><body><h1>Ada</h1></body></html>"


def test_healthy_after_the_cdn_warms_up(site: tuple[str, type[_Site]]) -> None:
    url, handler = site
    handler.answers[:] = [
        (403, "text/html", "denied"),
        (200, "text/plain", "x"),
        (200, "text/html", PAGE),
    ]
    messages: list[str] = []
    result = check_site(
        DeployResult(url=url, title="Ada &mdash; Photography"),
        budget_seconds=30,
        allow_internal=True,
        progress=messages.append,
        sleep=lambda _s: None,
    )
    assert result.status_code == 200
    assert result.attempts == 3
    assert any("HTTP 403" in m for m in messages)


def test_never_ready_raises_site_not_ready(site: tuple[str, type[_Site]]) -> None:
    url, handler = site
    handler.answers[:] = [(200, "text/html", "<title>Someone else</title>")]
    with pytest.raises(SiteNotReady, match="title"):
        check_site(DeployResult(url=url, title="Ada"), budget_seconds=2, allow_internal=True)


def test_internal_addresses_need_the_local_environment(site: tuple[str, type[_Site]]) -> None:
    url, _handler = site
    with pytest.raises(InvalidStepInput, match="internal"):
        check_site(DeployResult(url=url, title="Ada"), budget_seconds=1, allow_internal=False)
    with pytest.raises(InvalidStepInput, match="http"):
        check_site(
            DeployResult(url="file:///etc/passwd", title="x"), budget_seconds=1, allow_internal=True
        )
