"""The agent's queue consumer against in-process moto: a real state machine waiting for a task
token, a real queue with its dead-letter queue, the one table holding the task ledger.

The step handler is a plain function: it is the consumer's port, not one of our classes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from agent.consumer import LEASE_MARGIN_SECONDS, Consumer
from agent.errors import CodeMissingError
from agent.events import EventPublisher
from agent.task_ledger import ClaimState, Outcome, TaskLedger, token_digest
from tmux_builder import aws, keys
from tmux_builder.contracts import (
    AgentEventEnvelope,
    AgentTask,
    PipelineState,
    StepFailed,
    StepStarted,
    StepSucceeded,
)
from tmux_builder.naming import new_user_id
from tmux_builder.pipeline import AGENT_STEPS
from tmux_builder.settings import AgentSettings

ROOT = Path(__file__).resolve().parents[2]
TABLE = "tmux-builder-table"
MAX_RECEIVE_COUNT = 5  # template.yaml, AgentQueue RedrivePolicy


@dataclass
class Cloud:
    queue: str
    dlq: str
    events_queue: str
    role_arn: str
    executions: list[str] = field(default_factory=list)

    def start(self, step: str = "generate_code", heartbeat_seconds: int = 120) -> str:
        """A one-state machine sending ``step`` to the agent queue, as pipeline.asl.json does."""
        sfn = aws.client("stepfunctions")
        number = len(self.executions)
        definition = {
            "StartAt": step,
            "States": {
                step: {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "HeartbeatSeconds": heartbeat_seconds,
                    "Parameters": {
                        "QueueUrl": self.queue,
                        "MessageBody": {
                            "version": 1,
                            "task_token.$": "$$.Task.Token",
                            "step": step,
                            "attempt.$": "$$.State.RetryCount",
                            "state.$": "$",
                        },
                    },
                    "End": True,
                }
            },
        }
        machine = sfn.create_state_machine(
            name=f"pipeline-{number}", definition=json.dumps(definition), roleArn=self.role_arn
        )["stateMachineArn"]
        execution_id = f"exec-{number}-{time.monotonic_ns()}"
        state = PipelineState(execution_id=execution_id, user_id=new_user_id(), session_id="s1")
        arn = sfn.start_execution(
            stateMachineArn=machine, name=execution_id, input=state.model_dump_json()
        )["executionArn"]
        self.executions.append(arn)
        return arn

    def finished(self, arn: str, timeout: float = 20.0) -> dict[str, Any]:
        sfn = aws.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING" or time.monotonic() > deadline:
                return described
            time.sleep(0.05)

    def take(self, visibility: int = 30) -> tuple[AgentTask, str]:
        """Receive the next task as some agent would; returns it with its receipt handle."""
        for _ in range(50):
            messages = (
                aws.client("sqs")
                .receive_message(
                    QueueUrl=self.queue, WaitTimeSeconds=1, VisibilityTimeout=visibility
                )
                .get("Messages", [])
            )
            if messages:
                message = messages[0]
                return AgentTask.model_validate_json(message["Body"]), message["ReceiptHandle"]
        raise AssertionError("no task on the queue")

    def put_back(self, receipt: str) -> None:
        aws.client("sqs").change_message_visibility(
            QueueUrl=self.queue, ReceiptHandle=receipt, VisibilityTimeout=0
        )

    def depth(self, queue: str | None = None) -> tuple[int, int]:
        """(visible, in flight) messages of the agent queue (or ``queue``)."""
        attributes = aws.client("sqs").get_queue_attributes(
            QueueUrl=queue or self.queue,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )

    def events(self) -> list[Any]:
        found: list[Any] = []
        sqs = aws.client("sqs")
        while True:
            batch = sqs.receive_message(QueueUrl=self.events_queue, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                return found
            for raw in batch:
                found.append(AgentEventEnvelope.model_validate_json(raw["Body"]).event)
                sqs.delete_message(QueueUrl=self.events_queue, ReceiptHandle=raw["ReceiptHandle"])

    def claim_item(self, task: AgentTask) -> dict[str, Any]:
        item: dict[str, Any] = aws.client("dynamodb").get_item(
            TableName=TABLE,
            Key={k: {"S": v} for k, v in keys.task_claim(task.execution_id, task.step, 0).items()},
            ConsistentRead=True,
        )["Item"]
        return item


def output_of(described: dict[str, Any]) -> Any:
    """The execution's output (moto hands a JSON string output back already decoded)."""
    try:
        return json.loads(described["output"])
    except ValueError:
        return described["output"]


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        aws.reset()
        sqs = boto3.client("sqs", region_name="us-east-1")
        dlq = sqs.create_queue(QueueName="agent-tasks-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queue = sqs.create_queue(
            QueueName="agent-tasks",
            Attributes={
                "VisibilityTimeout": "120",
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
                ),
            },
        )["QueueUrl"]
        events_queue = sqs.create_queue(QueueName="agent-events")["QueueUrl"]
        boto3.client("dynamodb", region_name="us-east-1").create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": keys.PK, "AttributeType": "S"},
                {"AttributeName": keys.SK, "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": keys.PK, "KeyType": "HASH"},
                {"AttributeName": keys.SK, "KeyType": "RANGE"},
            ],
        )
        role = "arn:aws:iam::123456789012:role/pipeline"
        try:
            yield Cloud(queue, dlq, events_queue, role)
        finally:
            aws.reset()


