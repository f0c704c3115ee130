"""The deployed API has one /api/{proxy+} resource: its events reach the right Chalice route."""

from __future__ import annotations

import json
from typing import Any

from chalice.local import LambdaContext


def _proxy_event(
    method: str, path: str, headers: dict[str, str], body: str | None = None
) -> dict[str, Any]:
    """An event as API Gateway (REST, Lambda proxy) sends it for the greedy resource."""
    return {
        "resource": "/api/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json", **headers},
        "multiValueHeaders": None,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.removeprefix("/api/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/api/{proxy+}",
            "httpMethod": method,
            "path": f"/Prod{path}",
            "identity": {"sourceIp": "203.0.113.7"},
            "stage": "Prod",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def _call(handler: Any, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    answer = handler(event, LambdaContext("tmux-builder-api", 512))
    return answer["statusCode"], json.loads(answer["body"])


def test_proxy_events_reach_their_routes(stack: Any, admin: dict[str, str]) -> None:
    from control_plane.app import api_handler, app

    event = _proxy_event("GET", "/api/status/0123456789ab_sess_20260101T000000_abcdef", admin)
    status, body = _call(api_handler, event)
    assert (status, body["error"]) == (404, "NotFound")
    # Without the routing step Chalice cannot tell which route this is.
    assert _call(app, event)[0] == 405

    status, body = _call(api_handler, _proxy_event("GET", "/api/status/x", {}))
    assert status == 401

    created = _proxy_event(
        "POST",
        "/api/create-user",
        admin,
        json.dumps(
            {"email": "proxy@example.com", "requirements": "A small bakery site with hours"}
        ),
    )
    status, body = _call(api_handler, created)
    assert status == 202, body
    assert body["execution_id"]


def test_unknown_paths_are_left_to_chalice(stack: Any, admin: dict[str, str]) -> None:
    from control_plane.app import api_handler

    answer = api_handler(
        _proxy_event("GET", "/api/no/such/route", admin), LambdaContext("api", 512)
    )
    assert answer["statusCode"] in (403, 404, 405)
