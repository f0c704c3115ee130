"""The offline model's dynamic site: a Node.js app that keeps the dynamic-site contract, whose
page is filled from its own API, and whose generated tests check that API-driven content."""

from __future__ import annotations

import ast
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tmux_builder.dynamic_site import HEALTH_PATH, PORT_ENV
from tmux_builder.offline_model.deliverables import build_deliverable
from tmux_builder.offline_model.dynamic_app_writer import (
    DYNAMIC_INDEX_PATH,
    PACKAGE_PATH,
    SERVER_PATH,
    api_route,
    data_path,
)
from tmux_builder.offline_model.prompt_file import PromptTask, parse_prompt_file
from tmux_builder.offline_model.site_design import design_site
from tmux_builder.offline_model.site_facts import read_site_facts
from tmux_builder.offline_model.tests_writer import TEST_PATH, generated_test_names
from tmux_builder.pipeline import Step

BAKERY = "A bakery named Golden Loaf in Lisbon, with its breads and opening hours"
HOSTILE = 'A shop named "Zoë\'s <script>alert(1)</script> & 🍰", playful'


def _task(step: Step, requirements: str = BAKERY, site_type: str = "dynamic") -> PromptTask:
    return PromptTask(
        step=step, task_id=f"{step.value}-x-a0", site_type=site_type, requirements=requirements
    )


def _code(requirements: str = BAKERY) -> dict[str, str]:
    return build_deliverable(_task(Step.GENERATE_CODE, requirements), {}).files


def test_generate_code_for_a_dynamic_site_writes_the_app() -> None:
    deliverable = build_deliverable(_task(Step.GENERATE_CODE), {})
    design = design_site(BAKERY)
    files = deliverable.files
    assert {SERVER_PATH, PACKAGE_PATH, DYNAMIC_INDEX_PATH, data_path(design)} <= set(files)
    assert "code/assets/styles.css" in files and "code/assets/script.js" in files
    assert "code/styles.css" not in files  # static files only from assets/
    package = json.loads(files[PACKAGE_PATH])
    assert package["scripts"]["start"] == "node server.js" and not package.get("dependencies")
    index = files[DYNAMIC_INDEX_PATH]
    assert f'data-api="{api_route(design)}"' in index
    assert 'href="assets/styles.css"' in index and 'src="assets/script.js"' in index
    assert "npm start" in deliverable.answer and api_route(design) in deliverable.answer
    items = json.loads(files[data_path(design)])["items"]
    assert items and all(item["title"] for item in items)
    # The same requirements as a static site: the static files, no server.
    static = build_deliverable(_task(Step.GENERATE_CODE, site_type="static"), {}).files
    assert SERVER_PATH not in static and "code/styles.css" in static


def test_the_plan_of_a_dynamic_site_names_the_server() -> None:
    answer = build_deliverable(_task(Step.CREATE_PLAN), {}).answer
    assert f"`{SERVER_PATH}`" in answer


def test_the_generated_tests_check_the_api_and_its_content() -> None:
    index = _code()[DYNAMIC_INDEX_PATH]
    facts = read_site_facts(index)
    assert facts.api_routes == (api_route(design_site(BAKERY)),)
    files = build_deliverable(_task(Step.E2E_TESTS), {DYNAMIC_INDEX_PATH: index}).files
    module = files[TEST_PATH]
    ast.parse(module)
    for name in ("test_health_route_answers", "test_api_answers_json", "test_api_content_appears"):
        assert f"def {name}(" in module and name in generated_test_names(facts)
    static_facts = read_site_facts(
        build_deliverable(_task(Step.GENERATE_CODE, site_type="static"), {}).files[
            DYNAMIC_INDEX_PATH
        ]
    )
    assert static_facts.api_routes == ()
    assert "test_api_answers_json" not in generated_test_names(static_facts)


def test_the_prompt_file_says_the_site_type() -> None:
    task = parse_prompt_file("# Task: generate_code\nSite type: Dynamic\n\n## Requirements\nx\n")
    assert task.site_type == "dynamic"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def running_app(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, Path]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    requirements = getattr(request, "param", BAKERY)
    for relative, content in _code(requirements).items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    port = _free_port()
    process = subprocess.Popen(
        [node, "server.js"],
        cwd=tmp_path / "code",
        env={"PATH": os.environ["PATH"], PORT_ENV: str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                requests.get(base + HEALTH_PATH, timeout=0.5)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                time.sleep(0.05)
        yield base, tmp_path / "code"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=10) == 0  # SIGTERM closes the server cleanly


def test_the_server_keeps_the_contract(running_app: tuple[str, Path]) -> None:
    base, code = running_app
    route = api_route(design_site(BAKERY))
    assert requests.get(base + HEALTH_PATH, timeout=5).json() == {"status": "ok"}
    page = requests.get(base + "/", timeout=5)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Golden Loaf" in page.text and page.headers["x-content-type-options"] == "nosniff"
    answer = requests.get(base + route, timeout=5)
    assert answer.headers["content-type"].startswith("application/json")
    assert [i["title"] for i in answer.json()["items"]] == [
        i["title"] for i in json.loads((code / "data" / f"{route[5:]}.json").read_text())["items"]
    ]
    css = requests.get(base + "/assets/styles.css", timeout=5)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    for hidden in (
        "/server.js",
        "/package.json",
        f"/data/{route[5:]}.json",
        "/assets/../server.js",
    ):
        assert requests.get(base + hidden, timeout=5).status_code == 404, hidden
    assert requests.get(base + "/api/nothing", timeout=5).status_code == 404
    assert requests.post(base + route, timeout=5).status_code == 405
    # The data file is read at each request: an edit shows without a restart.
    data = code / "data" / f"{route[5:]}.json"
    document = json.loads(data.read_text())
    document["items"][0]["title"] = "Fresh today"
    data.write_text(json.dumps(document))
    assert requests.get(base + route, timeout=5).json()["items"][0]["title"] == "Fresh today"


@pytest.mark.parametrize("running_app", [HOSTILE], indirect=True)
def test_hostile_names_stay_text(running_app: tuple[str, Path]) -> None:
    base, _ = running_app
    page = requests.get(base + "/", timeout=5).text
    assert "<script>alert(1)</script>" not in page
    assert requests.get(base + "/nope", timeout=5).status_code == 404