class Steps:
    """The consumer's port: a plain function per test, counting its runs."""

    def __init__(self, work: Callable[[AgentTask], Any] = lambda task: "snapshots/code.tar.gz"):
        self.work = work
        self.runs: list[AgentTask] = []
        self.started = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, task: AgentTask) -> Any:
        with self._lock:
            self.runs.append(task)
        self.started.set()
        return self.work(task)


def after(seconds: float, value: str) -> Callable[[AgentTask], str]:
    """A step that takes ``seconds`` and returns ``value``."""

    def step(_task: AgentTask) -> str:
        time.sleep(seconds)
        return value

    return step


def consumer_for(
    cloud: Cloud, handle: Callable[[AgentTask], Any], agent_id: str = "agent-1", **kwargs: Any
) -> Consumer:
    visibility = kwargs.pop("visibility_seconds", 30)
    return Consumer(
        cloud.queue,
        handle,
        EventPublisher(cloud.events_queue),
        wait_seconds=1,
        visibility_seconds=visibility,
        ledger=kwargs.pop("ledger", None) or TaskLedger(TABLE, agent_id, visibility),
        **kwargs,
    )


class Running:
    """A consumer's :meth:`Consumer.run` on a thread, like the agent's main loop."""

    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer
        self.thread = threading.Thread(target=consumer.run, daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 30.0) -> float:
        """Signal it as SIGTERM does; seconds until ``run`` returned."""
        started = time.monotonic()
        self.consumer.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "run() did not return"
        return time.monotonic() - started


@pytest.fixture
def running() -> Iterator[Callable[[Consumer], Running]]:
    started: list[Running] = []

    def start(consumer: Consumer) -> Running:
        started.append(Running(consumer))
        return started[-1]

    yield start
    for each in started:
        each.consumer.stop()
        each.thread.join(30)


# -- one step, answered once --------------------------------------------------------------------


def test_a_step_is_answered_recorded_and_its_message_deleted(
    cloud: Cloud, running: Callable[[Consumer], Running]
) -> None:
    arn = cloud.start()
    steps = Steps()
    running(consumer_for(cloud, steps))

    described = cloud.finished(arn)
    assert described["status"] == "SUCCEEDED"
    assert output_of(described) == "snapshots/code.tar.gz"
    assert len(steps.runs) == 1
    assert cloud.depth() == (0, 0)
    item = cloud.claim_item(steps.runs[0])
    assert item["state"]["S"] == "succeeded"
    assert item["output"]["S"] == '"snapshots/code.tar.gz"'
    assert item["holder"]["S"].startswith("agent-1/")
    assert item["token_digest"]["S"] == token_digest(steps.runs[0].task_token)
    assert steps.runs[0].task_token not in json.dumps(item), "the token itself is never stored"
    kinds = [type(event) for event in cloud.events()]
    assert kinds == [StepStarted, StepSucceeded]


