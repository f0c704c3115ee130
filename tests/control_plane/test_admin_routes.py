"""Admin sessions through the Chalice app on the embedded AWS: open (with or without a build),
list with filters, search and cursors, detail, complete, restore and delete."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from control_plane import auth, tracking
from tmux_builder import aws, naming

REQUEST = "A landing page for a bicycle repair shop with prices and a map"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _json(headers: dict[str, str] | None = None) -> dict[str, str]:
    return {"Content-Type": "application/json", **(headers or {})}


def _email(tag: str = "admin") -> str:
    return f"{tag}-{secrets.token_hex(4)}@example.com"


def open_session(client: Any, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    body = {"email": _email(), **body}
    response = client.http.post("/api/admin/sessions", headers=_json(admin), body=json.dumps(body))
    assert response.status_code == 201, response.body
    return dict(json.loads(response.body))


def get(client: Any, admin: dict[str, str], path: str, status: int = 200) -> Any:
    response = client.http.get(path, headers=admin)
    assert response.status_code == status, (path, response.body)
    return json.loads(response.body)


def post(client: Any, admin: dict[str, str], path: str) -> Any:
    return client.http.post(path, headers=admin)


def detail_email(client: Any, admin: dict[str, str], session_id: str) -> str:
    return str(get(client, admin, f"/api/admin/sessions/{session_id}")["email"])


def listed(client: Any, admin: dict[str, str], query: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = ""
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        page = get(client, admin, f"/api/admin/sessions?{query}{suffix}")
        found.extend(page["sessions"])
        if not page["next_cursor"]:
            return found
        cursor = page["next_cursor"]


def executions_named(stack: Any, name: str) -> list[dict[str, Any]]:
    pages = (
        aws.client("stepfunctions")
        .get_paginator("list_executions")
        .paginate(stateMachineArn=stack.outputs["StateMachineArn"])
    )
    return [e for page in pages for e in page["executions"] if e["name"] == name]


def test_a_session_without_a_request_waits_for_a_conversation(
    client: Any, admin: dict[str, str]
) -> None:
    email = _email()
    opened = open_session(client, admin, email=email, client_name="Velo Fix Ltd")
    assert opened["execution_id"] is None
    assert opened["is_new_user"] is True
    assert opened["client_url"].endswith(f"#token={opened['client_token']}")

    detail = get(client, admin, f"/api/admin/sessions/{opened['session_id']}")
    assert detail["status"] == "active"
    assert detail["email"] == email
    assert detail["client_name"] == "Velo Fix Ltd"
    assert detail["name"] == "Velo Fix Ltd"
    assert detail["archived"] is False
    assert detail["executions"] == [] and detail["resources"] == []
    assert detail["latest_execution_id"] is None

    again = open_session(client, admin, email=email.upper(), client_name="Second site")
    assert again["user_id"] == opened["user_id"] and again["is_new_user"] is False
    assert again["session_id"] != opened["session_id"]


def test_an_initial_request_is_built(client: Any, admin: dict[str, str], stack: Any) -> None:
    opened = open_session(client, admin, initial_request=REQUEST, phone="+49 30 1234567")
    assert naming.EXECUTION_ID_RE.match(opened["execution_id"])
    assert len(executions_named(stack, opened["execution_id"])) == 1
    detail = get(client, admin, f"/api/admin/sessions/{opened['session_id']}")
    assert detail["requirements"] == REQUEST
    assert detail["name"] == "A landing page for a bicycle"
    assert detail["status"] in {"requested", "active"}
    assert detail["latest_execution_id"] == opened["execution_id"]
    assert [e["execution_id"] for e in detail["executions"]] == [opened["execution_id"]]
    assert detail["executions"][0]["mode"] == "build"
    status = client.http.get(
        f"/api/status/{opened['execution_id']}", headers=_bearer(opened["client_token"])
    )
    assert status.status_code == 200


def test_listing_pages_with_a_cursor_filters_and_searches(
    client: Any, admin: dict[str, str]
) -> None:
    marker = f"Pager{secrets.token_hex(3)}"
    made = [
        open_session(client, admin, client_name=f"{marker} client {i}")["session_id"]
        for i in range(5)
    ]
    pages: list[list[str]] = []
    cursor = ""
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        page = get(client, admin, f"/api/admin/sessions?q={marker.lower()}&limit=2{suffix}")
        pages.append([s["session_id"] for s in page["sessions"]])
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [s for p in pages for s in p] == list(reversed(made)), "newest first, each once"

    email = _email("searchable")
    by_email = open_session(client, admin, email=email)["session_id"]
    assert [s["session_id"] for s in listed(client, admin, f"q={email.upper()}")] == [by_email]
    summary = listed(client, admin, f"q={email}")[0]
    assert set(summary) == {
        "session_id",
        "user_id",
        "email",
        "client_name",
        "name",
        "status",
        "archived",
        "created_at",
        "deployed_url",
        "latest_execution_id",
    }

    done = made[0]
    assert post(client, admin, f"/api/admin/sessions/{done}/complete").status_code == 200
    completed = {s["session_id"] for s in listed(client, admin, f"filter=completed&q={marker}")}
    active = {s["session_id"] for s in listed(client, admin, f"filter=active&q={marker}")}
    everything = {s["session_id"] for s in listed(client, admin, f"filter=all&q={marker}")}
    assert completed == {done}
    assert active == set(made) - {done}
    assert everything == set(made)
    assert listed(client, admin, f"filter=deleted&q={marker}") == []


def test_complete_and_restore(client: Any, admin: dict[str, str]) -> None:
    session_id = open_session(client, admin)["session_id"]
    completed = post(client, admin, f"/api/admin/sessions/{session_id}/complete")
    assert completed.status_code == 200, completed.body
    assert json.loads(completed.body)["status"] == "completed"
    twice = post(client, admin, f"/api/admin/sessions/{session_id}/complete")
    assert json.loads(twice.body)["status"] == "completed"
    restored = json.loads(post(client, admin, f"/api/admin/sessions/{session_id}/restore").body)
    assert restored["status"] == "active"
    assert restored["session_id"] == session_id


def test_delete_removes_the_sites_resources_and_ends_the_session(
    client: Any, admin: dict[str, str]
) -> None:
    opened = open_session(client, admin)
    session_id, user_id = opened["session_id"], opened["user_id"]
    # The user keeps another site, so teardown leaves their agent session alone.
    open_session(client, admin, email=detail_email(client, admin, session_id), client_name="Keep")
    bucket = f"tmux-{naming.user_prefix(user_id)}-bikes-{secrets.token_hex(2)}"
    aws.client("s3").create_bucket(Bucket=bucket)
    aws.client("s3").put_object(Bucket=bucket, Key="index.html", Body=b"<h1>bikes</h1>")
    tracking.record_resource(user_id, session_id, "s3_bucket", bucket)

    response = client.http.delete(f"/api/admin/sessions/{session_id}", headers=admin)
    assert response.status_code == 200, response.body
    answer = json.loads(response.body)
    assert answer["session_id"] == session_id and answer["status"] == "deleted"
    assert {"resource_type": "s3_bucket", "resource_id": bucket} in answer["removed"]
    assert bucket not in {b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]}

    detail = get(client, admin, f"/api/admin/sessions/{session_id}")
    assert detail["status"] == "deleted"
    assert detail["resources"] == [
        {"resource_type": "s3_bucket", "resource_id": bucket, "status": "deleted"}
    ]
    for action in ("complete", "restore"):
        refused = post(client, admin, f"/api/admin/sessions/{session_id}/{action}")
        assert refused.status_code == 409, (action, refused.body)
    deleted = {s["session_id"] for s in listed(client, admin, "filter=deleted&limit=100")}
    assert session_id in deleted
    again = client.http.delete(f"/api/admin/sessions/{session_id}", headers=admin)
    assert again.status_code == 200 and json.loads(again.body)["removed"] == []


def test_unknown_and_malformed_session_ids_are_404(client: Any, admin: dict[str, str]) -> None:
    for session_id in ("sess_20260101T000000_abcdef", "sess_nope", "..%2F..%2Fetc", "x" * 200):
        for method, suffix in (
            ("GET", ""),
            ("POST", "/complete"),
            ("POST", "/restore"),
            ("DELETE", ""),
        ):
            response = client.http.request(
                method, f"/api/admin/sessions/{session_id}{suffix}", headers=admin
            )
            assert response.status_code == 404, (session_id, method, suffix, response.body)
            assert json.loads(response.body)["error"] == "NotFound"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"email": "nope"}, "email", 400),
        ({}, "email", 400),
        ({"email": "a@example.com", "client_name": "x" * 101}, "client_name", 400),
        ({"email": "a@example.com", "initial_request": "too short"}, "initial_request", 400),
        ({"email": "a@example.com", "initial_request": "x\x00" * 10}, "initial_request", 400),
        ({"email": "a@example.com", "user_id": "0" * 32}, "user_id", 400),
        ({"email": "a@example.com", "host_provider": "gcp"}, "host_provider", 400),
        ({"email": "a@example.com", "site_type": "serverless"}, "site_type", 400),
    ],
)
def test_bad_bodies_name_the_field(
    client: Any, admin: dict[str, str], body: dict[str, Any], field: str, code: int
) -> None:
    response = client.http.post("/api/admin/sessions", headers=_json(admin), body=json.dumps(body))
    assert response.status_code == code, response.body
    assert field in {f["field"] for f in json.loads(response.body)["fields"]}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("filter=open", "filter"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("cursor=%7B%7D", "cursor"),
        ("cursor=eyJwayI6IjEifQ", "cursor"),
        ("q=" + "x" * 101, "q"),
        ("sort=name", "sort"),
    ],
)
def test_bad_listing_queries_name_the_parameter(
    client: Any, admin: dict[str, str], query: str, field: str
) -> None:
    response = client.http.get(f"/api/admin/sessions?{query}", headers=admin)
    assert response.status_code == 400, response.body
    assert field in {f["field"] for f in json.loads(response.body)["fields"]}


def test_a_cursor_from_another_listing_is_refused(client: Any, admin: dict[str, str]) -> None:
    for _ in range(2):
        open_session(client, admin)
    cursor = get(client, admin, "/api/admin/sessions?limit=1")["next_cursor"]
    assert cursor
    response = client.http.get(f"/api/admin/requests?cursor={cursor}", headers=admin)
    assert response.status_code == 400
    assert json.loads(response.body)["fields"][0]["field"] == "cursor"


ROUTES = [
    ("POST", "/api/admin/sessions", {"email": "x@example.com"}),
    ("GET", "/api/admin/sessions", None),
    ("GET", "/api/admin/sessions/{session_id}", None),
    ("POST", "/api/admin/sessions/{session_id}/complete", None),
    ("POST", "/api/admin/sessions/{session_id}/restore", None),
    ("DELETE", "/api/admin/sessions/{session_id}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_admin_session_routes_need_the_admin(
    client: Any, admin: dict[str, str], method: str, path: str, body: Any
) -> None:
    opened = open_session(client, admin)
    url = path.format(session_id=opened["session_id"])
    raw = json.dumps(body) if body is not None else b""
    anonymous = client.http.request(method, url, headers=_json(), body=raw)
    assert anonymous.status_code == 401, anonymous.body
    # A client, even the session's own, is not the admin.
    for token in (opened["client_token"], auth.issue_client_token(naming.new_user_id())):
        as_client = client.http.request(method, url, headers=_json(_bearer(token)), body=raw)
        assert as_client.status_code == 403, as_client.body
    assert get(client, admin, f"/api/admin/sessions/{opened['session_id']}")["status"] == "active"
