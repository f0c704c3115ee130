"""Authentication and authorization at the HTTP edge: 401 without a valid credential, 403 for
another user's data, the admin everywhere."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest

from control_plane import auth, secrets
from tmux_builder import naming

GOOD = {
    "email": "owner@example.com",
    "host_provider": "aws",
    "site_type": "static",
    "requirements": "A small bakery site with opening hours and a contact form",
}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def build(client: Any, admin: dict[str, str]) -> dict[str, Any]:
    response = client.http.post(
        "/api/create-user",
        headers={"Content-Type": "application/json", **admin},
        body=json.dumps(GOOD),
    )
    assert response.status_code == 202, response.body
    return json.loads(response.body)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Bearer " + "x" * 48},
    ],
)
def test_no_valid_credential_is_401(client: Any, headers: dict[str, str]) -> None:
    for method, path in (("POST", "/api/create-user"), ("GET", "/api/status/x")):
        response = client.http.request(
            method,
            path,
            headers={"Content-Type": "application/json", **headers},
            body=json.dumps(GOOD),
        )
        assert response.status_code == 401, (method, path, response.body)
        assert json.loads(response.body)["error"] == "Unauthorized"


def test_a_client_token_cannot_create_users(client: Any, build: dict[str, Any]) -> None:
    response = client.http.post(
        "/api/create-user",
        headers={"Content-Type": "application/json", **_bearer(build["client_token"])},
        body=json.dumps(GOOD),
    )
    assert response.status_code == 403


def test_a_client_sees_its_own_build_and_not_another_users(
    client: Any, build: dict[str, Any]
) -> None:
    own = client.http.get(
        f"/api/status/{build['execution_id']}", headers=_bearer(build["client_token"])
    )
    assert own.status_code == 200
    other_user = naming.new_user_id()
    other = auth.issue_client_token(other_user)
    denied = client.http.get(f"/api/status/{build['execution_id']}", headers=_bearer(other))
    assert denied.status_code == 403
    assert build["client_url"].endswith(f"#token={build['client_token']}")


def test_expired_and_forged_client_tokens_are_401(client: Any, build: dict[str, Any]) -> None:
    expired = auth.issue_client_token(build["user_id"], ttl_seconds=-10)
    forged = jwt.encode(
        {
            "sub": build["user_id"],
            "aud": "tmux-builder-client",
            "iss": "tmux-builder",
            "exp": int(time.time()) + 60,
            "scope": "client",
        },
        "not-the-key-" * 4,
        algorithm="HS256",
    )
    unsigned = jwt.encode(
        {
            "sub": build["user_id"],
            "aud": "tmux-builder-client",
            "iss": "tmux-builder",
            "exp": int(time.time()) + 60,
            "scope": "client",
        },
        None,
        algorithm="none",
    )
    for token in (expired, forged, unsigned):
        response = client.http.get(f"/api/status/{build['execution_id']}", headers=_bearer(token))
        assert response.status_code == 401, token


def test_secrets_never_leave_the_server(client: Any, build: dict[str, Any]) -> None:
    body = client.http.get(
        "/api/openapi.json", headers=_bearer(build["client_token"])
    ).body.decode()
    assert secrets.admin_token() not in body
    assert secrets.signing_key() not in body