def test_a_step_error_is_sent_as_a_task_failure_with_its_code_and_cause(
    cloud: Cloud, running: Callable[[Consumer], Running]
) -> None:
    def no_code(_task: AgentTask) -> Any:
        raise CodeMissingError("the AI finished without writing code/index.html")

    arn = cloud.start()
    steps = Steps(no_code)
    running(consumer_for(cloud, steps))

    described = cloud.finished(arn)
    assert described["status"] == "FAILED"
    assert described["error"] == "CodeMissing"
    # moto drops the cause of SendTaskFailure; the ledger and the control plane keep it.
    item = cloud.claim_item(steps.runs[0])
    assert (item["state"]["S"], item["error"]["S"]) == ("failed", "CodeMissing")
    assert item["cause"]["S"] == "the AI finished without writing code/index.html"
    failed = [event for event in cloud.events() if isinstance(event, StepFailed)]
    assert [(f.error, f.cause) for f in failed] == [
        ("CodeMissing", "the AI finished without writing code/index.html")
    ]
    assert cloud.depth() == (0, 0)


def test_heartbeats_and_visibility_keep_a_step_longer_than_both_alive(
    cloud: Cloud, running: Callable[[Consumer], Running]
) -> None:
    """The state's HeartbeatSeconds (1 s) and the message's visibility (1 s) are both shorter
    than the step: without heartbeats the execution times out, without extensions the second
    agent gets the message."""
    arn = cloud.start(heartbeat_seconds=1)
    steps = Steps(after(3.5, "done"))
    for agent_id in ("agent-1", "agent-2"):
        running(
            consumer_for(
                cloud, steps, agent_id=agent_id, heartbeat_seconds=0.3, visibility_seconds=1
            )
        )

    described = cloud.finished(arn)
    assert described["status"] == "SUCCEEDED", described
    assert len(steps.runs) == 1
    assert cloud.depth() == (0, 0)


def test_the_default_timings_sit_well_inside_the_state_machine() -> None:
    settings = AgentSettings()
    states = json.loads((ROOT / "stepfunctions" / "pipeline.asl.json").read_text())["States"]
    for step in AGENT_STEPS:
        heartbeat = states[step.value]["HeartbeatSeconds"]
        assert settings.heartbeat_seconds * 3 <= heartbeat, step
        # A dead agent's task must come back to the queue before Step Functions gives up on it.
        assert settings.visibility_seconds * 2 <= heartbeat, step
    assert settings.heartbeat_seconds < settings.visibility_seconds


# -- duplicates ---------------------------------------------------------------------------------


def test_a_redelivered_answered_step_gets_the_same_answer_without_running_again(
    cloud: Cloud, running: Callable[[Consumer], Running]
) -> None:
    """The agent recorded the answer and died before Step Functions got it."""
    arn = cloud.start()
    task, receipt = cloud.take()
    gone = TaskLedger(TABLE, "agent-2", 30)
    assert gone.claim(task).state is ClaimState.NEW
    assert gone.record(task, Outcome.success('"snapshots/first.tar.gz"'))
    cloud.put_back(receipt)

    steps = Steps()
    running(consumer_for(cloud, steps))
    described = cloud.finished(arn)
    assert described["status"] == "SUCCEEDED"
    assert output_of(described) == "snapshots/first.tar.gz"
    assert steps.runs == []
    assert cloud.depth() == (0, 0)


def test_a_duplicate_after_the_answer_is_dropped(
    cloud: Cloud, running: Callable[[Consumer], Running]
) -> None:
    arn = cloud.start()
    task, receipt = cloud.take()
    cloud.put_back(receipt)
    steps = Steps()
    running(consumer_for(cloud, steps))
    assert cloud.finished(arn)["status"] == "SUCCEEDED"

    # SQS delivers the same message once more, long after.
    aws.client("sqs").send_message(QueueUrl=cloud.queue, MessageBody=task.model_dump_json())
    deadline = time.monotonic() + 10
    while cloud.depth() != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cloud.depth() == (0, 0), "Step Functions said the task is over: message deleted"
    assert len(steps.runs) == 1


