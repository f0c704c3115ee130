"""Routing a session's work to the agent host that owns it, against the embedded AWS: the lease
decides the queue of the next agent task (``$.route.queue_url`` in the real state machine) and of
the next chat message; without a live lease everything goes to the shared queues."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from control_plane import chat, routing
from tmux_builder import aws, keys
from tmux_builder.contracts import ChatMessage, PipelineState
from tmux_builder.naming import new_user_id
from tmux_builder.pipeline import Step


def _owner_queues(stack: Any, agent_id: str) -> tuple[str, str]:
    """An agent host's own queues, named as the agent names them."""
    from agent.leases import own_queue_names

    task_name, chat_name = own_queue_names(stack.outputs["AgentQueueUrl"], agent_id)
    sqs = aws.client("sqs")
    return (
        sqs.create_queue(QueueName=task_name)["QueueUrl"],
        sqs.create_queue(QueueName=chat_name, Attributes={"FifoQueue": "true"})["QueueUrl"],
    )


def _lease(stack: Any, session_id: str, owner: str, queues: tuple[str, str], left: float) -> None:
    aws.client("dynamodb").put_item(
        TableName=stack.outputs["TableName"],
        Item={
            **{k: {"S": v} for k, v in keys.session_lease(session_id).items()},
            **{k: {"S": v} for k, v in keys.leases_index(session_id).items()},
            "session_id": {"S": session_id},
            "user_id": {"S": new_user_id()},
            "owner": {"S": owner},
            "queue_url": {"S": queues[0]},
            "chat_queue_url": {"S": queues[1]},
            "expires_at": {"N": str(int((time.time() + left) * 1000))},
        },
    )


def _wait(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_a_live_lease_routes_to_its_owner_and_an_ended_one_to_the_shared_queues(
    stack: Any,
) -> None:
    queues = _owner_queues(stack, "route-a")
    _lease(stack, "s-live", "route-a", queues, left=30)
    _lease(stack, "s-ended", "route-a", queues, left=-1)

    live = routing.task_route("s-live")
    assert (live.queue_url, live.owner) == (queues[0], "route-a")
    assert routing.chat_queue_for("s-live") == queues[1]
    for session_id in ("s-ended", "s-never-leased"):
        route = routing.task_route(session_id)
        assert (route.queue_url, route.owner) == (stack.outputs["AgentQueueUrl"], None)
        assert routing.chat_queue_for(session_id) == stack.outputs["ChatQueueUrl"]

    state = PipelineState(execution_id="e", user_id=new_user_id(), session_id="s-live")
    assert routing.with_route(state).route == live
    listed = {lease.session_id: lease for lease in routing.leases()}
    assert listed["s-live"].live() and not listed["s-ended"].live()


def test_every_lambda_step_hands_the_state_machine_the_route(stack: Any) -> None:
    from control_plane import steps

    queues = _owner_queues(stack, "route-b")
    user = new_user_id()
    _lease(stack, "s-step", "route-b", queues, left=30)
    payload = {
        "step": Step.GATHER_REQUIREMENTS.value,
        "state": {
            "execution_id": f"exec-route-{time.time_ns()}",
            "user_id": user,
            "session_id": "s-step",
        },
    }

    out = steps.run_step(payload, lambda state: state)

    assert out["route"] == {"queue_url": queues[0], "owner": "route-b"}


def _receive(queue_url: str, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    sqs = aws.client("sqs")
    answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    for message in answer.get("Messages", []):
        body = json.loads(message["Body"])
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if match(body):
            return body
    return None


def test_the_state_machine_sends_the_agent_task_to_the_owners_queue(
    client: Any, admin: dict[str, str], stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real ASL with the real Lambda steps: create_plan goes where $.route.queue_url says."""
    queues = _owner_queues(stack, "route-c")
    owned = routing.SessionLease(
        session_id="any",
        user_id="any",
        owner="route-c",
        queue_url=queues[0],
        chat_queue_url=queues[1],
        expires_at_ms=int((time.time() + 60) * 1000),
    )
    # Every session is owned by route-c: the session id is only known once the build started.
    monkeypatch.setattr(routing, "lease_of", lambda session_id: owned)
    response = client.http.post(
        "/api/create-user",
        headers={"Content-Type": "application/json", **admin},
        body=json.dumps(
            {
                "email": "routed@example.com",
                "host_provider": "aws",
                "site_type": "static",
                "requirements": "A site for a tea shop, routed to its owner",
            }
        ),
    )
    assert response.status_code == 202, response.body
    execution_id = json.loads(response.body)["execution_id"]

    task = _wait(
        lambda: _receive(queues[0], lambda body: body["state"]["execution_id"] == execution_id)
    )

    assert task["step"] == "create_plan"
    assert task["state"]["route"] == {"queue_url": queues[0], "owner": "route-c"}


def test_chat_goes_to_the_owners_chat_queue_and_falls_back_when_it_is_gone(
    stack: Any,
) -> None:
    queues = _owner_queues(stack, "route-d")
    _lease(stack, "s-chat", "route-d", queues, left=30)
    message = ChatMessage(
        message_id="msg_20250101T000000000_0000abcd",
        user_id=new_user_id(),
        session_id="s-chat",
        text="hello",
    )

    chat._queue(message, stack.outputs["ChatQueueUrl"])
    assert _receive(queues[1], lambda body: body["message_id"] == message.message_id)

    aws.client("sqs").delete_queue(QueueUrl=queues[1])  # the owner shut down a moment ago
    again = message.model_copy(update={"message_id": "msg_20250101T000000001_0000abce"})
    chat._queue(again, stack.outputs["ChatQueueUrl"])
    assert _wait(
        lambda: _receive(
            stack.outputs["ChatQueueUrl"], lambda body: body["message_id"] == again.message_id
        )
    )


def test_admins_see_the_leases_and_hosts(client: Any, admin: dict[str, str], stack: Any) -> None:
    queues = _owner_queues(stack, "route-e")
    _lease(stack, "s-listed", "route-e", queues, left=30)

    response = client.http.get("/api/admin/leases", headers=admin)
    anonymous = client.http.get("/api/admin/leases")

    assert response.status_code == 200, response.body
    leases = {lease["session_id"]: lease for lease in json.loads(response.body)["leases"]}
    assert leases["s-listed"]["owner"] == "route-e" and leases["s-listed"]["live"] is True
    assert 0 < leases["s-listed"]["seconds_left"] <= 30
    assert anonymous.status_code == 401
