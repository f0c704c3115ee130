"""Forced failures end in the one failure path, naming the step and the error.

The real definition runs in moto with the real Lambda steps; the test plays the agent. Only
the clock is shortened: the copy of the state machine used here has the same states, Retry and
Catch rules, with 1 s retry intervals and a 3 s heartbeat, so that "the agent went silent" and
"every retry failed" take seconds instead of the minutes they take in the cloud.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.control_plane.test_build_api import ADMIN, GOOD, post, status, wait_for
from tmux_builder import aws, settings
from tmux_builder.contracts import AgentEventEnvelope, AgentTask, StepFailed
from tmux_builder.pipeline import Step

HEARTBEAT_SECONDS = 3


@pytest.fixture(autouse=True)
def _admin_headers(admin: dict[str, str]) -> None:
    ADMIN.update(admin)


def _shortened(definition: dict[str, Any]) -> dict[str, Any]:
    for state in definition["States"].values():
        if "HeartbeatSeconds" in state:
            state["HeartbeatSeconds"] = HEARTBEAT_SECONDS
        for rule in state.get("Retry", []):
            rule["IntervalSeconds"] = 1
            rule["BackoffRate"] = 1.0
            rule.pop("MaxDelaySeconds", None)
            rule.pop("JitterStrategy", None)
    return definition


@pytest.fixture(scope="module")
def fast_machine(stack: Any) -> str:
    sfn = aws.client("stepfunctions")
    real = sfn.describe_state_machine(stateMachineArn=stack.outputs["StateMachineArn"])
    definition = _shortened(json.loads(real["definition"]))
    return str(
        sfn.create_state_machine(
            name="tmux-builder-pipeline-shortened",
            definition=json.dumps(definition),
            roleArn=real["roleArn"],
        )["stateMachineArn"]
    )


@pytest.fixture
def shortened(fast_machine: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TMUX_BUILDER_STATE_MACHINE_ARN", fast_machine)
    monkeypatch.setenv("TMUX_BUILDER_HEALTH_CHECK_BUDGET_SECONDS", "1")
    settings.reload()
    yield
    monkeypatch.undo()
    settings.reload()


class PlayedAgent:
    """Answers the agent's tasks of one execution the way the test says."""

    def __init__(self, stack: Any, execution_id: str) -> None:
        self.queue = stack.outputs["AgentQueueUrl"]
        self.events_queue = stack.outputs["EventsQueueUrl"]
        self.execution_id = execution_id
        self.sqs = aws.client("sqs")
        self.sfn = aws.client("stepfunctions")

    def next_task(self, timeout: float = 20.0) -> AgentTask:
        def find() -> AgentTask | None:
            answer = self.sqs.receive_message(
                QueueUrl=self.queue, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            for message in answer.get("Messages", []):
                body = json.loads(message["Body"])
                task = (
                    AgentTask.model_validate(body) if body.get("kind", "task") == "task" else None
                )
                if task is not None and task.execution_id == self.execution_id:
                    self.sqs.delete_message(
                        QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"]
                    )
                    return task
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
            return None

        task: AgentTask = wait_for(find, timeout)
        return task

    def succeed(self, step: Step, output: Any) -> None:
        task = self.next_task()
        assert task.step is step
        self.sfn.send_task_success(taskToken=task.task_token, output=json.dumps(output))

    def fail(self, step: Step, error: str, cause: str) -> AgentTask:
        """Like agent/consumer.py: the step's failure event first, then the task's answer.

        (moto drops SendTaskFailure's cause from the Catch result; the event carries it.)
        """
        task = self.next_task()
        assert task.step is step
        event = StepFailed(
            execution_id=task.execution_id,
            user_id=task.user_id,
            step=step,
            attempt=task.attempt,
            error=error,
            cause=cause,
        )
        self.sqs.send_message(
            QueueUrl=self.events_queue,
            MessageBody=AgentEventEnvelope(event=event).model_dump_json(),
        )
        self.sfn.send_task_failure(taskToken=task.task_token, error=error, cause=cause)
        return task


def _start(client: Any, email: str) -> str:
    response = post(client, {**GOOD, "email": email})
    assert response.status_code == 202, response.body
    return str(json.loads(response.body)["execution_id"])


def _failed(client: Any, execution_id: str, timeout: float = 40.0) -> dict[str, Any]:
    done: Callable[[], Any] = lambda: (  # noqa: E731
        (s := status(client, execution_id))["status"] == "failed" and s
    )
    result: dict[str, Any] = wait_for(done, timeout)
    return result


def _step(current: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in current["steps"] if s["name"] == name)


def _code_written(agent: PlayedAgent) -> None:
    agent.succeed(Step.CREATE_PLAN, f"executions/{agent.execution_id}/plan.md")
    agent.succeed(Step.GENERATE_CODE, f"executions/{agent.execution_id}/code.tar.gz")


def test_a_deploy_error_is_retried_then_fails_the_build_at_deploy(
    client: Any, stack: Any, shortened: None
) -> None:
    execution_id = _start(client, "deploy-error@example.com")
    agent = PlayedAgent(stack, execution_id)
    _code_written(agent)
    attempts = [
        agent.fail(Step.DEPLOY, "DeployError", "Deploying tmux-x-site: AccessDenied on PutObject")
        for _ in range(3)  # the first try and its two retries
    ]

    final = _failed(client, execution_id)
    final = wait_for(lambda: (s := status(client, execution_id))["error"]["cause"] and s)

    assert [t.attempt for t in attempts] == [0, 1, 2]
    assert final["error"]["step"] == "deploy"
    assert final["error"]["error"] == "DeployError"
    assert "AccessDenied on PutObject" in final["error"]["cause"]
    assert _step(final, "deploy")["status"] == "failed"
    assert _step(final, "health_check")["status"] == "pending"
    assert any(a["type"] == "error" and "deploy" in a["message"].lower() for a in final["activity"])


def test_an_agent_silent_past_its_heartbeat_fails_the_build_at_that_step(
    client: Any, stack: Any, shortened: None
) -> None:
    execution_id = _start(client, "silent-agent@example.com")
    agent = PlayedAgent(stack, execution_id)
    taken = agent.next_task()  # taken, and then never a heartbeat nor an answer
    started = time.monotonic()
    # A silent agent may be a lost host: the step is offered once more (for another host).
    retried = agent.next_task()

    final = _failed(client, execution_id)

    assert taken.step is Step.CREATE_PLAN
    assert (retried.step, retried.attempt) == (Step.CREATE_PLAN, 1)
    assert time.monotonic() - started >= HEARTBEAT_SECONDS - 1
    assert final["error"]["step"] == "create_plan"
    # AWS names it States.HeartbeatTimeout (a States.Timeout); moto says States.Timeout.
    assert final["error"]["error"] in {"States.HeartbeatTimeout", "States.Timeout"}
    assert "agent stopped reporting progress" in final["error"]["cause"]
    assert _step(final, "create_plan")["status"] == "failed"


def test_a_site_that_never_answers_200_fails_the_build_at_health_check(
    client: Any, stack: Any, shortened: None
) -> None:
    execution_id = _start(client, "never-healthy@example.com")
    agent = PlayedAgent(stack, execution_id)
    _code_written(agent)
    agent.succeed(Step.DEPLOY, {"url": "http://127.0.0.1:9/", "title": "Ada", "files": 1})

    final = _failed(client, execution_id, timeout=60.0)

    assert final["error"]["step"] == "health_check"
    assert final["error"]["error"] == "SiteNotReady"
    assert "127.0.0.1:9" in final["error"]["cause"]
    health = _step(final, "health_check")
    assert health["status"] == "failed"
    assert health["attempts"] > 1  # retried before giving up