def test_a_step_held_by_a_live_agent_waits_for_its_lease(
    cloud: Cloud, running: Callable[[Consumer], Running]
) -> None:
    cloud.start()
    task, receipt = cloud.take()
    holder = TaskLedger(TABLE, "agent-2", 30)
    assert holder.claim(task).state is ClaimState.NEW
    cloud.put_back(receipt)

    steps = Steps()
    running(consumer_for(cloud, steps))
    deadline = time.monotonic() + 5
    while cloud.depth() != (0, 1) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)  # a couple of polls: it is not taken again
    assert cloud.depth() == (0, 1), "left on the queue, invisible until the lease ends"
    assert steps.runs == []
    assert cloud.claim_item(task)["holder"]["S"] == holder.holder


def test_a_step_whose_holder_died_is_taken_over(
    cloud: Cloud, running: Callable[[Consumer], Running]
) -> None:
    arn = cloud.start()
    task, receipt = cloud.take()
    dead = TaskLedger(TABLE, "agent-2", 30, clock=lambda: time.time() - 60)
    assert dead.claim(task).state is ClaimState.NEW
    cloud.put_back(receipt)

    steps = Steps()
    running(consumer_for(cloud, steps))
    assert cloud.finished(arn)["status"] == "SUCCEEDED"
    assert len(steps.runs) == 1
    item = cloud.claim_item(task)
    assert item["takeovers"]["N"] == "1"
    assert item["holder"]["S"].startswith("agent-1/")
    assert not dead.record(task, Outcome.success('"late"')), "the dead holder lost the claim"


def test_two_agents_with_two_copies_of_a_message_run_the_step_once(
    cloud: Cloud, running: Callable[[Consumer], Running]
) -> None:
    arn = cloud.start()
    task, receipt = cloud.take()
    cloud.put_back(receipt)
    aws.client("sqs").send_message(QueueUrl=cloud.queue, MessageBody=task.model_dump_json())

    release = threading.Event()
    first, second = Steps(lambda t: release.wait(10) and "one"), Steps(lambda t: "two")
    running(consumer_for(cloud, first, visibility_seconds=2))
    running(consumer_for(cloud, second, agent_id="agent-2", visibility_seconds=2))
    assert first.started.wait(10) or second.started.wait(10)
    time.sleep(1)
    release.set()
    described = cloud.finished(arn)
    assert described["status"] == "SUCCEEDED"
    assert len(first.runs) + len(second.runs) == 1
    # The held copy comes back when the lease ends, finds the answer and is deleted.
    deadline = time.monotonic() + 2 + LEASE_MARGIN_SECONDS + 8
    while cloud.depth() != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert cloud.depth() == (0, 0)
    assert len(first.runs) + len(second.runs) == 1


# -- poison messages ----------------------------------------------------------------------------


