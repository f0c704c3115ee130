"""Chat through the Chalice app on the embedded AWS: a message is stored, then queued on the FIFO
chat queue (message group = session); the agent's answer, arriving as an event, is stored as the
assistant turn; the history, the pane capture and who may see what."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from control_plane import agent_events, auth, chat, store
from tmux_builder import aws, keys, naming
from tmux_builder.contracts import AgentEventEnvelope, ChatAnswered, ChatMessage
from tmux_builder.settings import cloud

REQUIREMENTS = "A small bakery site called Crumb, with opening hours and a contact form"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _json(headers: dict[str, str]) -> dict[str, str]:
    return {"Content-Type": "application/json", **headers}


def wait_for(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.fixture
def build(client: Any, admin: dict[str, str]) -> dict[str, Any]:
    """A fresh user with one build; its client token is ``client`` in the headers it returns."""
    email = f"chat-{naming.new_user_id()[:8]}@example.com"
    response = client.http.post(
        "/api/create-user",
        headers=_json(admin),
        body=json.dumps({"email": email, "requirements": REQUIREMENTS}),
    )
    assert response.status_code == 202, response.body
    body = json.loads(response.body)
    return {**body, "client": _bearer(body["client_token"])}


def send(client: Any, path: str, headers: dict[str, str], message: Any) -> Any:
    return client.http.post(path, headers=_json(headers), body=json.dumps({"message": message}))


def history(client: Any, path: str, headers: dict[str, str]) -> dict[str, Any]:
    response = client.http.get(path, headers=headers)
    assert response.status_code == 200, response.body
    return json.loads(response.body)


def queued_messages(stack: Any) -> Iterator[tuple[ChatMessage, dict[str, str]]]:
    """Everything on the chat queue now (deleted as it is read), with its system attributes."""
    sqs = aws.client("sqs")
    while True:
        answer = sqs.receive_message(
            QueueUrl=stack.outputs["ChatQueueUrl"],
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["MessageGroupId", "MessageDeduplicationId"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return
        for message in messages:
            sqs.delete_message(
                QueueUrl=stack.outputs["ChatQueueUrl"], ReceiptHandle=message["ReceiptHandle"]
            )
            yield ChatMessage.model_validate_json(message["Body"]), message["Attributes"]


def answered(build: dict[str, Any], message_id: str, **fields: Any) -> str:
    event = ChatAnswered(
        user_id=build["user_id"],
        session_id=build["session_id"],
        execution_id=build["execution_id"],
        message_id=message_id,
        **fields,
    )
    return AgentEventEnvelope(event=event).model_dump_json()


# -- sending ----------------------------------------------------------------------------------


def test_a_message_is_stored_first_then_queued_with_the_session_as_group(
    client: Any, stack: Any, build: dict[str, Any]
) -> None:
    list(queued_messages(stack))  # whatever earlier tests left

    response = send(client, f"/api/chat/{build['execution_id']}", build["client"], "Hi\r\nthere\t!")

    assert response.status_code == 202, response.body
    body = json.loads(response.body)
    assert body["status"] == "queued" and body["session_id"] == build["session_id"]
    assert chat.MESSAGE_ID_RE.match(body["message_id"])
    (message, attributes), *others = list(queued_messages(stack))
    assert not others
    assert message.message_id == body["message_id"]
    assert (message.user_id, message.session_id) == (build["user_id"], build["session_id"])
    assert message.execution_id == build["execution_id"]
    assert message.text == "Hi\nthere\t!"
    assert attributes["MessageGroupId"] == build["session_id"]
    assert attributes["MessageDeduplicationId"] == body["message_id"]
    stored = history(client, f"/api/chat/{build['execution_id']}/history", build["client"])
    assert stored == {
        "session_id": build["session_id"],
        "messages": [
            {
                "message_id": body["message_id"],
                "role": "user",
                "text": "Hi\nthere\t!",
                "status": "queued",
                "at": body["at"],
                "in_reply_to": None,
                "error": None,
            }
        ],
        "next_cursor": None,
    }


def test_the_session_route_is_the_same_conversation(
    client: Any, stack: Any, build: dict[str, Any]
) -> None:
    by_session = f"/api/sessions/{build['session_id']}/chat"

    first = send(client, f"/api/chat/{build['execution_id']}", build["client"], "one")
    second = send(client, by_session, build["client"], "two")

    assert second.status_code == 202, second.body
    texts = [m["text"] for m in history(client, by_session, build["client"])["messages"]]
    assert texts == ["one", "two"]
    groups = {
        message.message_id: attributes["MessageGroupId"]
        for message, attributes in queued_messages(stack)
    }
    for response in (first, second):
        assert groups[json.loads(response.body)["message_id"]] == build["session_id"]


@pytest.mark.parametrize(
    "message",
    ["", "   \n ", "x" * 4001, "bell\x07", "escape \x1b[2J", None, 42],
)
def test_invalid_messages_are_400_and_nothing_is_stored(
    client: Any, build: dict[str, Any], message: Any
) -> None:
    response = send(client, f"/api/chat/{build['execution_id']}", build["client"], message)

    assert response.status_code == 400, response.body
    assert json.loads(response.body)["fields"][0]["field"] == "message"
    path = f"/api/chat/{build['execution_id']}/history"
    assert history(client, path, build["client"])["messages"] == []


def test_a_message_of_4000_characters_is_taken(client: Any, build: dict[str, Any]) -> None:
    response = send(client, f"/api/chat/{build['execution_id']}", build["client"], "é" * 4000)

    assert response.status_code == 202


def test_a_message_the_queue_refuses_is_503_and_marked_failed(
    client: Any, build: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = cloud().model_copy(
        update={"chat_queue_url": cloud().chat_queue_url.replace("chat.fifo", "gone.fifo")}
    )
    monkeypatch.setattr(chat, "cloud", lambda: gone)

    response = send(client, f"/api/chat/{build['execution_id']}", build["client"], "hello")

    assert response.status_code == 503, response.body
    (stored,) = history(client, f"/api/chat/{build['execution_id']}/history", build["client"])[
        "messages"
    ]
    assert (stored["status"], stored["error"]) == ("failed", "could not be queued")


def test_a_deleted_sites_chat_is_closed_but_readable(client: Any, build: dict[str, Any]) -> None:
    path = f"/api/sessions/{build['session_id']}/chat"
    assert send(client, path, build["client"], "before").status_code == 202
    store.update(keys.session(build["user_id"], build["session_id"]), {"status": "deleted"})

    assert send(client, path, build["client"], "after").status_code == 409
    assert [m["text"] for m in history(client, path, build["client"])["messages"]] == ["before"]


# -- who may ----------------------------------------------------------------------------------


def test_without_credentials_every_chat_route_is_401(client: Any, build: dict[str, Any]) -> None:
    for method, path in (
        ("POST", f"/api/chat/{build['execution_id']}"),
        ("GET", f"/api/chat/{build['execution_id']}/history"),
        ("POST", f"/api/sessions/{build['session_id']}/chat"),
        ("GET", f"/api/sessions/{build['session_id']}/chat"),
        ("GET", f"/api/admin/sessions/{build['session_id']}/pane"),
    ):
        response = client.http.request(
            method, path, headers=_json({}), body=json.dumps({"message": "hi"})
        )
        assert response.status_code == 401, (method, path)


def test_another_users_chat_is_403_and_unknown_ids_are_404(
    client: Any, admin: dict[str, str], build: dict[str, Any]
) -> None:
    stranger = _bearer(auth.issue_client_token(naming.new_user_id()))
    ours = (f"/api/chat/{build['execution_id']}", f"/api/sessions/{build['session_id']}/chat")
    unknown_execution = naming.execution_id(naming.new_user_id(), naming.new_session_id())
    unknown = (f"/api/chat/{unknown_execution}", f"/api/sessions/{naming.new_session_id()}/chat")

    for path in ours:
        assert send(client, path, stranger, "let me in").status_code == 403
    assert client.http.get(f"{ours[0]}/history", headers=stranger).status_code == 403
    assert client.http.get(ours[1], headers=stranger).status_code == 403
    for path in (*unknown, "/api/chat/not-an-id", "/api/sessions/not-a-session/chat"):
        assert send(client, path, admin, "anyone there?").status_code == 404, path
    assert client.http.get(f"{unknown[0]}/history", headers=admin).status_code == 404
    # The admin may write in anyone's chat.
    assert send(client, ours[1], admin, "from the admin").status_code == 202
    texts = [m["text"] for m in history(client, ours[1], build["client"])["messages"]]
    assert texts == ["from the admin"]


# -- answers ----------------------------------------------------------------------------------


def test_an_answer_from_the_events_queue_is_stored_after_its_question(
    client: Any, stack: Any, build: dict[str, Any]
) -> None:
    path = f"/api/sessions/{build['session_id']}/chat"
    first = json.loads(send(client, path, build["client"], "make it blue").body)["message_id"]
    second = json.loads(send(client, path, build["client"], "and dark").body)["message_id"]

    aws.client("sqs").send_message(
        QueueUrl=stack.outputs["EventsQueueUrl"],
        MessageBody=answered(build, first, answer="Done: the background is blue."),
    )

    messages = wait_for(
        lambda: (m := history(client, path, build["client"])["messages"]) and len(m) == 3 and m
    )
    assert [(m["role"], m["status"], m["in_reply_to"]) for m in messages] == [
        ("user", "answered", None),
        ("assistant", "answered", first),
        ("user", "queued", None),
    ]
    assert messages[1]["text"] == "Done: the background is blue."
    assert messages[1]["message_id"] == f"{first}-answer"
    assert messages[2]["message_id"] == second


def test_answers_are_applied_once_and_reported_to_listeners(
    client: Any, build: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    heard: list[tuple[str, str, chat.ChatTurn]] = []
    monkeypatch.setattr(chat, "_listeners", [])
    chat.on_turn_recorded(lambda user, session, turn: heard.append((user, session, turn)))
    path = f"/api/sessions/{build['session_id']}/chat"
    ok = json.loads(send(client, path, build["client"], "hello").body)["message_id"]
    bad = json.loads(send(client, path, build["client"], "again").body)["message_id"]

    for _ in range(2):  # at-least-once delivery
        agent_events.apply(answered(build, ok, answer="Hello!"))
        agent_events.apply(answered(build, bad, error="this session is not active yet"))
    agent_events.apply(answered(build, ok, answer="a late second answer"))
    agent_events.apply(answered(build, bad, answer="an answer after the failure"))

    messages = history(client, path, build["client"])["messages"]
    assert [(m["role"], m["text"], m["status"], m["error"]) for m in messages] == [
        ("user", "hello", "answered", None),
        ("assistant", "Hello!", "answered", None),
        ("user", "again", "answered", "this session is not active yet"),
        ("assistant", "an answer after the failure", "answered", None),
    ]
    assert [(turn.role, turn.status) for _, _, turn in heard] == [
        ("assistant", "answered"),
        ("user", "failed"),
        ("assistant", "answered"),
    ]
    assert {(user, session) for user, session, _ in heard} == {
        (build["user_id"], build["session_id"])
    }


def test_an_answer_naming_another_user_or_message_is_dropped(
    client: Any, build: dict[str, Any]
) -> None:
    path = f"/api/sessions/{build['session_id']}/chat"
    message_id = json.loads(send(client, path, build["client"], "hello").body)["message_id"]
    forged = json.loads(answered(build, message_id, answer="not yours"))
    forged["event"]["user_id"] = naming.new_user_id()

    agent_events.apply(json.dumps(forged))
    agent_events.apply(answered(build, chat.new_message_id(), answer="for nobody"))

    (only,) = history(client, path, build["client"])["messages"]
    assert only["status"] == "queued"


def test_history_pages_with_a_cursor(client: Any, build: dict[str, Any]) -> None:
    path = f"/api/sessions/{build['session_id']}/chat"
    ids = [
        json.loads(send(client, path, build["client"], f"m{n}").body)["message_id"]
        for n in range(3)
    ]
    agent_events.apply(answered(build, ids[0], answer="a0"))

    first = history(client, f"{path}?limit=2", build["client"])
    rest = history(client, f"{path}?limit=2&cursor={first['next_cursor']}", build["client"])

    assert [m["text"] for m in first["messages"]] == ["m0", "a0"]
    assert first["next_cursor"] == f"{ids[0]}.answer"
    assert [m["text"] for m in rest["messages"]] == ["m1", "m2"]
    assert rest["next_cursor"] is None
    bad = client.http.get(f"{path}?cursor=OWNER", headers=build["client"])
    assert bad.status_code == 400


# -- the pane ---------------------------------------------------------------------------------


def test_admins_read_the_latest_pane_capture_with_its_age(
    client: Any, stack: Any, admin: dict[str, str], build: dict[str, Any]
) -> None:
    path = f"/api/admin/sessions/{build['session_id']}/pane"
    assert json.loads(client.http.get(path, headers=admin).body) == {
        "session_id": build["session_id"],
        "text": "",
        "captured_at": None,
        "source": None,
        "age_seconds": None,
    }
    aws.client("s3").put_object(
        Bucket=stack.outputs["ArtifactsBucket"],
        Key=keys.session_pane(build["user_id"], build["session_id"]),
        Body="> make it blue\n\u25cf Done.".encode(),
        Metadata={"captured-at": "2026-02-04T07:26:09.000Z", "source": "chat-msg_x"},
    )

    pane = json.loads(client.http.get(path, headers=admin).body)

    assert pane["text"] == "> make it blue\n\u25cf Done."
    assert (pane["captured_at"], pane["source"]) == ("2026-02-04T07:26:09.000Z", "chat-msg_x")
    assert pane["age_seconds"] > 0
    assert client.http.get(path, headers=build["client"]).status_code == 403
    unknown = f"/api/admin/sessions/{naming.new_session_id()}/pane"
    assert client.http.get(unknown, headers=admin).status_code == 404
