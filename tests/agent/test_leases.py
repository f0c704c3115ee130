"""Session leases, takeover and the hand-over of work between agent hosts, against moto.

Two (or three) agents are two :class:`SessionLeases` with their own ids and queues over one
table; time is a clock the test moves, so expiry needs no sleeping. The races run real threads
against moto's conditional writes.
"""

from __future__ import annotations

import io
import itertools
import json
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from agent.consumer import Consumer
from agent.events import EventPublisher
from agent.leases import (
    AgentQueues,
    AgentRegistry,
    AtCapacity,
    LeaseHeld,
    LeaseKeeper,
    LeaseState,
    SessionLeases,
    own_queue_names,
)
from agent.takeover import (
    SUMMARY_TASK,
    QueueSweeper,
    SessionGate,
    SessionRestorer,
    Verdict,
)
from agent.workspace import Workspace
from tmux_builder import aws, keys
from tmux_builder.contracts import (
    AgentTask,
    ChatMessage,
    PipelineState,
    Provider,
    SiteSpec,
    SiteType,
)
from tmux_builder.naming import new_user_id
from tmux_builder.pipeline import Step

BUCKET = "tmux-builder-artifacts-test"
SITE = SiteSpec(
    provider=Provider.AWS, site_type=SiteType.STATIC, slug="spoke", resource_name="tmux-x-spoke"
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


_numbers = itertools.count(1)


@dataclass
class Cloud:
    table: str
    shared_queue: str
    shared_chat_queue: str
    events_queue: str
    clock: Clock

    def agent(self, agent_id: str, lease_seconds: float = 30.0) -> SessionLeases:
        task_queue, chat_queue = own_queue_names(self.shared_queue, agent_id)
        return SessionLeases(
            self.table, agent_id, f"q/{task_queue}", f"q/{chat_queue}", lease_seconds, self.clock
        )

    def lease_item(self, session_id: str) -> dict[str, Any]:
        item: dict[str, Any] = aws.client("dynamodb").get_item(
            TableName=self.table,
            Key={k: {"S": v} for k, v in keys.session_lease(session_id).items()},
        )["Item"]
        return item

    def chat_turn(
        self, session_id: str, message_id: str, role: str, text: str, suffix: str = ""
    ) -> None:
        aws.client("dynamodb").put_item(
            TableName=self.table,
            Item={
                keys.PK: {"S": keys.chat_partition(session_id)},
                keys.SK: {"S": f"{keys.CHAT_PREFIX}{message_id}{suffix}"},
                "role": {"S": role},
                "text": {"S": text},
                "status": {"S": "answered"},
            },
        )


@pytest.fixture(scope="module")
def _moto() -> Iterator[None]:
    """One in-process moto for the module; each test gets its own table and queues."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        with mock_aws():
            aws.reset()
            aws.client("s3").create_bucket(Bucket=BUCKET)
            yield
        aws.reset()


@pytest.fixture
def cloud(_moto: None) -> Cloud:
    number = next(_numbers)
    table = f"tmux-builder-table-{number}"
    aws.client("dynamodb").create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"}
            for name in (keys.PK, keys.SK, keys.GSI1_PK, keys.GSI1_SK)
        ],
        KeySchema=[
            {"AttributeName": keys.PK, "KeyType": "HASH"},
            {"AttributeName": keys.SK, "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": keys.GSI1,
                "KeySchema": [
                    {"AttributeName": keys.GSI1_PK, "KeyType": "HASH"},
                    {"AttributeName": keys.GSI1_SK, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    sqs = aws.client("sqs")
    app = f"tmux-builder{number}"
    return Cloud(
        table=table,
        shared_queue=sqs.create_queue(QueueName=f"{app}-agent-tasks")["QueueUrl"],
        shared_chat_queue=sqs.create_queue(
            QueueName=f"{app}-chat.fifo", Attributes={"FifoQueue": "true"}
        )["QueueUrl"],
        events_queue=sqs.create_queue(QueueName=f"{app}-agent-events")["QueueUrl"],
        clock=Clock(),
    )


# ------------------------------------------------------------------------------ leases


def test_the_first_agent_owns_a_new_session_and_the_second_is_sent_to_it(cloud: Cloud) -> None:
    one, two = cloud.agent("agent-1"), cloud.agent("agent-2")
    user = new_user_id()

    taken = one.acquire("s1", user, SITE)
    assert taken.state is LeaseState.NEW and not taken.moved_here
    with pytest.raises(LeaseHeld) as held:
        two.acquire("s1", user)

    assert held.value.lease.owner == "agent-1"
    assert held.value.lease.queue_url == one.queue_url
    assert held.value.lease.chat_queue_url == one.chat_queue_url
    assert held.value.lease.site == SITE.model_dump(mode="json")
    assert one.acquire("s1", user).state is LeaseState.KEPT
    assert two.held() == {}
    item = cloud.lease_item("s1")
    assert (item["owner"]["S"], item[keys.GSI1_PK]["S"]) == ("agent-1", keys.LEASES_INDEX)


def test_renewal_keeps_a_lease_live_and_its_end_lets_another_agent_take_over(
    cloud: Cloud,
) -> None:
    one, two = cloud.agent("agent-1"), cloud.agent("agent-2")
    user = new_user_id()
    one.acquire("s1", user, SITE)

    cloud.clock.now += 25
    assert one.renew_all() == []
    cloud.clock.now += 25  # 50 s after the start, 25 s after the renewal: still live
    with pytest.raises(LeaseHeld):
        two.acquire("s1", user)

    cloud.clock.now += 6  # the host stopped renewing: its lease ended
    taken = two.acquire("s1", user)
    assert taken.state is LeaseState.TAKEN_OVER and taken.moved_here
    assert taken.previous is not None and taken.previous.owner == "agent-1"
    assert taken.lease.site == SITE.model_dump(mode="json"), "the site is kept for the rebuild"
    item = cloud.lease_item("s1")
    assert (item["owner"]["S"], item["previous_owner"]["S"], item["takeovers"]["N"]) == (
        "agent-2",
        "agent-1",
        "1",
    )
    # The old host comes back: its renewal fails and it lets the session go.
    assert one.renew_all() == ["s1"]
    assert one.held() == {}


def test_a_restarted_agent_keeps_its_own_sessions_even_after_expiry(cloud: Cloud) -> None:
    before = cloud.agent("agent-1")
    user = new_user_id()
    before.acquire("s1", user)
    cloud.clock.now += 120
    after = cloud.agent("agent-1")  # a new process of the same host

    kept = after.acquire("s1", user)

    assert kept.state is LeaseState.KEPT and not kept.moved_here


def test_of_two_agents_writing_a_new_lease_at_once_one_wins(cloud: Cloud) -> None:
    """Both read "no lease", then both write: the conditional put lets exactly one through."""
    one, two = cloud.agent("agent-1"), cloud.agent("agent-2")
    user = new_user_id()
    assert one.get("s-race") is None and two.get("s-race") is None

    assert one._put_new("s-race", user, None) is True
    assert two._put_new("s-race", user, None) is False

    assert cloud.lease_item("s-race")["owner"]["S"] == "agent-1"
    with pytest.raises(LeaseHeld):
        two.acquire("s-race", user)


def test_of_two_agents_taking_over_the_same_expired_lease_one_wins(cloud: Cloud) -> None:
    """Both read the same expired lease, then both try to replace it: exactly one does."""
    cloud.agent("agent-dead").acquire("s1", new_user_id())
    cloud.clock.now += 60
    one, two = cloud.agent("agent-1"), cloud.agent("agent-2")
    seen_by_one, seen_by_two = one.get("s1"), two.get("s1")
    assert seen_by_one is not None and seen_by_two is not None

    assert one._take_over("s1", seen_by_one.user_id, None, seen_by_one) is True
    assert two._take_over("s1", seen_by_two.user_id, None, seen_by_two) is False

    item = cloud.lease_item("s1")
    assert (item["owner"]["S"], item["takeovers"]["N"]) == ("agent-1", "1")
    with pytest.raises(LeaseHeld):
        two.acquire("s1", seen_by_two.user_id)


def test_release_and_capacity(cloud: Cloud) -> None:
    one, two = cloud.agent("agent-1"), cloud.agent("agent-2")
    user = new_user_id()
    one.acquire("s1", user)

    assert one.release("s1") is True
    assert two.acquire("s1", user).state is LeaseState.TAKEN_OVER
    assert one.release("s1") is False, "not ours any more: nothing changes"
    assert cloud.lease_item("s1")["owner"]["S"] == "agent-2"
    with pytest.raises(AtCapacity):
        two.acquire("s-new", user, allow_new=False)
    assert two.acquire("s1", user, allow_new=False).state is LeaseState.KEPT


def test_the_keeper_renews_on_its_thread(cloud: Cloud) -> None:
    one = cloud.agent("agent-1", lease_seconds=0.6)
    one._clock = time.time  # real time for the thread
    one.acquire("s1", new_user_id())
    first = int(cloud.lease_item("s1")["expires_at"]["N"])
    keeper = LeaseKeeper(one, interval=0.1).start()
    try:
        deadline = time.monotonic() + 5
        while int(cloud.lease_item("s1")["expires_at"]["N"]) <= first:
            assert time.monotonic() < deadline, "never renewed"
            time.sleep(0.05)
    finally:
        keeper.stop()


# ------------------------------------------------------------------------------ queues


def test_own_queues_are_named_for_the_iam_policy_and_made_and_deleted(cloud: Cloud) -> None:
    shared = "https://sqs.us-east-1.amazonaws.com/123456789012/tmux-builder-agent-tasks"
    names = own_queue_names(shared, "i-0abc/def")
    assert names == (
        "tmux-builder-agent-tasks-host-i-0abc-def",
        "tmux-builder-agent-tasks-host-i-0abc-def-chat.fifo",
    )
    queues = AgentQueues(cloud.shared_queue, "agent-7").create()
    sqs = aws.client("sqs")
    tags = sqs.list_queue_tags(QueueUrl=queues.queue_url)["Tags"]
    assert tags["Project"] == "tmux-builder" and tags["AgentId"] == "agent-7"
    fifo = sqs.get_queue_attributes(QueueUrl=queues.chat_queue_url, AttributeNames=["All"])
    assert fifo["Attributes"]["FifoQueue"] == "true"

    queues.delete()

    remaining = sqs.list_queues().get("QueueUrls", [])
    assert queues.queue_url not in remaining and queues.chat_queue_url not in remaining


def test_a_dead_hosts_queues_are_drained_to_the_shared_queues_then_deleted(cloud: Cloud) -> None:
    dead_queues = AgentQueues(cloud.shared_queue, "agent-dead").create()
    AgentRegistry(
        cloud.table,
        "agent-dead",
        dead_queues.queue_url,
        dead_queues.chat_queue_url,
        30,
        cloud.clock,
    ).register()
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=dead_queues.queue_url, MessageBody='{"task": 1}')
    message = ChatMessage(message_id="msg_1", user_id=new_user_id(), session_id="s1", text="hi")
    sqs.send_message(
        QueueUrl=dead_queues.chat_queue_url,
        MessageBody=message.model_dump_json(),
        MessageGroupId="s1",
        MessageDeduplicationId="msg_1",
    )
    live = AgentRegistry(cloud.table, "agent-live", "q", "cq", 30, cloud.clock)
    live.register()
    sweeper = QueueSweeper(live, cloud.shared_queue, cloud.shared_chat_queue)

    assert sweeper.sweep() == 0, "a live host's queues are left alone"
    cloud.clock.now += 40
    live.renew()
    assert sweeper.sweep() == 2

    task = sqs.receive_message(QueueUrl=cloud.shared_queue)["Messages"][0]
    assert task["Body"] == '{"task": 1}'
    chat = sqs.receive_message(
        QueueUrl=cloud.shared_chat_queue, MessageSystemAttributeNames=["MessageGroupId"]
    )["Messages"][0]
    assert ChatMessage.model_validate_json(chat["Body"]).text == "hi"
    assert chat["Attributes"]["MessageGroupId"] == "s1"
    remaining = sqs.list_queues().get("QueueUrls", [])
    assert dead_queues.queue_url not in remaining
    assert [r.agent_id for r in live.expired()] == []


# ------------------------------------------------------------------------------ takeover


def _snapshot(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_session_taken_over_is_rebuilt_from_the_snapshot_and_the_conversation(
    cloud: Cloud, tmp_path: Path
) -> None:
    user = new_user_id()
    base = f"users/{user}/sessions/s1"
    s3 = aws.client("s3")
    s3.put_object(Bucket=BUCKET, Key=f"{base}/requirements.md", Body=b"A bike shop called Spoke")
    s3.put_object(
        Bucket=BUCKET,
        Key=f"{base}/executions/e1/code.tar.gz",
        Body=_snapshot({"index.html": "<h1>old</h1>"}),
    )
    s3.put_object(
        Bucket=BUCKET,
        Key=keys.session_code_snapshot(user, "s1"),
        Body=_snapshot({"index.html": "<h1>Spoke, blue</h1>", "../escape.txt": "no"}),
    )
    s3.put_object(Bucket=BUCKET, Key=f"{base}/executions/e1/plan.md", Body=b"# Plan")
    cloud.chat_turn("s1", "msg_1", "user", "Make the background blue")
    cloud.chat_turn("s1", "msg_1", "assistant", "Done: the background is blue.", "#answer")
    dead, live = cloud.agent("agent-1"), cloud.agent("agent-2")
    dead.acquire("s1", user, SITE)
    cloud.clock.now += 60
    gate = SessionGate(live, SessionRestorer(tmp_path, BUCKET, cloud.table))

    admission = gate.admit(session_id="s1", user_id=user, chat=True)

    assert admission.verdict is Verdict.RUN and admission.reason == "taken_over"
    ws = Workspace(tmp_path, user)
    assert (ws.code_dir / "index.html").read_text() == "<h1>Spoke, blue</h1>"
    assert not (ws.dir / "escape.txt").exists()
    assert (ws.dir / "requirements.md").read_text() == "A bike shop called Spoke"
    assert (ws.dir / "plan.md").read_text() == "# Plan"
    summary = ws.prompt_path(SUMMARY_TASK).read_text()
    assert "agent-1" in summary and "Make the background blue" in summary
    assert "the background is blue" in summary and "`code/index.html`" in summary
    assert ws.prompt_relpath(SUMMARY_TASK) in ws.claude_md_path.read_text()
    assert (ws.dir / ".git").is_dir(), "the session folder is its own repository again"
    # Once here, the session's work just runs (no second rebuild).
    (ws.code_dir / "index.html").write_text("<h1>changed here</h1>")
    assert gate.admit(session_id="s1", user_id=user, chat=True).reason == "kept"
    assert (ws.code_dir / "index.html").read_text() == "<h1>changed here</h1>"


def test_a_full_host_offers_a_new_session_to_the_others_first(cloud: Cloud, tmp_path: Path) -> None:
    full = cloud.agent("agent-1")
    full.acquire("s-old", new_user_id())
    gate = SessionGate(full, SessionRestorer(tmp_path, BUCKET, cloud.table), max_sessions=1)
    user = new_user_id()

    first = gate.admit(session_id="s-new", user_id=user, chat=False, receive_count=1)
    own_queue = gate.admit(session_id="s-new", user_id=user, chat=False, from_shared=False)

    assert first.verdict is Verdict.LATER and first.delay_seconds > 0
    assert own_queue.verdict is Verdict.RUN, "work in its own queue is always taken"
    other = gate.admit(session_id="s-other", user_id=user, chat=False, receive_count=3)
    assert other.verdict is Verdict.RUN, "after a few offers any host takes it"


# ------------------------------------------------------------------------------ the consumer


def test_the_consumer_forwards_a_task_of_a_session_another_host_owns(
    cloud: Cloud, tmp_path: Path
) -> None:
    owner_queues = AgentQueues(cloud.shared_queue, "agent-1").create()
    owner = SessionLeases(
        cloud.table, "agent-1", owner_queues.queue_url, owner_queues.chat_queue_url, 30, cloud.clock
    )
    user = new_user_id()
    owner.acquire("s1", user, SITE)
    other = cloud.agent("agent-2")
    ran: list[AgentTask] = []
    consumer = Consumer(
        cloud.shared_queue,
        ran.append,
        EventPublisher(cloud.events_queue),
        wait_seconds=1,
        gate=SessionGate(other, SessionRestorer(tmp_path, BUCKET, cloud.table)),
    )
    task = AgentTask(
        task_token="token-1",
        step=Step.GENERATE_CODE,
        state=PipelineState(execution_id="e1", user_id=user, session_id="s1", site=SITE),
    )
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=cloud.shared_queue, MessageBody=task.model_dump_json())
    thread = threading.Thread(target=consumer.run)
    thread.start()
    try:
        forwarded = []
        for _ in range(30):
            forwarded = sqs.receive_message(QueueUrl=owner_queues.queue_url, WaitTimeSeconds=1).get(
                "Messages", []
            )
            if forwarded:
                break
    finally:
        consumer.stop()
        thread.join(timeout=10)

    assert forwarded, "the task reached its owner's queue"
    assert json.loads(forwarded[0]["Body"])["task_token"] == "token-1"
    assert ran == [], "never run by the host that does not own the session"
    left = sqs.get_queue_attributes(
        QueueUrl=cloud.shared_queue,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert sum(int(v) for v in left.values()) == 0, "deleted from the shared queue"
