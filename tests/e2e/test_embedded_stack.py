"""The whole system on one machine: `tmux-builder up`, then a real build through the CLI and
the public API, through all nine steps, with the real Claude Code CLI on the offline model."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from tests.e2e.launcher import ROOT, clean_environment, cli, running_stack
from tmux_builder.api_client import ApiClient
from tmux_builder.pipeline import STEPS

pytestmark = [pytest.mark.e2e, pytest.mark.tmux, pytest.mark.claude, pytest.mark.browser]
REQUIREMENTS = "A portfolio website for a photographer named Ada, dark theme"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_stack(tmp_path_factory.mktemp("stack")) as info:
        yield info


def _aws(info: dict[str, Any], service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=info["aws_endpoint"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_a_site_is_built_end_to_end(stack: dict[str, Any], tmp_path: Path) -> None:
    env = clean_environment()
    built = subprocess.run(
        cli(
            "--state-dir",
            str(stack["state_dir"]),
            "build",
            REQUIREMENTS,
            "--output-dir",
            str(tmp_path),
        ),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    logs = "\n".join(p.read_text() for p in (stack["state_dir"] / "logs").glob("*.log"))
    assert built.returncode == 0, (
        f"{built.stdout}\n{built.stderr}\n--- agent log ---\n{logs[-4000:]}"
    )
    assert "Live URL:" in built.stdout
    assert "Time from request to live URL" in built.stdout

    execution_id = built.stdout.split("Build ", 1)[1].split()[0]
    admin_token = (stack["state_dir"] / "admin-token").read_text().strip()
    status = ApiClient(stack["api_url"], token=admin_token).status(execution_id)
    assert status["status"] == "succeeded"
    assert [s["status"] for s in status["steps"]] == ["succeeded"] * 9

    page = requests.get(status["deployed_url"], timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Ada" in page.text
    assert "<title>" in page.text

    png = requests.get(status["screenshot_url"], timeout=10).content
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    saved = next(tmp_path.rglob("screenshot.png"))
    assert saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert status["e2e"]["ok"] is True
    assert status["e2e"]["passed"] >= 3

    sfn = _aws(stack, "stepfunctions")
    arn = stack["state_machine_arn"].replace(":stateMachine:", ":execution:") + f":{execution_id}"
    events = sfn.get_execution_history(executionArn=arn)["events"]
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]
    exited = [
        e["stateExitedEventDetails"]["name"] for e in events if "stateExitedEventDetails" in e
    ]
    for step in STEPS:
        assert step.value in entered, f"{step.value} never entered"
        assert step.value in exited, f"{step.value} never succeeded"
    # record_success writes the record a moment before Step Functions closes the execution.
    deadline = time.monotonic() + 10
    while (
        sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"

    bucket = next(
        r
        for r in _aws(stack, "s3").list_buckets()["Buckets"]
        if r["Name"].startswith(f"tmux-{status['user_id'][:12]}-")
    )
    block = _aws(stack, "s3").get_public_access_block(Bucket=bucket["Name"])[
        "PublicAccessBlockConfiguration"
    ]
    assert all(block.values())


def test_the_portal_starts_a_build_and_follows_it(stack: dict[str, Any]) -> None:
    """What a person does: fill in the onboarding form, watch the status page to the live site,
    then open the client link in a fresh browser and find the project there."""
    from urllib.parse import quote, urlsplit

    from playwright.sync_api import expect, sync_playwright

    from agent.browser import chromium_path

    shots = ROOT / "test-output"
    shots.mkdir(exist_ok=True)
    phone = {"width": 390, "height": 844}
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
            page = browser.new_page(viewport=phone)
            page.goto(stack["portal_url"] + "client_input")
            page.get_by_label("Your name").fill("Tea Lover")
            page.get_by_label("Email").fill("not-an-email")
            page.get_by_label("What should we build?").fill("A tea shop site with a dark theme")
            page.get_by_role("button", name="Start building").click()
            expect(page.get_by_text("valid email", exact=False).first).to_be_visible()
            page.get_by_label("Email").fill("tea@example.com")
            page.screenshot(path=shots / "portal-onboarding.png", full_page=True)
            page.get_by_role("button", name="Start building").click()
            page.wait_for_url("**/status/*", timeout=15_000)
            status_path = urlsplit(page.url).path
            expect(page.get_by_text("Your site is live.")).to_be_visible(timeout=180_000)
            live = page.get_by_role("link", name="http://127.0.0.1", exact=False).first
            expect(live).to_be_visible()
            expect(page.get_by_alt_text("Screenshot of the deployed site")).to_be_visible()
            page.screenshot(path=shots / "portal-status.png", full_page=True)
            site = requests.get(live.get_attribute("href") or "", timeout=10).text
            assert "tea" in site.lower()

            token = page.evaluate("() => window.localStorage.getItem('tmuxBuilder.clientToken')")
            assert token, "onboarding did not keep the client token"
            # A fresh browser profile: the token can only come from the link's fragment.
            client = browser.new_context(viewport=phone).new_page()
            client.goto(stack["portal_url"] + "client#token=" + quote(token, safe=""))
            expect(client).to_have_url(stack["portal_url"] + "client")
            project = client.locator(f'a[href="{status_path}"]')
            expect(project).to_be_visible(timeout=15_000)
            stored = client.evaluate("() => window.localStorage.getItem('tmuxBuilder.clientToken')")
            assert stored == token
            client.screenshot(path=shots / "portal-client.png", full_page=True)
            project.click()
            expect(client.get_by_text("Your site is live.")).to_be_visible(timeout=15_000)
        finally:
            browser.close()


def test_the_cli_reports_a_refused_build_with_exit_2(stack: dict[str, Any]) -> None:
    env = clean_environment()
    refused = subprocess.run(
        cli("--state-dir", str(stack["state_dir"]), "build", "tiny site"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "requirements" in refused.stdout


def test_no_credential_reaches_the_ai_or_the_logs(stack: dict[str, Any]) -> None:
    """After real builds: no secret in any pane environment, prompt, session folder or log."""
    import re

    state_dir: Path = stack["state_dir"]
    secrets_manager = _aws(stack, "secretsmanager")
    known = [(state_dir / "admin-token").read_text().strip()]
    for secret in secrets_manager.list_secrets()["SecretList"]:
        known.append(secrets_manager.get_secret_value(SecretId=secret["ARN"])["SecretString"])
    patterns = re.compile(rb"(AKIA|ASIA)[0-9A-Z]{16}|aws_secret_access_key|SecretAccessKey")
    scanned = 0
    for folder in (state_dir / "agents", state_dir / "logs"):
        for path in folder.rglob("*"):
            if not path.is_file() or path.is_symlink() or path.stat().st_size > 5_000_000:
                continue
            data = path.read_bytes()
            scanned += 1
            for value in known:
                assert value.encode() not in data, f"a secret is in {path}"
            assert not patterns.search(data), f"a credential-like value is in {path}"
    assert scanned > 20, "the builds left their session folders to scan"

    sessions_seen = 0
    for agent in stack["agents"]:
        panes = subprocess.run(
            ["tmux", "-L", agent["tmux_socket"], "list-panes", "-a", "-F", "#{pane_pid}"],
            capture_output=True,
            text=True,
        )
        for pid in panes.stdout.split():
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            names = {entry.split(b"=", 1)[0] for entry in environ if entry}
            assert not [n for n in names if n.startswith(b"AWS_")], names
            for value in known:
                assert value.encode() not in b"\0".join(environ)
            sessions_seen += 1
    assert sessions_seen >= 1


def test_a_chat_change_then_redeploy_serves_new_content_at_the_same_url(
    stack: dict[str, Any],
) -> None:
    """Issue 5's check: the same URL and distribution, the new content, nothing new created."""
    admin_token = (stack["state_dir"] / "admin-token").read_text().strip()
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {admin_token}"
    base = stack["api_url"].rstrip("/")

    def wait_status(execution_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            current = api.get(f"{base}/api/status/{execution_id}", timeout=10).json()
            if current["status"] != "running":
                return dict(current)
            time.sleep(0.5)
        raise AssertionError(f"{execution_id} still running")

    started = api.post(
        f"{base}/api/create-user",
        json={
            "email": "redeploy@example.com",
            "host_provider": "aws",
            "site_type": "static",
            "requirements": "A one-page site for a tea shop called Leaf and Cup",
        },
        timeout=30,
    ).json()
    first = wait_status(started["execution_id"])
    assert first["status"] == "succeeded", first.get("error")
    url = first["deployed_url"]
    cloudfront = _aws(stack, "cloudfront")
    distributions = cloudfront.list_distributions()["DistributionList"].get("Items", [])

    sent = api.post(
        f"{base}/api/chat/{started['execution_id']}",
        json={"message": "Change the headline to Fresh leaves every single morning"},
        timeout=10,
    )
    assert sent.status_code == 202, sent.text
    deadline = time.monotonic() + 120
    answered: list[dict[str, Any]] = []
    while not answered and time.monotonic() < deadline:
        history = api.get(f"{base}/api/chat/{started['execution_id']}/history", timeout=10).json()
        answered = [
            m
            for m in history["messages"]
            if m["role"] == "assistant" and m["in_reply_to"] == sent.json()["message_id"]
        ]
        time.sleep(0.5)
    assert answered and answered[0]["status"] != "failed", answered
    assert "Fresh leaves every single morning" not in requests.get(url, timeout=10).text

    again = api.post(
        f"{base}/api/redeploy/{started['execution_id']}", json={"from_step": "deploy"}, timeout=30
    )
    assert again.status_code == 202, again.text
    second = wait_status(again.json()["execution_id"])

    assert second["status"] == "succeeded", second.get("error")
    assert second["deployed_url"] == url
    assert "Fresh leaves every single morning" in requests.get(url, timeout=10).text
    skipped = [s["name"] for s in second["steps"] if s["status"] == "skipped"]
    assert skipped == [s.value for s in STEPS[:5]]
    after = cloudfront.list_distributions()["DistributionList"].get("Items", [])
    assert sorted(d["Id"] for d in after) == sorted(d["Id"] for d in distributions)


def test_ctrl_c_leaves_no_process_behind(stack: dict[str, Any]) -> None:
    process: subprocess.Popen[bytes] = stack["process"]
    agent_pids = [a["pid"] for a in stack["agents"]]
    sockets = [a["tmux_socket"] for a in stack["agents"]]
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    for pid in agent_pids:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )
    for socket in sockets:
        listing = subprocess.run(
            ["tmux", "-L", socket, "list-sessions"], capture_output=True, text=True
        )
        assert listing.returncode != 0, listing.stdout
    assert not (stack["state_dir"] / "stack.json").exists()
    assert _processes_working_in(stack["state_dir"]) == []


def _processes_working_in(folder: Path) -> list[str]:
    """Commands of live processes whose working directory is inside ``folder`` (CLIs, tests)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            state = (proc / "status").read_text()
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(str(folder)) and "zombie" not in state:
            found.append(command)
    return found