def test_an_unreadable_message_ends_in_the_dead_letter_queue(
    cloud: Cloud, running: Callable[[Consumer], Running]
) -> None:
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=cloud.queue, MessageBody='{"step": "generate_code", "oops": ')
    steps = Steps()
    running(consumer_for(cloud, steps))

    deadline = time.monotonic() + 20
    while cloud.depth(cloud.dlq)[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    dead = sqs.receive_message(
        QueueUrl=cloud.dlq, MessageSystemAttributeNames=["ApproximateReceiveCount"]
    )["Messages"]
    assert [m["Body"] for m in dead] == ['{"step": "generate_code", "oops": ']
    # Delivered maxReceiveCount times to the agent (the DLQ's own receive adds one).
    assert int(dead[0]["Attributes"]["ApproximateReceiveCount"]) >= MAX_RECEIVE_COUNT
    assert cloud.depth() == (0, 0)
    assert steps.runs == []


# -- stopping -----------------------------------------------------------------------------------


def test_stop_lets_a_step_in_flight_finish_and_takes_nothing_new(
    cloud: Cloud, running: Callable[[Consumer], Running]
) -> None:
    arn = cloud.start()
    steps = Steps(after(1.5, "finished"))
    agent = running(consumer_for(cloud, steps, grace_seconds=20))
    assert steps.started.wait(10)

    took = agent.stop()
    assert 0.5 < took < 10
    assert cloud.finished(arn, timeout=1)["status"] == "SUCCEEDED"
    later = cloud.start()
    time.sleep(1.5)
    assert cloud.depth() == (1, 0), "after stop nothing is taken"
    assert len(steps.runs) == 1
    assert cloud.finished(later, timeout=0)["status"] == "RUNNING"


def test_stop_hands_back_a_step_that_cannot_finish_in_the_grace_period(
    cloud: Cloud, running: Callable[[Consumer], Running]
) -> None:
    arn = cloud.start()
    release = threading.Event()
    slow = Steps(lambda task: release.wait(30) and "too late")
    agent = running(consumer_for(cloud, slow, grace_seconds=1))
    assert slow.started.wait(10)

    took = agent.stop()
    assert 0.9 < took < 5, "returns once the grace period is over"
    assert cloud.depth() == (1, 0), "visible again at once, not after its visibility timeout"
    task = slow.runs[0]
    item = cloud.claim_item(task)
    assert (item["state"]["S"], item["lease_until"]["N"]) == ("running", "0")

    # Another agent takes it over at once and answers.
    taker = Steps(lambda task: "taken over")
    running(consumer_for(cloud, taker, agent_id="agent-2"))
    described = cloud.finished(arn)
    assert described["status"] == "SUCCEEDED"
    assert output_of(described) == "taken over"
    assert cloud.claim_item(task)["takeovers"]["N"] == "1"

    # The handed-back step ends later: its answer is dropped, nothing is answered twice.
    release.set()
    time.sleep(0.5)
    assert cloud.claim_item(task)["output"]["S"] == '"taken over"'
    assert cloud.depth() == (0, 0)


def test_a_step_finishing_after_hand_back_answers_the_next_delivery(
    cloud: Cloud, running: Callable[[Consumer], Running]
) -> None:
    """Nobody took it over meanwhile: the next delivery gets the late answer, no second run."""
    arn = cloud.start()
    release = threading.Event()
    slow = Steps(lambda task: release.wait(30) and "late but done")
    agent = running(consumer_for(cloud, slow, grace_seconds=0.5))
    assert slow.started.wait(10)
    agent.stop()
    release.set()
    deadline = time.monotonic() + 5
    while cloud.claim_item(slow.runs[0])["state"]["S"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)

    again = Steps()
    running(consumer_for(cloud, again, agent_id="agent-2"))
    described = cloud.finished(arn)
    assert output_of(described) == "late but done"
    assert again.runs == []


# -- the ledger's decisions ---------------------------------------------------------------------


def test_of_two_agents_racing_for_an_expired_lease_one_takes_it(cloud: Cloud) -> None:
    cloud.start()
    task, _ = cloud.take()
    now = [1000.0]
    dead = TaskLedger(TABLE, "agent-1", 30, clock=lambda: now[0])
    assert dead.claim(task).state is ClaimState.NEW
    now[0] += 31
    one, two = (TaskLedger(TABLE, name, 30, clock=lambda: now[0]) for name in ("a2", "a3"))
    assert one.claim(task).state is ClaimState.TAKEN_OVER
    held = two.claim(task)
    assert (held.state, held.holder) == (ClaimState.HELD, one.holder)
    assert held.lease_left == pytest.approx(30)
    now[0] += 20
    assert one.renew(task)
    assert two.claim(task).lease_left == pytest.approx(30)
    assert not two.renew(task) and not two.record(task, Outcome.success("1"))


def test_a_redriven_step_with_a_new_token_is_claimed_afresh(cloud: Cloud) -> None:
    cloud.start()
    task, _ = cloud.take()
    first = TaskLedger(TABLE, "agent-1", 30)
    first.claim(task)
    first.record(task, Outcome.failure("AgentError", "boom"))
    assert first.claim(task).state is ClaimState.ANSWERED

    redriven = task.model_copy(update={"task_token": "a-new-token"})
    assert first.claim(redriven).state is ClaimState.TAKEN_OVER
    item = cloud.claim_item(task)
    assert item["state"]["S"] == "running"
    assert "error" not in item and "cause" not in item
    assert item["token_digest"]["S"] == token_digest("a-new-token")
