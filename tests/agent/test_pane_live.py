"""The live pane: while a turn runs the agent refreshes the session's pane capture (only when it
changed), and the turn's final capture has the last word. Real tmux, S3 in moto (versioned, so
every upload is counted)."""

from __future__ import annotations

import secrets
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from agent.chat_consumer import PANE_MAX_CHARS, AnswerPublisher, ChatConsumer, PaneCapture
from agent.engine.base import TurnResult
from agent.events import EventPublisher
from agent.step_handlers import StepContext, StepHandlers
from agent.tmux_sessions import TmuxSessions
from agent.workspace import Workspace
from tmux_builder import aws, keys, naming
from tmux_builder.contracts import AgentTask, ChatMessage, PipelineState
from tmux_builder.pipeline import Step
from tmux_builder.settings import AgentSettings

pytestmark = pytest.mark.tmux

BUCKET = "artifacts"
REFRESH = 0.2


def _eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")


@dataclass
class Rig:
    sessions: TmuxSessions
    panes: PaneCapture
    work_dir: Path
    events_queue: str
    user_id: str
    session_id: str

    def start_shell(self) -> Workspace:
        ws = Workspace(self.work_dir, self.user_id).create()
        self.sessions.ensure(
            self.user_id, ws.dir, ["/bin/sh"], {"PATH": "/usr/bin:/bin", "PS1": "$ "}
        )
        return ws

    def type(self, line: str) -> None:
        self.sessions.paste_line(self.user_id, line)

    def stored(self) -> dict[str, str] | None:
        try:
            found = aws.client("s3").get_object(
                Bucket=BUCKET, Key=keys.session_pane(self.user_id, self.session_id)
            )
        except aws.client("s3").exceptions.NoSuchKey:
            return None
        return {"text": found["Body"].read().decode(), **found["Metadata"]}

    def uploads(self) -> int:
        versions = aws.client("s3").list_object_versions(
            Bucket=BUCKET, Prefix=keys.session_pane(self.user_id, self.session_id)
        )
        return len(versions.get("Versions", []))

    def shows(self, needle: str, source: str) -> Callable[[], bool]:
        def check() -> bool:
            stored = self.stored()
            return bool(stored and needle in stored["text"] and stored["source"] == source)

        return check


@pytest.fixture
def rig(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Rig]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAPANETEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "pane-test-" + secrets.token_hex(8))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    sessions = TmuxSessions(f"tb-test-{secrets.token_hex(6)}", "agent-test")
    with mock_aws():
        aws.reset()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        events = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="events")
        try:
            yield Rig(
                sessions,
                PaneCapture(BUCKET, sessions, refresh_seconds=REFRESH),
                tmp_path / "work",
                events["QueueUrl"],
                naming.new_user_id(),
                naming.new_session_id(),
            )
        finally:
            aws.reset()
            try:
                sessions.kill_server()
            except Exception as error:  # never hide the test's own failure
                warnings.warn(f"tmux cleanup failed: {error!r}", stacklevel=1)


def test_the_capture_follows_the_pane_while_a_turn_runs(rig: Rig) -> None:
    rig.start_shell()
    with rig.panes.live(rig.user_id, rig.session_id, "step:create_plan"):
        rig.type("echo first-$((20+22))")
        _eventually(rig.shows("first-42", "live:step:create_plan"))
        settled = rig.uploads()
        time.sleep(REFRESH * 5)  # nothing changes on screen: nothing is uploaded
        assert rig.uploads() == settled
        rig.type("echo second-$((40+2))")
        _eventually(rig.shows("second-42", "live:step:create_plan"))
    ended = rig.uploads()
    rig.type("echo after-the-turn")
    time.sleep(REFRESH * 4)
    assert rig.uploads() == ended, "the refresher kept going after the turn"

    assert rig.panes.capture(rig.user_id, rig.session_id, "step:create_plan")
    final = rig.stored()
    assert final is not None and final["source"] == "step:create_plan"
    assert "after-the-turn" in final["text"]


def test_a_huge_capture_keeps_its_newest_end(rig: Rig) -> None:
    text = "old\n" + "x" * PANE_MAX_CHARS + "\nnewest line"
    assert rig.panes.upload_text(rig.user_id, rig.session_id, text, "chat:m")
    stored = rig.stored()
    assert stored is not None
    assert len(stored["text"]) == PANE_MAX_CHARS
    assert stored["text"].endswith("newest line")


class PaneEngine:
    """Plays the CLI: a turn types into the real pane and ends once the live capture shows it."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.hub = self
        self.seen_live: list[str] = []

    def submitted_prompt(self, user_id: str, task_id: str) -> str | None:
        return None

    def ensure_started(self, ws: Workspace) -> None:
        pass

    def run_turn(
        self, ws: Workspace, task_id: str, prompt_text: str, timeout: float | None = None
    ) -> TurnResult:
        marker = f"working-on-{task_id[:20]}"
        self.rig.type(f"echo {marker}")
        stored = _eventually(
            lambda: (
                (s := self.rig.stored())
                and marker in s["text"]
                and s["source"].startswith("live:")
                and s
            )
        )
        self.seen_live.append(stored["source"])
        return TurnResult(task_id, "p1", "Done.", 0.1)


def test_a_pipeline_step_turn_is_watched_live(rig: Rig) -> None:
    ws = rig.start_shell()
    engine = PaneEngine(rig)
    settings = AgentSettings(work_dir=rig.work_dir, tmux_socket=rig.sessions.socket_name)
    handlers = StepHandlers(
        StepContext(
            settings=settings,
            cloud=None,  # type: ignore[arg-type]  # an AI turn does not read it
            engine=engine,
            events=EventPublisher(rig.events_queue),
            artifacts=None,  # type: ignore[arg-type]  # no summary file: not read
            edge=None,
            panes=rig.panes,
        )
    )
    execution_id = naming.execution_id(rig.user_id, rig.session_id)
    task = AgentTask(
        task_token="t" * 20,
        step=Step.CREATE_PLAN,
        state=PipelineState(
            execution_id=execution_id, user_id=rig.user_id, session_id=rig.session_id
        ),
    )
    assert handlers._ai_turn(task, ws, "write plan.md") == "Done."
    assert engine.seen_live == ["live:step:create_plan"]
    final = rig.stored()
    assert final is not None and final["source"] == "step:create_plan"


def test_a_chat_turn_is_watched_live(rig: Rig) -> None:
    rig.start_shell()
    engine = PaneEngine(rig)
    consumer = ChatConsumer(
        "unused-queue",
        rig.work_dir,
        engine,  # type: ignore[arg-type]  # plays the Engine's part a chat turn uses
        AnswerPublisher(rig.events_queue),
        rig.panes,
    )
    message = ChatMessage(
        message_id=f"msg_20260204T072609100_{secrets.token_hex(4)}",
        user_id=rig.user_id,
        session_id=rig.session_id,
        execution_id=None,
        text="Make the background blue",
    )
    answered = consumer.handle(message)
    assert answered.answer == "Done." and answered.error is None
    assert engine.seen_live == [f"live:chat:{message.message_id}"]
    final = rig.stored()
    assert final is not None and final["source"] == f"chat:{message.message_id}"
