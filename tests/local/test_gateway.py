"""The local gateway: /api through a Chalice app, the portal's files, SPA fallback, mounts."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from chalice import BadRequestError, Chalice

from tmux_builder.local.gateway import LocalApiServer


def _make_app() -> Chalice:
    app = Chalice(app_name="gateway-test")

    @app.route("/api/hello/{name}")
    def hello(name: str) -> dict[str, Any]:
        request = app.current_request
        return {
            "hello": name,
            "query": request.query_params,
            "source_ip": request.context["identity"]["sourceIp"],
            "stage": request.context["stage"],
        }

    @app.route("/api/echo", methods=["POST"], cors=True)
    def echo() -> dict[str, Any]:
        return {"got": app.current_request.json_body}

    @app.route("/api/boom")
    def boom() -> None:
        raise BadRequestError("nope")

    return app


@pytest.fixture
def portal(tmp_path: Path) -> Path:
    folder = tmp_path / "dist"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text("<!doctype html><title>portal</title><div id=root></div>")
    (folder / "assets" / "app-1234.js").write_text("console.log('portal')")
    (folder / "styles.css").write_text("body { color: black }")
    return folder


@pytest.fixture
def gateway(portal: Path) -> Iterator[LocalApiServer]:
    server = LocalApiServer(_make_app(), portal).start()
    try:
        yield server
    finally:
        server.stop()


def test_api_routes_reach_the_chalice_app(gateway: LocalApiServer) -> None:
    response = requests.get(f"{gateway.url}/api/hello/ada?lang=en", timeout=5)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "hello": "ada",
        "query": {"lang": "en"},
        "source_ip": "127.0.0.1",
        "stage": "api",
    }


def test_the_client_address_reaches_the_event(gateway: LocalApiServer) -> None:
    # Any 127/8 address is loopback on Linux: connect from another one to see it come through.
    connection = http.client.HTTPConnection(
        "127.0.0.1", gateway.port, timeout=5, source_address=("127.0.0.2", 0)
    )
    connection.request("GET", "/api/hello/bob")
    body = json.loads(connection.getresponse().read())
    connection.close()

    assert body["source_ip"] == "127.0.0.2"


def test_post_cors_and_errors(gateway: LocalApiServer) -> None:
    posted = requests.post(f"{gateway.url}/api/echo", json={"a": 1}, timeout=5)
    assert posted.status_code == 200
    assert posted.json() == {"got": {"a": 1}}
    assert posted.headers["Access-Control-Allow-Origin"] == "*"

    preflight = requests.options(f"{gateway.url}/api/echo", timeout=5)
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]

    failed = requests.get(f"{gateway.url}/api/boom", timeout=5)
    assert failed.status_code == 400
    assert failed.json()["Message"] == "nope"

    unknown = requests.get(f"{gateway.url}/api/no/such/route", timeout=5)
    assert unknown.status_code == 403
    assert unknown.json() == {"message": "Missing Authentication Token"}


def test_portal_files_have_their_content_types(gateway: LocalApiServer) -> None:
    index = requests.get(f"{gateway.url}/", timeout=5)
    assert index.status_code == 200
    assert index.headers["Content-Type"].startswith("text/html")
    assert "<title>portal</title>" in index.text
    assert index.headers["Cache-Control"] == "no-cache"

    script = requests.get(f"{gateway.url}/assets/app-1234.js", timeout=5)
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert script.text == "console.log('portal')"
    styles = requests.get(f"{gateway.url}/styles.css", timeout=5)
    assert styles.headers["Content-Type"].startswith("text/css")

    revalidated = requests.get(
        f"{gateway.url}/styles.css", headers={"If-None-Match": styles.headers["ETag"]}, timeout=5
    )
    assert revalidated.status_code == 304

    head = requests.head(f"{gateway.url}/styles.css", timeout=5)
    assert head.status_code == 200 and head.text == ""


def test_spa_fallback_only_for_paths_without_an_extension(
    gateway: LocalApiServer, portal: Path
) -> None:
    route = requests.get(f"{gateway.url}/sessions/abc123", timeout=5)
    assert route.status_code == 200
    assert "<title>portal</title>" in route.text

    missing = requests.get(f"{gateway.url}/assets/missing.js", timeout=5)
    assert missing.status_code == 404

    (portal.parent / "secret.txt").write_text("outside the portal")
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=5)
    connection.request("GET", "/../secret.txt")  # sent as is: requests would normalise it
    escape = connection.getresponse()
    assert (escape.status, escape.read()) == (404, b"Not Found")
    connection.close()


def test_a_missing_portal_is_a_clear_503(tmp_path: Path) -> None:
    with LocalApiServer(_make_app(), tmp_path / "not-built") as server:
        page = requests.get(f"{server.url}/", timeout=5)
        api = requests.get(f"{server.url}/api/hello/x", timeout=5)

    assert page.status_code == 503
    assert "not built" in page.text
    assert api.status_code == 200


def test_mounted_apps_take_their_prefix(gateway: LocalApiServer) -> None:
    def websocket_placeholder(environ: dict, start_response: Any) -> list[bytes]:
        start_response("426 Upgrade Required", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    gateway.mount("/ws", websocket_placeholder)

    response = requests.get(f"{gateway.url}/ws/connect", timeout=5)
    assert response.status_code == 426
    assert response.text == "/ws/connect"
    assert requests.get(f"{gateway.url}/wsx", timeout=5).status_code == 200  # SPA route
