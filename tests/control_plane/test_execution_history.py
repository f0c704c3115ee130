"""GET /api/admin/executions/{execution_id}/history: the real Step Functions history (moto runs
the real ASL with the real Lambda steps), shaped per state, redacted, paginated, admin-only."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from control_plane.execution_history import (
    MAX_PAYLOAD_CHARS,
    MAX_STRING_CHARS,
    REDACTED,
    Redactor,
    shape_states,
)
from tmux_builder import aws
from tmux_builder.contracts import AgentTask

REQUEST = "A landing page for a pottery studio with class times and a booking form"


def _start_build(client: Any, admin: dict[str, str], email: str) -> dict[str, Any]:
    response = client.http.post(
        "/api/create-user",
        headers={"Content-Type": "application/json", **admin},
        body=json.dumps({"email": email, "requirements": REQUEST}),
    )
    assert response.status_code == 202, response.body
    return dict(json.loads(response.body))


def _wait_for(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _take_task(stack: Any, execution_id: str) -> AgentTask:
    """The agent's create_plan task of this build, taken off the queue as the agent would."""
    sqs = aws.client("sqs")
    queue = stack.outputs["AgentQueueUrl"]

    def find() -> AgentTask | None:
        for message in sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", []):
            body = json.loads(message["Body"])
            if body.get("kind", "task") == "task" and body["state"]["execution_id"] == execution_id:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                return AgentTask.model_validate(body)
            sqs.change_message_visibility(
                QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return None

    task: AgentTask = _wait_for(find)
    return task


def _history(client: Any, headers: dict[str, str], execution_id: str, query: str = "") -> Any:
    return client.http.get(f"/api/admin/executions/{execution_id}/history{query}", headers=headers)


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.body
    return dict(json.loads(response.body))


@pytest.fixture(scope="module")
def failed_build(client: Any, admin_token: str, stack: Any) -> dict[str, Any]:
    """A build that ran its three Lambda steps, then failed at create_plan through the agent's
    SendTaskFailure; with the task token the agent held."""
    admin = {"Authorization": f"Bearer {admin_token}"}
    build = _start_build(client, admin, "history@example.com")
    task = _take_task(stack, build["execution_id"])
    running = _ok(_history(client, admin, build["execution_id"]))
    aws.client("stepfunctions").send_task_failure(
        taskToken=task.task_token, error="PlanMissingError", cause="no plan.md"
    )

    def ended() -> dict[str, Any] | None:
        body = _ok(_history(client, admin, build["execution_id"]))
        return body if body["status"] != "RUNNING" else None

    return {**build, "running": running, "ended": _wait_for(ended), "token": task.task_token}


@pytest.fixture(scope="module")
def client(stack: Any) -> Any:  # module-wide: the build fixture above shares it
    from chalice.test import Client

    from control_plane.app import app

    with Client(app) as test_client:
        yield test_client


def test_each_state_shows_its_input_output_and_resource(failed_build: dict[str, Any]) -> None:
    running = failed_build["running"]
    assert running["status"] == "RUNNING"
    names = [s["name"] for s in running["states"]]
    assert names[:5] == [
        "choose_mode",
        "create_user",
        "create_session",
        "gather_requirements",
        "create_plan",
    ]
    by_name = {s["name"]: s for s in running["states"]}
    create_user = by_name["create_user"]
    assert create_user["type"] == "Task"
    assert create_user["status"] == "succeeded"
    assert create_user["resource"] == "lambda:invoke"
    assert create_user["attempts"] == 1
    assert create_user["input"]["value"]["user_id"] == failed_build["user_id"]
    assert create_user["output"]["value"]["identity_role_arn"].endswith(
        failed_build["user_id"][:12]
    )
    assert create_user["duration_seconds"] is not None
    assert [e["type"] for e in create_user["events"]][0] == "TaskStateEntered"
    assert by_name["choose_mode"]["type"] == "Choice"

    plan = by_name["create_plan"]
    assert plan["status"] == "running"
    assert plan["resource"] == "sqs:sendMessage.waitForTaskToken"
    assert plan["parameters"]["value"]["MessageBody"]["task_token"] == REDACTED
    assert plan["exited_at"] is None


def test_the_task_token_never_leaves_the_api(
    client: Any, admin: dict[str, str], failed_build: dict[str, Any]
) -> None:
    raw = _history(client, admin, failed_build["execution_id"]).body
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    assert failed_build["token"] not in text
    assert failed_build["token"] not in json.dumps(failed_build["running"])
    assert REDACTED in text


def test_a_failed_task_shows_its_error_and_the_failure_path(failed_build: dict[str, Any]) -> None:
    ended = failed_build["ended"]
    assert ended["status"] == "FAILED"
    assert ended["stopped_at"]
    by_name = {s["name"]: s for s in ended["states"]}
    plan = by_name["create_plan"]
    assert plan["status"] == "failed"
    assert [f["error"] for f in plan["failures"]] == ["PlanMissingError"]
    assert plan["failures"][0]["retried"] is False
    assert by_name["record_failure"]["status"] == "succeeded"
    assert by_name["pipeline_failed"]["status"] == "failed"
    assert ended["error"] == "PipelineFailed"


def test_pages_of_states_follow_the_cursor(
    client: Any, admin: dict[str, str], failed_build: dict[str, Any]
) -> None:
    execution_id = failed_build["execution_id"]
    everything = [s["name"] for s in failed_build["ended"]["states"]]
    seen: list[str] = []
    query = "?limit=2"
    pages = 0
    while True:
        page = _ok(_history(client, admin, execution_id, query))
        assert len(page["states"]) <= 2
        seen += [s["name"] for s in page["states"]]
        pages += 1
        if not page["next_cursor"]:
            break
        query = f"?limit=2&cursor={page['next_cursor']}"
    assert seen == everything
    assert pages == (len(everything) + 1) // 2


def test_bad_input_is_a_4xx_naming_the_field(
    client: Any, admin: dict[str, str], failed_build: dict[str, Any]
) -> None:
    execution_id = failed_build["execution_id"]
    for query, field in (("?cursor=abc", "cursor"), ("?limit=0", "limit"), ("?x=1", "x")):
        response = _history(client, admin, execution_id, query)
        assert response.status_code == 400, query
        assert field in [f["field"] for f in json.loads(response.body)["fields"]]
    unknown = failed_build["execution_id"][:-6] + "ffffff"
    assert _history(client, admin, unknown).status_code == 404
    assert _history(client, admin, "not-an-execution").status_code == 404


def test_only_the_admin_may_read_a_history(
    client: Any, admin: dict[str, str], failed_build: dict[str, Any]
) -> None:
    execution_id = failed_build["execution_id"]
    assert _history(client, {}, execution_id).status_code == 401
    own = {"Authorization": f"Bearer {failed_build['client_token']}"}
    assert _history(client, own, execution_id).status_code == 403


# -- the shaping rules on a history as AWS documents it (moto cannot produce retries here) --------


def _events(*specs: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    start = datetime(2026, 2, 4, 7, 0, tzinfo=UTC)
    detail_key = {
        "TaskStateEntered": "stateEnteredEventDetails",
        "TaskStateExited": "stateExitedEventDetails",
        "TaskScheduled": "taskScheduledEventDetails",
        "TaskFailed": "taskFailedEventDetails",
        "TaskSucceeded": "taskSucceededEventDetails",
    }
    return [
        {
            "id": n,
            "previousEventId": n - 1,
            "type": kind,
            "timestamp": start + timedelta(seconds=n),
            detail_key[kind]: details,
        }
        for n, (kind, details) in enumerate(specs, start=1)
    ]


def test_retries_count_as_attempts_and_secrets_are_blanked_everywhere() -> None:
    token = "AAAAtoken-value-0123456789"
    huge = "x" * (MAX_STRING_CHARS + 50)
    params = json.dumps(
        {"FunctionName": "health", "Payload": {"auth": {"apiKey": token}, "note": huge}}
    )
    events = _events(
        ("TaskStateEntered", {"name": "health_check", "input": "{}"}),
        ("TaskScheduled", {"resourceType": "lambda", "resource": "invoke", "parameters": params}),
        ("TaskFailed", {"error": "SiteNotReady", "cause": f"503 from the CDN ({token})"}),
        ("TaskScheduled", {"resourceType": "lambda", "resource": "invoke", "parameters": params}),
        ("TaskSucceeded", {"output": json.dumps({"ok": True})}),
        ("TaskStateExited", {"name": "health_check", "output": json.dumps({"blob": "y" * 40000})}),
    )
    redactor = Redactor()
    redactor.collect(json.loads(params))
    [(run, last)] = shape_states(events, redactor, execution_running=False)

    assert last == 6
    assert run.status == "succeeded"
    assert run.attempts == 2
    assert [(f.error, f.retried) for f in run.failures] == [("SiteNotReady", True)]
    assert token not in run.model_dump_json()
    assert run.failures[0].cause == f"503 from the CDN ({REDACTED})"
    assert run.parameters is not None and run.parameters.truncated
    assert run.parameters.value["Payload"]["auth"]["apiKey"] == REDACTED
    assert run.output is not None and run.output.truncated
    assert len(json.dumps(run.output.value)) <= MAX_PAYLOAD_CHARS + 2
    assert run.duration_seconds == 5.0


def test_a_last_failure_without_retry_fails_the_state() -> None:
    events = _events(
        ("TaskStateEntered", {"name": "deploy", "input": "{}"}),
        ("TaskScheduled", {"resourceType": "sqs", "resource": "sendMessage", "parameters": "{}"}),
        ("TaskFailed", {"error": "DeployError", "cause": "no bucket"}),
    )
    [(run, _)] = shape_states(events, Redactor(), execution_running=True)
    assert run.status == "failed"
    assert run.resource == "sqs:sendMessage"
    [(still, _)] = shape_states(events[:2], Redactor(), execution_running=True)
    assert still.status == "running"
