"""The agent's chat loop against in-process moto queues: with a scripted engine for the rules
(one answer per message, errors instead of redelivery, order per session, no second submission),
and with the pinned Claude Code CLI on the offline model in real tmux for the real thing."""

from __future__ import annotations

import json
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
from moto import mock_aws

from agent.chat_consumer import (
    INTERRUPTED,
    NO_ANSWER,
    NOT_ACTIVE,
    AnswerPublisher,
    ChatConsumer,
    PaneCapture,
)
from agent.chat_prompt import chat_task_id
from agent.engine.base import TurnResult, TurnTimeout
from agent.workspace import Workspace
from tmux_builder import aws, keys, naming
from tmux_builder.contracts import AgentEventEnvelope, ChatAnswered, ChatMessage

SECRET = "wJalrXUtnFEMI-chat-test-secret-never-in-a-pane"
BAKERY = "A one-page site for a small bakery called Crumb with three breads and a contact form."
TEA = "A site for a tea shop called Leaf, with our teas and tastings."


@dataclass
class Cloud:
    chat_queue: str
    events_queue: str
    bucket: str

    def send(self, message: ChatMessage, delivery: str = "") -> None:
        """As the control plane sends it; ``delivery`` plays SQS delivering it once more."""
        aws.client("sqs").send_message(
            QueueUrl=self.chat_queue,
            MessageBody=message.model_dump_json(),
            MessageGroupId=message.session_id,
            MessageDeduplicationId=message.message_id + delivery,
        )

    def answers(self, count: int, timeout: float = 60.0) -> list[ChatAnswered]:
        """Wait for ``count`` events on the events queue (taking them off it)."""
        found: list[ChatAnswered] = []
        deadline = time.monotonic() + timeout
        sqs = aws.client("sqs")
        while len(found) < count and time.monotonic() < deadline:
            for raw in sqs.receive_message(
                QueueUrl=self.events_queue, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", []):
                event = AgentEventEnvelope.model_validate_json(raw["Body"]).event
                assert isinstance(event, ChatAnswered)
                found.append(event)
                sqs.delete_message(QueueUrl=self.events_queue, ReceiptHandle=raw["ReceiptHandle"])
        assert len(found) == count, f"{len(found)} answer(s) of {count} in {timeout:g} s"
        return found

    def chat_queue_depth(self) -> int:
        attributes = aws.client("sqs").get_queue_attributes(
            QueueUrl=self.chat_queue,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIACHATTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        aws.reset()
        sqs = boto3.client("sqs", region_name="us-east-1")
        chat_queue = sqs.create_queue(
            QueueName="chat.fifo",
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"},
        )["QueueUrl"]
        events_queue = sqs.create_queue(QueueName="events")["QueueUrl"]
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="artifacts")
        try:
            yield Cloud(chat_queue, events_queue, "artifacts")
        finally:
            aws.reset()


def message_for(user_id: str, session_id: str, text: str, n: int = 0) -> ChatMessage:
    return ChatMessage(
        message_id=f"msg_20260204T0726091{n:02d}_{secrets.token_hex(4)}",
        user_id=user_id,
        session_id=session_id,
        execution_id=None,
        text=text,
    )


def running(consumer: ChatConsumer) -> Callable[[], None]:
    consumer.start()

    def stop() -> None:
        consumer.stop()
        consumer.join(30)

    return stop


# -- the rules, with a scripted engine ----------------------------------------------------------


class _Hub:
    def __init__(self) -> None:
        self.prompts: dict[tuple[str, str], str] = {}

    def submitted_prompt(self, user_id: str, task_id: str) -> str | None:
        return self.prompts.get((user_id, task_id))


class ScriptedEngine:
    """Records turns; answers with ``answer(prompt)`` or raises ``error``."""

    def __init__(
        self, answer: Callable[[str], str] = lambda p: "Done.", error: Exception | None = None
    ) -> None:
        self.hub = _Hub()
        self.answer = answer
        self.error = error
        self.turns: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def ensure_started(self, ws: Workspace) -> None:
        pass

    def run_turn(
        self, ws: Workspace, task_id: str, prompt_text: str, timeout: float | None = None
    ) -> TurnResult:
        with self._lock:
            ws.write_prompt(task_id, prompt_text)
            self.turns.append((ws.user_id, task_id))
            self.hub.prompts[(ws.user_id, task_id)] = f"p{len(self.turns)}"
        if self.error is not None:
            raise self.error
        return TurnResult(task_id, f"p{len(self.turns)}", self.answer(prompt_text), 0.01)


def consumer_with(cloud: Cloud, work_dir: Path, engine: Any, **kwargs: Any) -> ChatConsumer:
    return ChatConsumer(
        cloud.chat_queue,
        work_dir,
        engine,
        AnswerPublisher(cloud.events_queue),
        wait_seconds=1,
        **kwargs,
    )


def test_each_message_gets_one_answer_in_order_per_session(cloud: Cloud, tmp_path: Path) -> None:
    engine = ScriptedEngine(answer=lambda prompt: prompt.split("> ", 1)[1].split("\n")[0].upper())
    users = [naming.new_user_id() for _ in range(2)]
    for user_id in users:
        Workspace(tmp_path, user_id).create()
    sent = [
        message_for(user_id, f"sess-{user_id[:4]}", f"message {n} of {user_id[:4]}", n)
        for n in range(3)
        for user_id in users
    ]
    for message in sent:
        cloud.send(message)
    stop = running(consumer_with(cloud, tmp_path, engine, concurrency=2))
    try:
        answers = cloud.answers(len(sent))
    finally:
        stop()

    by_id = {answer.message_id: answer for answer in answers}
    for message in sent:
        answer = by_id[message.message_id]
        assert (answer.user_id, answer.session_id) == (message.user_id, message.session_id)
        assert answer.answer == message.text.upper() and answer.error is None
    for user_id in users:
        mine = [task for user, task in engine.turns if user == user_id]
        expected = [chat_task_id(m.message_id) for m in sent if m.user_id == user_id]
        assert mine == expected, "one session's messages run in the order they were sent"
    assert cloud.chat_queue_depth() == 0


def test_a_host_without_the_session_answers_not_active(cloud: Cloud, tmp_path: Path) -> None:
    engine = ScriptedEngine()
    message = message_for(naming.new_user_id(), "sess-x", "hello")
    cloud.send(message)

    stop = running(consumer_with(cloud, tmp_path, engine))
    try:
        (answer,) = cloud.answers(1)
    finally:
        stop()

    assert (answer.message_id, answer.error, answer.answer) == (message.message_id, NOT_ACTIVE, "")
    assert engine.turns == []
    assert cloud.chat_queue_depth() == 0


def test_engine_failures_are_answered_as_errors_not_redelivered(
    cloud: Cloud, tmp_path: Path
) -> None:
    user_id = naming.new_user_id()
    Workspace(tmp_path, user_id).create()
    engine = ScriptedEngine(error=TurnTimeout("claude-code: turn did not end", "pane tail"))
    silent = ScriptedEngine(answer=lambda prompt: "   ")
    first, second = (message_for(user_id, "sess-x", text, n) for n, text in enumerate("ab"))

    cloud.send(first)
    stop = running(consumer_with(cloud, tmp_path, engine))
    try:
        (failed,) = cloud.answers(1)
    finally:
        stop()
    cloud.send(second)
    stop = running(consumer_with(cloud, tmp_path, silent))
    try:
        (empty,) = cloud.answers(1)
    finally:
        stop()

    assert failed.error == "the AI could not answer: claude-code: turn did not end"
    assert empty.error == NO_ANSWER
    assert len(engine.turns) == 1 and cloud.chat_queue_depth() == 0


def test_a_redelivered_message_is_never_submitted_twice(cloud: Cloud, tmp_path: Path) -> None:
    user_id = naming.new_user_id()
    ws = Workspace(tmp_path, user_id).create()
    engine = ScriptedEngine(answer=lambda prompt: "Changed it.")
    message = message_for(user_id, "sess-x", "make it blue")

    for delivery in ("", "-again"):  # the second delivery finds the recorded answer
        cloud.send(message, delivery)
        stop = running(consumer_with(cloud, tmp_path, engine))
        try:
            (answer,) = cloud.answers(1)
        finally:
            stop()
        assert (answer.message_id, answer.answer) == (message.message_id, "Changed it.")
    # A message whose prompt file was written by an agent that then died, unanswered.
    restarted = ScriptedEngine()
    interrupted = message_for(user_id, "sess-x", "and dark", 1)
    ws.write_prompt(chat_task_id(interrupted.message_id), "written before the restart")

    assert consumer_with(cloud, tmp_path, restarted).handle(interrupted).error == INTERRUPTED
    assert engine.turns == [(user_id, chat_task_id(message.message_id))]
    assert restarted.turns == []


def test_an_unreadable_message_is_left_for_the_dead_letter_queue(
    cloud: Cloud, tmp_path: Path
) -> None:
    aws.client("sqs").send_message(
        QueueUrl=cloud.chat_queue,
        MessageBody='{"kind": "chat", "text": "no ids"}',
        MessageGroupId="g",
        MessageDeduplicationId="poison",
    )
    engine = ScriptedEngine()

    stop = running(consumer_with(cloud, tmp_path, engine))
    time.sleep(2)
    stop()

    assert cloud.chat_queue_depth() == 1
    assert aws.client("sqs").receive_message(QueueUrl=cloud.events_queue).get("Messages") is None
    assert engine.turns == []


def test_an_answer_that_cannot_be_reported_keeps_the_message(cloud: Cloud, tmp_path: Path) -> None:
    user_id = naming.new_user_id()
    Workspace(tmp_path, user_id).create()
    message = message_for(user_id, "sess-x", "hello")
    consumer = ChatConsumer(
        cloud.chat_queue,
        tmp_path,
        cast(Any, ScriptedEngine()),
        AnswerPublisher(cloud.events_queue.replace("events", "missing")),
        wait_seconds=1,
        visibility_seconds=30,
    )
    cloud.send(message)

    stop = running(consumer)
    time.sleep(2)
    stop()

    assert cloud.chat_queue_depth() == 1  # in flight until its visibility ends, then retried


# -- the real CLI on the offline model ----------------------------------------------------------


@dataclass
class _Rig:
    cloud: Cloud
    engine: Any
    sessions: Any
    hub: Any
    work_dir: Path

    def site_for(self, requirements: str) -> Workspace:
        from tmux_builder.offline_model.site_design import design_site
        from tmux_builder.offline_model.site_writer import write_site

        ws = Workspace(self.work_dir, naming.new_user_id()).create()
        ws.write_instructions("You build websites. Keep the site's code in code/.\n")
        for path, text in write_site(design_site(requirements)).items():
            (ws.dir / path).write_text(text)
        return ws

    def consumer(self) -> ChatConsumer:
        return ChatConsumer(
            self.cloud.chat_queue,
            self.work_dir,
            self.engine,
            AnswerPublisher(self.cloud.events_queue),
            PaneCapture(self.cloud.bucket, self.sessions),
            turn_timeout=120.0,
            concurrency=2,
            wait_seconds=1,
        )

    def pane(self, ws: Workspace, session_id: str) -> dict[str, Any]:
        found = aws.client("s3").get_object(
            Bucket=self.cloud.bucket, Key=keys.session_pane(ws.user_id, session_id)
        )
        return {"text": found["Body"].read().decode(), **found["Metadata"]}


@pytest.fixture
def rig(cloud: Cloud, tmp_path: Path) -> Iterator[_Rig]:
    from agent.engine.claude_code import ClaudeCodeEngine
    from agent.notify_hub import NotifyHub
    from agent.tmux_sessions import TmuxSessions
    from tests.tools import claude_bin
    from tmux_builder.offline_model.server import OfflineModelServer
    from tmux_builder.settings import AgentSettings

    binary = claude_bin()
    model = OfflineModelServer().start()
    hub = NotifyHub().start()
    settings = AgentSettings(
        work_dir=tmp_path / "work",
        tmux_socket=f"tb-test-{secrets.token_hex(6)}",
        agent_id="agent-test",
        turn_timeout_seconds=120.0,
        claude_bin=binary,
        model_base_url=model.url,
    )
    sessions = TmuxSessions(settings.tmux_socket, settings.agent_id)
    engine = ClaudeCodeEngine(settings, sessions, hub)
    try:
        yield _Rig(cloud, engine, sessions, hub, settings.work_dir)
    finally:
        for cleanup in (sessions.kill_server, hub.stop, model.stop):
            try:
                cleanup()
            except Exception as error:  # never hide the test's own failure
                warnings.warn(f"cleanup failed: {error!r}", stacklevel=1)


def _css_var(css: str, name: str) -> str:
    return css.split(f"--{name}: ", 1)[1].split(";", 1)[0]


def _submissions(ws: Workspace, task_id: str) -> int:
    """How many user turns of the CLI's transcript named this prompt file."""
    recorded = ws.recorded_cli_session()
    assert recorded is not None
    count = 0
    for line in Path(recorded.transcript_path).read_text().splitlines():
        entry = json.loads(line)
        if entry.get("type") == "user" and f"prompts/{task_id}.txt" in json.dumps(
            entry.get("message", {}).get("content", "")
        ):
            count += 1
    return count


@pytest.mark.tmux
@pytest.mark.claude
def test_make_the_background_blue_through_the_real_cli(rig: _Rig) -> None:
    ws = rig.site_for(BAKERY)
    before = (ws.code_dir / "styles.css").read_text()
    message = message_for(ws.user_id, naming.new_session_id(), "make the background blue")
    rig.cloud.send(message)

    stop = running(rig.consumer())
    try:
        (answer,) = rig.cloud.answers(1, timeout=120)
    finally:
        stop()

    assert (answer.user_id, answer.session_id, answer.message_id) == (
        ws.user_id,
        message.session_id,
        message.message_id,
    )
    assert answer.error is None
    assert answer.answer.startswith("Done. I changed the site:")
    assert "**Background:** now blue" in answer.answer
    after = (ws.code_dir / "styles.css").read_text()
    bg = _css_var(after, "bg")
    assert bg != _css_var(before, "bg") and int(bg[5:7], 16) > int(bg[1:3], 16)
    assert rig.cloud.chat_queue_depth() == 0
    task_id = chat_task_id(message.message_id)
    prompt = ws.prompt_path(task_id).read_text()
    assert prompt.startswith("# Chat\n") and "> make the background blue" in prompt
    pane = rig.pane(ws, message.session_id)
    assert "accept edits" in pane["text"]  # the CLI's screen, as it was when the turn ended
    assert pane["source"] == f"chat:{message.message_id}" and pane["captured-at"]
    # Delivered again (the delete was lost): the engine returns the recorded turn.
    again = rig.consumer().handle(message)
    assert again.answer == answer.answer
    assert _submissions(ws, task_id) == 1
    for path in (*ws.dir.rglob("*"), *ws.home.rglob("*.json")):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path
    assert SECRET not in pane["text"]


@pytest.mark.tmux
@pytest.mark.claude
def test_two_users_messages_reach_their_own_panes_only(rig: _Rig) -> None:
    bakery, tea = rig.site_for(BAKERY), rig.site_for(TEA)
    tea_styles = (tea.code_dir / "styles.css").read_text()
    bakery_page = (bakery.code_dir / "index.html").read_text()
    blue = message_for(bakery.user_id, naming.new_session_id(), "make the background blue")
    rename = message_for(tea.user_id, naming.new_session_id(), "call the site Leaf & Co")
    rig.cloud.send(blue)
    rig.cloud.send(rename)

    stop = running(rig.consumer())
    try:
        answers = {a.message_id: a for a in rig.cloud.answers(2, timeout=120)}
    finally:
        stop()

    assert answers[blue.message_id].user_id == bakery.user_id
    assert "**Background:**" in answers[blue.message_id].answer
    assert answers[rename.message_id].user_id == tea.user_id
    assert "**Leaf & Co**" in answers[rename.message_id].answer
    assert (tea.code_dir / "styles.css").read_text() == tea_styles
    assert '<h1 id="site-name">Leaf &amp; Co</h1>' in (tea.code_dir / "index.html").read_text()
    assert (bakery.code_dir / "index.html").read_text() != bakery_page  # theme colour only
    assert "Leaf" not in (bakery.code_dir / "index.html").read_text()
    for ws, mine, theirs in ((bakery, blue, rename), (tea, rename, blue)):
        assert [p.name for p in ws.prompts_dir.iterdir()] == [
            f"{chat_task_id(mine.message_id)}.txt"
        ]
        assert rig.hub.submitted_prompt(ws.user_id, chat_task_id(theirs.message_id)) is None
        pane = rig.pane(ws, mine.session_id)["text"]
        assert pane and chat_task_id(theirs.message_id) not in pane
    assert "Leaf" not in rig.pane(bakery, blue.session_id)["text"]
