"""The agent's teardown of a user: a real tmux server on a private socket, real folders, paths
that try to lead outside the work dir, and the host's session leases in moto's DynamoDB."""

from __future__ import annotations

import secrets
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from agent.consumer import Consumer
from agent.leases import SessionLeases
from agent.teardown import UnsafePath, UserTeardown
from agent.tmux_sessions import TmuxSessions
from tmux_builder import keys
from tmux_builder.contracts import AgentCommand
from tmux_builder.naming import new_session_id, new_user_id

pytestmark = pytest.mark.tmux


@pytest.fixture
def tmux() -> Iterator[TmuxSessions]:
    sessions = TmuxSessions(f"tb-test-{secrets.token_hex(6)}", "agent-test")
    sessions.start_server()
    try:
        yield sessions
    finally:
        try:
            sessions.kill_server()
        except Exception as error:  # never hide the test's own failure
            warnings.warn(f"tmux cleanup failed: {error!r}", stacklevel=1)


def _user_with_session(tmux: TmuxSessions, work_dir: Path) -> str:
    user_id = new_user_id()
    session_dir = work_dir / "sessions" / user_id
    (session_dir / "code").mkdir(parents=True)
    (session_dir / "code" / "index.html").write_text("<title>x</title>")
    (work_dir / "homes" / user_id).mkdir(parents=True)
    tmux.ensure(user_id, session_dir, ["sleep", "60"], {})
    assert tmux.is_alive(user_id)
    return user_id


def test_the_users_session_and_folders_go_and_a_second_run_is_harmless(
    tmux: TmuxSessions, tmp_path: Path
) -> None:
    work_dir = tmp_path / "work"
    user_id = _user_with_session(tmux, work_dir)
    neighbour = _user_with_session(tmux, work_dir)
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    (work_dir / "sessions" / user_id / "code" / "link").symlink_to(outside)
    forgotten: list[str] = []

    teardown = UserTeardown(work_dir, tmux, forgotten.append)
    teardown(AgentCommand(user_id=user_id))

    assert not tmux.exists(user_id)
    assert not (work_dir / "sessions" / user_id).exists()
    assert not (work_dir / "homes" / user_id).exists()
    assert outside.read_text() == "keep me"  # a link inside is removed, never followed
    assert tmux.is_alive(neighbour)
    assert (work_dir / "sessions" / neighbour / "code" / "index.html").is_file()
    assert forgotten == [user_id]

    again = teardown.teardown_user(user_id)
    assert (again.killed_session, again.removed) == (False, [])


def test_a_folder_that_leads_outside_the_work_dir_is_refused(
    tmux: TmuxSessions, tmp_path: Path
) -> None:
    work_dir = tmp_path / "work"
    user_id = new_user_id()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.txt").write_text("keep me")
    (work_dir / "sessions").mkdir(parents=True)
    (work_dir / "sessions" / user_id).symlink_to(elsewhere)
    teardown = UserTeardown(work_dir, tmux)

    with pytest.raises(UnsafePath, match="symlink"):
        teardown.teardown_user(user_id)
    assert (elsewhere / "precious.txt").read_text() == "keep me"

    (work_dir / "sessions" / user_id).unlink()
    (work_dir / "homes").symlink_to(elsewhere)
    (elsewhere / user_id).mkdir()
    with pytest.raises(UnsafePath, match="symlink"):
        teardown.teardown_user(user_id)
    assert (elsewhere / user_id).is_dir()

    for bad in ("../../etc", "", "0123456789abcdef0123456789abcdef/..", "A" * 32):
        with pytest.raises(ValueError):
            teardown.teardown_user(bad)


@pytest.mark.parametrize("shared", [True, False], ids=["shared-queue", "own-queue"])
def test_the_consumer_hands_commands_over_and_deletes_them(
    monkeypatch: pytest.MonkeyPatch, shared: bool
) -> None:
    """On the shared queue and on a host's own queue alike (teardown goes to the own queues)."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    from tmux_builder import aws

    aws.reset()
    with mock_aws():
        sqs = boto3.client("sqs")
        queue = sqs.create_queue(QueueName="agent-tasks")["QueueUrl"]
        user_id = new_user_id()
        sqs.send_message(
            QueueUrl=queue, MessageBody=AgentCommand(user_id=user_id).model_dump_json()
        )
        handled: list[AgentCommand] = []
        done = threading.Event()

        def handle_command(command: AgentCommand) -> None:
            handled.append(command)
            done.set()

        def no_tasks(_task: Any) -> None:
            raise AssertionError("a command is not a task")

        consumer = Consumer(
            queue,
            no_tasks,
            events=None,  # type: ignore[arg-type]
            handle_command=handle_command,
            shared=shared,
        )
        message = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)["Messages"][0]
        consumer._accept(message)
        assert done.wait(5)
        consumer.stop()
        consumer._pool.shutdown(wait=True)
        assert handled == [AgentCommand(user_id=user_id)]
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == "0"
        assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    aws.reset()


class _Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def lease_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    from tmux_builder import aws

    aws.reset()
    with mock_aws():
        aws.client("dynamodb").create_table(
            TableName="leases",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"} for name in (keys.PK, keys.SK)
            ],
            KeySchema=[
                {"AttributeName": keys.PK, "KeyType": "HASH"},
                {"AttributeName": keys.SK, "KeyType": "RANGE"},
            ],
        )
        yield "leases"
    aws.reset()


def _owner(table: str, session_id: str) -> str | None:
    from tmux_builder import aws

    item = (
        aws.client("dynamodb")
        .get_item(
            TableName=table,
            Key={k: {"S": v} for k, v in keys.session_lease(session_id).items()},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return item["owner"]["S"] if item else None


def test_the_user_s_leases_this_host_owns_are_released_and_no_other(
    tmux: TmuxSessions, tmp_path: Path, lease_table: str
) -> None:
    clock = _Clock()
    here = SessionLeases(lease_table, "host-a", "q/a", "q/a-chat", 30, clock)
    there = SessionLeases(lease_table, "host-b", "q/b", "q/b-chat", 30, clock)
    work_dir = tmp_path / "work"
    user_id = _user_with_session(tmux, work_dir)
    neighbour = new_user_id()
    first, second, taken, elsewhere, neighbours = (new_session_id() for _ in range(5))
    # host-a stopped renewing "taken" (it still believes it holds it); host-b took it over.
    here.acquire(taken, user_id)
    clock.now += 31
    there.acquire(taken, user_id)
    for session_id in (first, second):
        here.acquire(session_id, user_id)
    here.acquire(neighbours, neighbour)
    there.acquire(elsewhere, user_id)
    assert set(here.held()) == {first, second, taken, neighbours}

    result = UserTeardown(work_dir, tmux, leases=here).teardown_user(user_id)

    assert sorted(result.released_leases) == sorted([first, second])
    assert result.killed_session
    assert _owner(lease_table, first) is None and _owner(lease_table, second) is None
    assert _owner(lease_table, taken) == "host-b"  # not ours any more: left alone
    assert _owner(lease_table, elsewhere) == "host-b"
    assert _owner(lease_table, neighbours) == "host-a"
    assert here.held() == {neighbours: neighbour}  # released: never renewed again

    again = UserTeardown(work_dir, tmux, leases=here).teardown_user(user_id)
    assert (again.killed_session, again.removed, again.released_leases) == (False, [], [])
