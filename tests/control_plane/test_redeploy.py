"""Redeploy: a finished build's site is deployed again by a new execution of the same state
machine that starts at deploy (or generate_code) and carries the same site names.

The test plays the agent: it answers each agent task the way the agent would, with a real
local HTTP server standing in for the deployed site so the real health_check step passes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from control_plane import auth
from tmux_builder import aws, naming
from tmux_builder.contracts import AgentTask
from tmux_builder.pipeline import Step

REQUIREMENTS = "A tea shop site with a dark theme and opening hours"
PAGE = b"<html><head><title>The Tea House</title></head><body><h1>The Tea House</h1></body></html>"


class _Site(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _wait(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _next_task(stack: Any, execution_id: str) -> AgentTask:
    sqs = aws.client("sqs")
    queue = stack.outputs["AgentQueueUrl"]

    def find() -> AgentTask | None:
        for message in sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", []):
            body = json.loads(message["Body"])
            task = AgentTask.model_validate(body) if body.get("kind", "task") == "task" else None
            if task is not None and task.execution_id == execution_id:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                return task
            sqs.change_message_visibility(
                QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return None

    return _wait(find)


def _answer(task: AgentTask, site_url: str) -> None:
    keys = naming.ArtifactKeys(task.user_id, task.session_id, task.execution_id)
    outputs: dict[Step, Any] = {
        Step.CREATE_PLAN: keys.plan,
        Step.GENERATE_CODE: keys.code_snapshot,
        Step.DEPLOY: {
            "url": site_url,
            "bucket": task.state.site.resource_name,
            "title": "The Tea House",
            "files": 3,
        },
        Step.SCREENSHOT: {"desktop": keys.screenshot(), "mobile": keys.screenshot("mobile")},
        Step.E2E_TESTS: {
            "passed": 5,
            "failed": 0,
            "errors": 0,
            "skipped": 0,
            "report_key": keys.e2e_report,
        },
    }
    aws.client("stepfunctions").send_task_success(
        taskToken=task.task_token, output=json.dumps(outputs[task.step])
    )


def _status(client: Any, execution_id: str, headers: dict[str, str]) -> dict[str, Any]:
    response = client.http.get(f"/api/status/{execution_id}", headers=headers)
    assert response.status_code == 200, response.body
    return json.loads(response.body)


def test_redeploy_starts_at_deploy_with_the_same_site(
    client: Any, stack: Any, admin: dict[str, str], site_url: str
) -> None:
    created = client.http.post(
        "/api/create-user",
        headers={"Content-Type": "application/json", **admin},
        body=json.dumps({"email": "redeploy@example.com", "requirements": REQUIREMENTS}),
    )
    build = json.loads(created.body)
    owner = {"Authorization": f"Bearer {build['client_token']}"}
    for _step in (
        Step.CREATE_PLAN,
        Step.GENERATE_CODE,
        Step.DEPLOY,
        Step.SCREENSHOT,
        Step.E2E_TESTS,
    ):
        task = _next_task(stack, build["execution_id"])
        assert task.state.identity_role_arn is None or task.state.identity_role_arn.endswith(
            f"tmux-user-{build['user_id'][:12]}"
        )
        _answer(task, site_url)
    finished = _wait(
        lambda: (s := _status(client, build["execution_id"], owner))["status"] == "succeeded" and s
    )
    assert finished["deployed_url"] == site_url

    other = {"Authorization": f"Bearer {auth.issue_client_token(naming.new_user_id())}"}
    assert (
        client.http.post(f"/api/redeploy/{build['execution_id']}", headers=other).status_code == 403
    )
    assert client.http.post(f"/api/redeploy/{build['execution_id']}").status_code == 401

    response = client.http.post(f"/api/redeploy/{build['execution_id']}", headers=owner)
    assert response.status_code == 202, response.body
    again = json.loads(response.body)
    assert again["execution_id"] == f"{build['execution_id']}_r1"
    assert again["from_step"] == "deploy"

    busy = client.http.post(f"/api/redeploy/{build['execution_id']}", headers=owner)
    assert busy.status_code == 409

    task = _next_task(stack, again["execution_id"])
    assert task.step is Step.DEPLOY
    assert task.state.mode == "redeploy"
    assert task.state.site is not None
    assert task.state.site.resource_name.startswith(f"tmux-{build['user_id'][:12]}-")
    assert task.state.snapshot_key and task.state.plan_key
    status = _status(client, again["execution_id"], owner)
    assert [s["status"] for s in status["steps"][:5]] == ["skipped"] * 5
    assert status["current_step"] == "deploy"
    _answer(task, site_url)
    for expected in (Step.SCREENSHOT, Step.E2E_TESTS):
        task = _next_task(stack, again["execution_id"])
        assert task.step is expected
        _answer(task, site_url)
    done = _wait(
        lambda: (s := _status(client, again["execution_id"], owner))["status"] == "succeeded" and s
    )
    assert done["deployed_url"] == finished["deployed_url"]


def test_redeploy_of_an_unknown_build_is_404(client: Any, admin: dict[str, str]) -> None:
    for execution_id in ("0123456789ab_sess_20260101T000000_abcdef", "not-an-id"):
        response = client.http.post(f"/api/redeploy/{execution_id}", headers=admin)
        assert response.status_code == 404


def test_redeploy_body_is_validated(client: Any, admin: dict[str, str]) -> None:
    response = client.http.post(
        "/api/redeploy/0123456789ab_sess_20260101T000000_abcdef",
        headers={"Content-Type": "application/json", **admin},
        body=json.dumps({"from_step": "create_user"}),
    )
    assert response.status_code == 400
    assert json.loads(response.body)["fields"][0]["field"] == "from_step"
