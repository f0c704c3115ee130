"""Onboarding through the Chalice app on the embedded AWS: the public form (rate-limited, no
build unless auto-approval is on), the admin's list, approve (once) and reject."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from control_plane import auth, rate_limit
from tmux_builder import aws, naming, settings

FORM = {
    "name": "Grace Hopper",
    "phone": "+1 555 0100 200",
    "initial_request": "A one-page site for a small cobol consultancy with a contact form",
    "host_provider": "aws",
    "site_type": "static",
}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _json(headers: dict[str, str] | None = None) -> dict[str, str]:
    return {"Content-Type": "application/json", **(headers or {})}


def _email() -> str:
    return f"onboard-{secrets.token_hex(4)}@example.com"


@pytest.fixture
def source_ip(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh caller address, so each test has its own rate-limit window."""
    from chalice.local import LambdaEventConverter

    address = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"
    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", address)
    return address


@pytest.fixture
def auto_approve(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TMUX_BUILDER_AUTO_APPROVE", "true")
    settings.reload()
    yield
    monkeypatch.undo()
    settings.reload()


def submit(client: Any, **changes: Any) -> Any:
    body = {**FORM, "email": _email(), **changes}
    return client.http.post("/api/requests", headers=_json(), body=json.dumps(body))


def admin_post(client: Any, admin: dict[str, str], path: str, body: Any = None) -> Any:
    raw = json.dumps(body) if body is not None else b""
    return client.http.post(path, headers=_json(admin), body=raw)


def executions_named(stack: Any, name: str) -> list[dict[str, Any]]:
    pages = (
        aws.client("stepfunctions")
        .get_paginator("list_executions")
        .paginate(stateMachineArn=stack.outputs["StateMachineArn"])
    )
    return [e for page in pages for e in page["executions"] if e["name"] == name]


def requests_listed(client: Any, admin: dict[str, str], status: str = "all") -> list[Any]:
    found: list[Any] = []
    cursor = ""
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        response = client.http.get(
            f"/api/admin/requests?status={status}&limit=100{suffix}", headers=admin
        )
        assert response.status_code == 200, response.body
        page = json.loads(response.body)
        found.extend(page["requests"])
        if not page["next_cursor"]:
            return found
        cursor = page["next_cursor"]


def test_a_public_request_waits_for_an_admin(
    client: Any, admin: dict[str, str], source_ip: str, stack: Any
) -> None:
    email = _email()
    response = submit(client, email=email)
    assert response.status_code == 202, response.body
    answer = json.loads(response.body)
    assert answer["status"] == "pending"
    assert answer["message"]
    assert answer["client_token"] is None and answer["execution_id"] is None

    pending = {r["request_id"]: r for r in requests_listed(client, admin, "pending")}
    listed = pending[answer["request_id"]]
    assert listed["email"] == email and listed["status"] == "pending"
    assert listed["initial_request"] == FORM["initial_request"]
    assert listed["decided_at"] is None and listed["execution_id"] is None
    # Nothing was built and no user was made for the address.
    sessions = client.http.get(f"/api/admin/sessions?q={email}", headers=admin)
    assert json.loads(sessions.body)["sessions"] == []


def test_approval_starts_one_build_and_answers_the_same_twice(
    client: Any, admin: dict[str, str], source_ip: str, stack: Any
) -> None:
    request_id = json.loads(submit(client).body)["request_id"]
    path = f"/api/admin/requests/{request_id}/approve"
    first = admin_post(client, admin, path)
    assert first.status_code == 200, first.body
    approved = json.loads(first.body)
    assert approved["status"] == "approved"
    assert naming.EXECUTION_ID_RE.match(approved["execution_id"])
    again = json.loads(admin_post(client, admin, path).body)
    for field in ("user_id", "session_id", "execution_id"):
        assert again[field] == approved[field]
    assert len(executions_named(stack, approved["execution_id"])) == 1

    # The client link works for the build and the project.
    token = approved["client_token"]
    assert approved["client_url"].endswith(f"#token={token}")
    status = client.http.get(f"/api/status/{approved['execution_id']}", headers=_bearer(token))
    assert status.status_code == 200, status.body
    projects = json.loads(client.http.get("/api/client/projects", headers=_bearer(token)).body)
    project = next(p for p in projects["projects"] if p["session_id"] == approved["session_id"])
    assert project["client_name"] == FORM["name"]
    assert project["latest_execution_id"] == approved["execution_id"]

    listed = {r["request_id"]: r for r in requests_listed(client, admin, "approved")}
    assert listed[request_id]["execution_id"] == approved["execution_id"]
    assert listed[request_id]["decided_at"]
    rejected = admin_post(client, admin, f"/api/admin/requests/{request_id}/reject", {})
    assert rejected.status_code == 409


def test_a_rejected_request_stays_rejected(
    client: Any, admin: dict[str, str], source_ip: str
) -> None:
    request_id = json.loads(submit(client).body)["request_id"]
    reject = f"/api/admin/requests/{request_id}/reject"
    too_long = admin_post(client, admin, reject, {"reason": "x" * 501})
    assert too_long.status_code == 400
    assert {f["field"] for f in json.loads(too_long.body)["fields"]} == {"reason"}

    response = admin_post(client, admin, reject, {"reason": "Out of scope for us"})
    assert response.status_code == 200, response.body
    assert json.loads(response.body) == {"request_id": request_id, "status": "rejected"}
    assert admin_post(client, admin, reject, {}).status_code == 409
    assert admin_post(client, admin, reject).status_code == 409, "the body is optional"
    approve = admin_post(client, admin, f"/api/admin/requests/{request_id}/approve")
    assert approve.status_code == 409
    assert json.loads(approve.body)["error"] == "Conflict"

    listed = {r["request_id"]: r for r in requests_listed(client, admin, "rejected")}
    assert listed[request_id]["reason"] == "Out of scope for us"
    assert request_id not in {r["request_id"] for r in requests_listed(client, admin, "pending")}


def test_auto_approval_builds_at_once_and_links_only_a_new_user(
    client: Any, admin: dict[str, str], source_ip: str, auto_approve: None, stack: Any
) -> None:
    email = _email()
    response = submit(client, email=email)
    assert response.status_code == 202, response.body
    answer = json.loads(response.body)
    assert answer["status"] == "approved"
    assert len(executions_named(stack, answer["execution_id"])) == 1
    token = answer["client_token"]
    status = client.http.get(f"/api/status/{answer['execution_id']}", headers=_bearer(token))
    assert status.status_code == 200

    # Anyone can type an existing address: that build starts, but no link is handed out.
    second = json.loads(submit(client, email=email).body)
    assert second["status"] == "approved"
    assert second["client_token"] is None and second["client_url"] is None
    assert second["user_id"] is None
    assert second["execution_id"] != answer["execution_id"]


def test_bad_forms_are_refused_and_write_nothing(
    client: Any, admin: dict[str, str], source_ip: str
) -> None:
    email = _email()
    for change, field in (
        ({"host_provider": "gcp"}, "host_provider"),
        ({"site_type": "serverless"}, "site_type"),
        ({"email": "not-an-address"}, "email"),
        ({"name": ""}, "name"),
        ({"name": "a\x07b"}, "name"),
        ({"initial_request": "short"}, "initial_request"),
        ({"phone": "; rm -rf /"}, "phone"),
        ({"admin": True}, "admin"),
    ):
        response = submit(client, **{"email": email, **change})
        assert response.status_code == 400, (change, response.body)
        assert field in {f["field"] for f in json.loads(response.body)["fields"]}
    assert email not in {r["email"] for r in requests_listed(client, admin)}


def test_the_form_is_rate_limited_per_address(
    client: Any, monkeypatch: pytest.MonkeyPatch, source_ip: str
) -> None:
    from chalice.local import LambdaEventConverter

    for _ in range(5):
        assert submit(client).status_code == 202
    limited = submit(client)
    assert limited.status_code == 429, limited.body
    assert json.loads(limited.body)["error"] == "TooManyRequests"
    assert 0 < int(limited.headers["Retry-After"]) <= 600
    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", "192.0.2.77")
    assert submit(client).status_code == 202


def test_the_limiter_counts_per_subject_and_window(stack: Any) -> None:
    limit = rate_limit.Limit(scope=f"test-{secrets.token_hex(3)}", requests=2, window_seconds=60)
    start = 1_800_000_000.0
    assert rate_limit.hit(limit, "203.0.113.1", now=start) == 1
    assert rate_limit.hit(limit, "203.0.113.1", now=start + 1) == 0
    with pytest.raises(rate_limit.RateLimited) as caught:
        rate_limit.hit(limit, "203.0.113.1", now=start + 20)
    assert caught.value.retry_after == 40
    assert caught.value.status_code == 429
    assert rate_limit.hit(limit, "203.0.113.2", now=start + 20) == 1
    assert rate_limit.hit(limit, "203.0.113.1", now=start + 60) == 1


def test_requests_page_with_a_cursor(
    client: Any, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalice.local import LambdaEventConverter

    made = []
    for index in range(3):
        monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", f"198.51.100.{index + 10}")
        made.append(json.loads(submit(client).body)["request_id"])
    seen: list[str] = []
    cursor = ""
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        page = json.loads(
            client.http.get(f"/api/admin/requests?limit=2{suffix}", headers=admin).body
        )
        assert len(page["requests"]) <= 2
        seen.extend(r["request_id"] for r in page["requests"])
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen))
    assert [r for r in seen if r in made] == list(reversed(made)), "newest first"

    for query, field in (
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("status=open", "status"),
        ("limit=0", "limit"),
    ):
        response = client.http.get(f"/api/admin/requests?{query}", headers=admin)
        assert response.status_code == 400, (query, response.body)
        assert field in {f["field"] for f in json.loads(response.body)["fields"]}


