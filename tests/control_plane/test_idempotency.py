"""Replayed create calls: the same answer, one session, one Step Functions execution.

Through the HTTP edge for ``POST /api/create-user`` and ``POST /api/admin/sessions`` (with an
``Idempotency-Key`` and without one), and at the domain level for concurrent replays and for a
failed call, which must not be remembered."""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest

from control_plane import idempotency
from control_plane.errors import Conflict, UpstreamUnavailable
from tmux_builder import aws

REQUIREMENTS = "A recipe blog with a search box and a printable recipe card layout"


def _json(headers: dict[str, str]) -> dict[str, str]:
    return {"Content-Type": "application/json", **headers}


def executions_of_user(stack: Any, user_id: str) -> list[str]:
    pages = (
        aws.client("stepfunctions")
        .get_paginator("list_executions")
        .paginate(stateMachineArn=stack.outputs["StateMachineArn"])
    )
    prefix = user_id[:12] + "_"
    return [e["name"] for page in pages for e in page["executions"] if e["name"].startswith(prefix)]


def create_user(
    client: Any, admin: dict[str, str], body: dict[str, Any], key: str | None = None
) -> Any:
    headers = _json(admin) | ({"Idempotency-Key": key} if key else {})
    return client.http.post("/api/create-user", headers=headers, body=json.dumps(body))


def test_a_replayed_create_user_starts_one_execution(
    client: Any, admin: dict[str, str], stack: Any
) -> None:
    key = f"retry-{secrets.token_hex(6)}"
    body = {"email": f"idem-{secrets.token_hex(4)}@example.com", "requirements": REQUIREMENTS}
    first = create_user(client, admin, body, key)
    assert first.status_code == 202, first.body
    answer = json.loads(first.body)
    for _ in range(2):
        again = create_user(client, admin, body, key)
        assert again.status_code == 202, again.body
        replay = json.loads(again.body)
        for field in ("execution_id", "user_id", "session_id", "is_new_user"):
            assert replay[field] == answer[field]
        assert replay["client_url"].endswith(f"#token={replay['client_token']}")
    assert executions_of_user(stack, answer["user_id"]) == [answer["execution_id"]]

    sessions = client.http.get(f"/api/user/{answer['user_id']}/sessions", headers=admin)
    assert [s["session_id"] for s in json.loads(sessions.body)["sessions"]] == [
        answer["session_id"]
    ]

    # The same key with another body is a mistake of the caller, not a new build.
    other = create_user(client, admin, {**body, "requirements": REQUIREMENTS + " and a map"}, key)
    assert other.status_code == 409, other.body
    assert json.loads(other.body)["fields"][0]["field"] == "Idempotency-Key"


def test_the_same_body_without_a_key_is_the_same_call(
    client: Any, admin: dict[str, str], stack: Any
) -> None:
    body = {"email": f"nokey-{secrets.token_hex(4)}@example.com", "requirements": REQUIREMENTS}
    first = json.loads(create_user(client, admin, body).body)
    second = json.loads(create_user(client, admin, body).body)
    assert second["execution_id"] == first["execution_id"]
    assert executions_of_user(stack, first["user_id"]) == [first["execution_id"]]

    changed = json.loads(create_user(client, admin, {**body, "phone": "+1 555 0100 999"}).body)
    assert changed["user_id"] == first["user_id"]
    assert changed["execution_id"] != first["execution_id"]
    with_key = json.loads(create_user(client, admin, body, key=secrets.token_hex(8)).body)
    assert with_key["execution_id"] not in (first["execution_id"], changed["execution_id"])
    assert len(executions_of_user(stack, first["user_id"])) == 3


def test_admin_sessions_are_idempotent_too(client: Any, admin: dict[str, str], stack: Any) -> None:
    body = {
        "email": f"admin-idem-{secrets.token_hex(4)}@example.com",
        "initial_request": REQUIREMENTS,
    }
    key = secrets.token_hex(8)
    headers = _json(admin) | {"Idempotency-Key": key}
    answers = [
        json.loads(
            client.http.post("/api/admin/sessions", headers=headers, body=json.dumps(body)).body
        )
        for _ in range(2)
    ]
    assert answers[0]["execution_id"] and answers[0] == {
        **answers[1],
        "client_token": answers[0]["client_token"],
        "client_url": answers[0]["client_url"],
    }
    no_key = [
        json.loads(
            client.http.post(
                "/api/admin/sessions", headers=_json(admin), body=json.dumps(body)
            ).body
        )
        for _ in range(2)
    ]
    assert no_key[0]["session_id"] == no_key[1]["session_id"] != answers[0]["session_id"]
    assert sorted(executions_of_user(stack, answers[0]["user_id"])) == sorted(
        [answers[0]["execution_id"], no_key[0]["execution_id"]]
    )

    without_request = {"email": body["email"], "client_name": "Later"}
    empty = [
        json.loads(
            client.http.post(
                "/api/admin/sessions", headers=_json(admin), body=json.dumps(without_request)
            ).body
        )
        for _ in range(2)
    ]
    assert empty[0]["execution_id"] is None
    assert empty[0]["session_id"] == empty[1]["session_id"]


@pytest.mark.parametrize("key", ["", "has space", "x" * 129, "semi;colon", "über"])
def test_a_malformed_key_is_400(client: Any, admin: dict[str, str], key: str) -> None:
    body = {"email": "badkey@example.com", "requirements": REQUIREMENTS}
    response = client.http.post(
        "/api/create-user",
        headers=_json(admin) | {"Idempotency-Key": key},
        body=json.dumps(body),
    )
    assert response.status_code == 400, response.body
    assert json.loads(response.body)["fields"][0]["field"] == "Idempotency-Key"


@dataclass(frozen=True)
class Made:
    value: str


# Outside a Lambda invocation Powertools cannot bound an in-progress record by the time left.
_NO_CONTEXT = pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time")


@_NO_CONTEXT
def test_concurrent_replays_run_the_work_once(stack: Any) -> None:
    calls: list[int] = []
    results: list[Any] = []
    payload = {"n": secrets.token_hex(4)}

    def work() -> Made:
        calls.append(1)
        time.sleep(0.5)
        return Made(value="done")

    def replay() -> None:
        try:
            results.append(
                idempotency.once(
                    "test-concurrent", key=None, payload=payload, result_type=Made, work=work
                )
            )
        except Conflict as exc:
            results.append(exc)

    threads = [threading.Thread(target=replay) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert Made(value="done") in results
    assert all(r == Made(value="done") or isinstance(r, Conflict) for r in results)
    later = idempotency.once(
        "test-concurrent", key=None, payload=payload, result_type=Made, work=work
    )
    assert later == Made(value="done") and len(calls) == 1


@_NO_CONTEXT
def test_a_failed_call_is_not_remembered(stack: Any) -> None:
    attempts: list[int] = []

    def flaky() -> Made:
        attempts.append(1)
        if len(attempts) == 1:
            raise UpstreamUnavailable("the pipeline could not be started")
        return Made(value="second time")

    key = secrets.token_hex(8)
    with pytest.raises(UpstreamUnavailable):
        idempotency.once("test-flaky", key=key, payload={}, result_type=Made, work=flaky)
    assert idempotency.once(
        "test-flaky", key=key, payload={}, result_type=Made, work=flaky
    ) == Made(value="second time")
    assert len(attempts) == 2
