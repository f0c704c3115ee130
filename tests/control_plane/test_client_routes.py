"""Client projects through the Chalice app on the embedded AWS: a client token reaches its own
user's projects (list, history, rename/archive, duplicate) and gets 403 on anyone else's."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from control_plane import auth
from tmux_builder import aws, naming

REQUEST = "A portfolio site for a ceramics studio with a gallery and a shop link"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _json(headers: dict[str, str] | None = None) -> dict[str, str]:
    return {"Content-Type": "application/json", **(headers or {})}


def open_session(client: Any, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    body = {"email": f"client-{secrets.token_hex(4)}@example.com", **body}
    response = client.http.post("/api/admin/sessions", headers=_json(admin), body=json.dumps(body))
    assert response.status_code == 201, response.body
    return dict(json.loads(response.body))


@pytest.fixture
def owner(client: Any, admin: dict[str, str]) -> dict[str, Any]:
    """A user with one built project."""
    return open_session(client, admin, initial_request=REQUEST, client_name="Clay & Co")


@pytest.fixture
def stranger(client: Any, admin: dict[str, str]) -> dict[str, Any]:
    """Another user, with a project of their own (not built: enough to be refused)."""
    return open_session(client, admin)


@pytest.fixture
def unbuilt(client: Any, admin: dict[str, str]) -> dict[str, Any]:
    """A user whose project has no request yet."""
    return open_session(client, admin, client_name="Clay & Co")


def call(client: Any, method: str, path: str, token: str, body: Any = None) -> Any:
    raw = json.dumps(body) if body is not None else b""
    return client.http.request(method, path, headers=_json(_bearer(token)), body=raw)


def test_a_client_lists_only_its_own_projects(
    client: Any, admin: dict[str, str], owner: dict[str, Any], stranger: dict[str, Any]
) -> None:
    response = call(client, "GET", "/api/client/projects", owner["client_token"])
    assert response.status_code == 200, response.body
    projects = json.loads(response.body)["projects"]
    assert [p["session_id"] for p in projects] == [owner["session_id"]]
    project = projects[0]
    assert "email" not in project
    assert project["user_id"] == owner["user_id"]
    assert project["client_name"] == "Clay & Co"
    assert project["latest_execution_id"] == owner["execution_id"]

    assert (
        call(
            client, "GET", f"/api/client/projects?user_id={owner['user_id']}", owner["client_token"]
        ).status_code
        == 200
    )
    other = call(
        client, "GET", f"/api/client/projects?user_id={stranger['user_id']}", owner["client_token"]
    )
    assert other.status_code == 403

    as_admin = client.http.get("/api/client/projects", headers=admin)
    assert as_admin.status_code == 400
    assert json.loads(as_admin.body)["fields"][0]["field"] == "user_id"
    named = client.http.get(f"/api/client/projects?user_id={owner['user_id']}", headers=admin)
    assert [p["session_id"] for p in json.loads(named.body)["projects"]] == [owner["session_id"]]
    for bad in ("email=someone@example.com", "user_id=" + "x" * 65):
        response = client.http.get(f"/api/client/projects?{bad}", headers=admin)
        assert response.status_code == 400, (bad, response.body)


def test_history_is_newest_first(client: Any, owner: dict[str, Any]) -> None:
    response = call(
        client, "GET", f"/api/client/projects/{owner['session_id']}/history", owner["client_token"]
    )
    assert response.status_code == 200, response.body
    history = json.loads(response.body)
    assert history["session_id"] == owner["session_id"]
    assert [e["execution_id"] for e in history["executions"]] == [owner["execution_id"]]
    assert history["executions"][0]["status"] in {"running", "failed", "succeeded"}
    assert history["executions"][0]["started_at"]


def test_rename_and_archive(client: Any, admin: dict[str, str], unbuilt: dict[str, Any]) -> None:
    path = f"/api/client/projects/{unbuilt['session_id']}"
    token = unbuilt["client_token"]
    renamed = call(client, "PATCH", path, token, {"name": "  Clay studio site  "})
    assert renamed.status_code == 200, renamed.body
    assert json.loads(renamed.body)["name"] == "Clay studio site"
    archived = json.loads(call(client, "PATCH", path, token, {"archived": True}).body)
    assert archived["archived"] is True and archived["name"] == "Clay studio site"
    detail = client.http.get(f"/api/admin/sessions/{unbuilt['session_id']}", headers=admin)
    assert json.loads(detail.body)["archived"] is True

    for body, field in (
        ({}, "body"),
        ({"name": ""}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"name": "bad\nname"}, "name"),
        ({"archived": "yes please"}, "archived"),
        ({"status": "deleted"}, "status"),
    ):
        response = call(client, "PATCH", path, token, body)
        assert response.status_code == 400, (body, response.body)
        assert field in {f["field"] for f in json.loads(response.body)["fields"]}


def test_duplicate_starts_a_new_build_of_the_same_request(
    client: Any, admin: dict[str, str], owner: dict[str, Any], stack: Any
) -> None:
    response = call(
        client,
        "POST",
        f"/api/client/projects/{owner['session_id']}/duplicate",
        owner["client_token"],
    )
    assert response.status_code == 202, response.body
    copy = json.loads(response.body)
    assert copy["user_id"] == owner["user_id"]
    assert copy["session_id"] != owner["session_id"]
    assert naming.EXECUTION_ID_RE.match(copy["execution_id"])
    machine = stack.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:")
    described = aws.client("stepfunctions").describe_execution(
        executionArn=f"{machine}:{copy['execution_id']}"
    )
    assert described["name"] == copy["execution_id"]
    detail = json.loads(
        client.http.get(f"/api/admin/sessions/{copy['session_id']}", headers=admin).body
    )
    assert detail["requirements"] == REQUEST
    assert detail["name"].endswith("(copy)")
    assert detail["client_name"] == "Clay & Co"

    empty = open_session(client, admin)
    nothing = call(
        client,
        "POST",
        f"/api/client/projects/{empty['session_id']}/duplicate",
        empty["client_token"],
    )
    assert nothing.status_code == 409


def test_the_users_session_list(
    client: Any, admin: dict[str, str], owner: dict[str, Any], stranger: dict[str, Any]
) -> None:
    path = f"/api/user/{owner['user_id']}/sessions"
    own = call(client, "GET", path, owner["client_token"])
    assert own.status_code == 200, own.body
    answer = json.loads(own.body)
    assert answer["user_id"] == owner["user_id"]
    assert [s["session_id"] for s in answer["sessions"]] == [owner["session_id"]]
    assert client.http.get(path, headers=admin).status_code == 200
    assert call(client, "GET", path, stranger["client_token"]).status_code == 403
    for user_id in ("not-a-user", "0" * 31, "..%2F..", "A" * 32):
        response = client.http.get(f"/api/user/{user_id}/sessions", headers=admin)
        assert response.status_code == 404, (user_id, response.body)


def test_deleted_projects_leave_the_clients_list(
    client: Any, admin: dict[str, str], unbuilt: dict[str, Any]
) -> None:
    # The user keeps another site, so teardown leaves their agent session alone.
    detail = client.http.get(f"/api/admin/sessions/{unbuilt['session_id']}", headers=admin)
    kept = open_session(client, admin, email=json.loads(detail.body)["email"])
    response = client.http.delete(f"/api/admin/sessions/{unbuilt['session_id']}", headers=admin)
    assert response.status_code == 200, response.body
    listed = json.loads(call(client, "GET", "/api/client/projects", unbuilt["client_token"]).body)
    assert [p["session_id"] for p in listed["projects"]] == [kept["session_id"]]
    renamed = call(
        client,
        "PATCH",
        f"/api/client/projects/{unbuilt['session_id']}",
        unbuilt["client_token"],
        {"name": "x"},
    )
    assert renamed.status_code == 409


PROJECT_ROUTES = [
    ("GET", "/api/client/projects/{session_id}/history", None),
    ("PATCH", "/api/client/projects/{session_id}", {"name": "Mine now"}),
    ("POST", "/api/client/projects/{session_id}/duplicate", None),
]


@pytest.mark.parametrize(("method", "path", "body"), PROJECT_ROUTES)
def test_anothers_project_is_403_and_unknown_ids_404(
    client: Any,
    unbuilt: dict[str, Any],
    stranger: dict[str, Any],
    method: str,
    path: str,
    body: Any,
) -> None:
    url = path.format(session_id=unbuilt["session_id"])
    raw = json.dumps(body) if body is not None else b""
    assert client.http.request(method, url, headers=_json(), body=raw).status_code == 401
    forged = _bearer("x" * 40)
    assert client.http.request(method, url, headers=_json(forged), body=raw).status_code == 401
    denied = call(client, method, url, stranger["client_token"], body)
    assert denied.status_code == 403, denied.body
    assert json.loads(denied.body)["error"] == "Forbidden"
    for session_id in ("sess_20260101T000000_abcdef", "sess_x", "x" * 200):
        missing = call(
            client, method, path.format(session_id=session_id), unbuilt["client_token"], body
        )
        assert missing.status_code == 404, (session_id, missing.body)


@pytest.mark.parametrize("path", ["/api/client/projects", "/api/user/{user_id}/sessions"])
def test_lists_need_a_credential(client: Any, unbuilt: dict[str, Any], path: str) -> None:
    url = path.format(user_id=unbuilt["user_id"])
    assert client.http.get(url).status_code == 401
    other = auth.issue_client_token(naming.new_user_id())
    if "{user_id}" in path:
        assert client.http.get(url, headers=_bearer(other)).status_code == 403
    else:
        answer = client.http.get(url, headers=_bearer(other))
        assert answer.status_code == 200 and json.loads(answer.body)["projects"] == []