def test_unknown_or_malformed_request_ids_are_404(client: Any, admin: dict[str, str]) -> None:
    for request_id in ("req_" + "0" * 20, "req_nothex", "..%2F..", "x" * 200):
        for action, body in (("approve", None), ("reject", {})):
            response = admin_post(client, admin, f"/api/admin/requests/{request_id}/{action}", body)
            assert response.status_code == 404, (request_id, action, response.body)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/admin/requests", None),
        ("POST", "/api/admin/requests/req_00000000000000000000/approve", None),
        ("POST", "/api/admin/requests/req_00000000000000000000/reject", {}),
    ],
)
def test_admin_request_routes_need_the_admin(
    client: Any, method: str, path: str, body: Any
) -> None:
    raw = json.dumps(body) if body is not None else b""
    anonymous = client.http.request(method, path, headers=_json(), body=raw)
    assert anonymous.status_code == 401
    token = auth.issue_client_token(naming.new_user_id())
    as_client = client.http.request(method, path, headers=_json(_bearer(token)), body=raw)
    assert as_client.status_code == 403


def test_a_reject_needs_no_body(client: Any, admin: dict[str, str], source_ip: str) -> None:
    request_id = json.loads(submit(client).body)["request_id"]
    response = admin_post(client, admin, f"/api/admin/requests/{request_id}/reject")
    assert response.status_code == 200, response.body
    listed = {r["request_id"]: r for r in requests_listed(client, admin, "rejected")}
    assert listed[request_id]["reason"] is None
