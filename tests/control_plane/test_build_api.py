"""POST /api/create-user and GET /api/status through the Chalice app, with the real state
machine running the real Lambda steps in moto (the agent's part is played by the test)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tmux_builder import aws, naming
from tmux_builder.contracts import AgentEventEnvelope, AgentTask, StepStarted, StepSucceeded
from tmux_builder.pipeline import Step

GOOD = {
    "email": "ada@example.com",
    "host_provider": "aws",
    "site_type": "static",
    "requirements": "A portfolio website for a photographer named Ada, dark theme",
}


ADMIN: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _admin_headers(admin: dict[str, str]) -> None:
    ADMIN.update(admin)


def post(client: Any, body: Any, content_type: str = "application/json") -> Any:
    raw = body if isinstance(body, str) else json.dumps(body)
    headers = {"Content-Type": content_type, **ADMIN}
    return client.http.post("/api/create-user", headers=headers, body=raw)


def status(client: Any, execution_id: str) -> dict[str, Any]:
    response = client.http.get(f"/api/status/{execution_id}", headers=ADMIN)
    assert response.status_code == 200, response.body
    return json.loads(response.body)


def wait_for(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def receive_task(stack: Any, execution_id: str) -> tuple[AgentTask, str]:
    sqs = aws.client("sqs")

    def find() -> tuple[AgentTask, str] | None:
        answer = sqs.receive_message(
            QueueUrl=stack.outputs["AgentQueueUrl"], MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        for message in answer.get("Messages", []):
            body = json.loads(message["Body"])
            task = AgentTask.model_validate(body) if body.get("kind", "task") == "task" else None
            if task is not None and task.execution_id == execution_id:
                return task, message["ReceiptHandle"]
            sqs.change_message_visibility(
                QueueUrl=stack.outputs["AgentQueueUrl"],
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=0,
            )
        return None

    return wait_for(find)


def test_create_user_starts_the_pipeline_up_to_the_agent(client: Any, stack: Any) -> None:
    response = post(client, {**GOOD, "email": "first@example.com"})
    assert response.status_code == 202, response.body
    body = json.loads(response.body)
    assert body["is_new_user"] is True
    assert naming.USER_ID_RE.match(body["user_id"])
    assert naming.EXECUTION_ID_RE.match(body["execution_id"])

    again = json.loads(post(client, {**GOOD, "email": "FIRST@example.com"}).body)
    assert again["is_new_user"] is False
    assert again["user_id"] == body["user_id"]
    assert again["session_id"] != body["session_id"]

    task, _receipt = receive_task(stack, body["execution_id"])
    assert task.step is Step.CREATE_PLAN
    assert task.attempt == 0
    assert task.state.site is not None
    assert task.state.site.resource_name.startswith(f"tmux-{body['user_id'][:12]}-")
    assert task.state.requirements_key
    document = aws.client("s3").get_object(
        Bucket=stack.outputs["ArtifactsBucket"], Key=task.state.requirements_key
    )
    assert "photographer named Ada" in document["Body"].read().decode()

    current = status(client, body["execution_id"])
    assert current["status"] == "running"
    assert [s["status"] for s in current["steps"][:3]] == ["succeeded"] * 3
    assert current["current_step"] == "create_plan"
    assert [s["name"] for s in current["steps"]] == [s.value for s in Step]


def test_agent_events_show_up_in_status_and_never_go_backwards(client: Any, stack: Any) -> None:
    body = json.loads(post(client, {**GOOD, "email": "events@example.com"}).body)
    execution_id, user_id = body["execution_id"], body["user_id"]
    url = "http://127.0.0.1:9999"
    sqs = aws.client("sqs")

    def send(event: Any) -> None:
        sqs.send_message(
            QueueUrl=stack.outputs["EventsQueueUrl"],
            MessageBody=AgentEventEnvelope(event=event).model_dump_json(),
        )

    send(
        StepSucceeded(
            execution_id=execution_id, user_id=user_id, step=Step.DEPLOY, output={"url": url}
        )
    )
    send(
        StepStarted(execution_id=execution_id, user_id=user_id, step=Step.DEPLOY)
    )  # late duplicate
    current = wait_for(lambda: (s := status(client, execution_id))["deployed_url"] and s)
    deploy = next(s for s in current["steps"] if s["name"] == "deploy")
    assert current["deployed_url"] == url
    assert deploy["status"] == "succeeded"


def test_screenshots_and_the_e2e_report_are_linked_from_status(client: Any, stack: Any) -> None:
    body = json.loads(post(client, {**GOOD, "email": "pictures@example.com"}).body)
    execution_id, user_id = body["execution_id"], body["user_id"]
    shots = {v: f"executions/{execution_id}/screenshot-{v}.png" for v in ("desktop", "mobile")}
    shots["thumbnail"] = f"executions/{execution_id}/screenshot-thumbnail.png"
    report = f"executions/{execution_id}/e2e-report.xml"
    for step, output in (
        (Step.SCREENSHOT, shots),
        (Step.E2E_TESTS, {"passed": 5, "failed": 0, "errors": 0, "report_key": report}),
    ):
        aws.client("sqs").send_message(
            QueueUrl=stack.outputs["EventsQueueUrl"],
            MessageBody=AgentEventEnvelope(
                event=StepSucceeded(
                    execution_id=execution_id, user_id=user_id, step=step, output=output
                )
            ).model_dump_json(),
        )

    current = wait_for(
        lambda: (s := status(client, execution_id))["e2e"] and s["screenshots"] and s
    )

    links = current["screenshots"]
    assert all(links[f"{name}_url"].split("?")[0].endswith(key) for name, key in shots.items())
    assert current["screenshot_url"] == links["desktop_url"]
    assert current["e2e"]["ok"] is True and current["e2e"]["passed"] == 5
    assert current["e2e"]["report_url"].split("?")[0].endswith(report)


def test_a_failed_agent_step_ends_in_the_failure_path(client: Any, stack: Any) -> None:
    body = json.loads(post(client, {**GOOD, "email": "fails@example.com"}).body)
    task, receipt = receive_task(stack, body["execution_id"])
    aws.client("stepfunctions").send_task_failure(
        taskToken=task.task_token,
        error="PlanMissing",
        cause="the AI finished without writing plan.md",
    )
    aws.client("sqs").delete_message(QueueUrl=stack.outputs["AgentQueueUrl"], ReceiptHandle=receipt)
    final = wait_for(
        lambda: (s := status(client, body["execution_id"]))["status"] == "failed" and s
    )
    assert final["error"]["step"] == "create_plan"
    assert final["error"]["error"] == "PlanMissing"
    plan = next(s for s in final["steps"] if s["name"] == "create_plan")
    assert plan["status"] == "failed"
    assert any(a["type"] == "error" for a in final["activity"])
    sfn = aws.client("stepfunctions")
    machine = stack.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:")
    arn = f"{machine}:{body['execution_id']}"
    assert wait_for(lambda: sfn.describe_execution(executionArn=arn)["status"] == "FAILED")


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({**GOOD, "email": "nope"}, "email", 400),
        ({k: v for k, v in GOOD.items() if k != "requirements"}, "requirements", 400),
        ({**GOOD, "site_type": "serverless"}, "site_type", 400),
        ("{broken", "body", 400),
        ([1, 2, 3], "body", 400),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(client: Any, body: Any, field: str, code: int) -> None:
    response = post(client, body)
    assert response.status_code == code, response.body
    answer = json.loads(response.body)
    assert field in {f["field"] for f in answer["fields"]}


def test_unknown_or_malformed_execution_ids_are_404(client: Any) -> None:
    for execution_id in ("0123456789ab_sess_20260101T000000_abcdef", "..%2F..%2Fetc", "x" * 300):
        response = client.http.get(f"/api/status/{execution_id}", headers=ADMIN)
        assert response.status_code == 404
        assert json.loads(response.body)["error"] == "NotFound"
