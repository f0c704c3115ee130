"""Logs of the control plane: structured, with the ids that matter, and never a secret or a full
e-mail address, through the real Chalice middleware (HTTP routes and Lambda step handlers)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from control_plane import auth, observability
from control_plane.observability import REDACTED, redact, redact_text

EMAIL = "ada.lovelace@example.com"
MASKED = "a***@example.com"
AWS_KEY_ID = "ASIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjE" + "Ab1+/Cd2" * 40
REQUIREMENTS = "A site for a chess club, with a calendar and a page for each member"


def _lines(out: str) -> list[dict[str, Any]]:
    """The JSON lines of captured stdout (logs and EMF metrics)."""
    found = []
    for line in out.splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            found.append(parsed)
    return found


def _logs(out: str) -> list[dict[str, Any]]:
    return [line for line in _lines(out) if line.get("service") == observability.SERVICE]


# ------------------------------------------------------------------------ redaction rules


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer s3cr3t-admin-token-value", "s3cr3t-admin-token-value"),
        ("basic YWRtaW46YWRtaW4=", "YWRtaW46YWRtaW4="),
        ("link https://x/#token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", "eyJhbGci"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", "eyJzdWIiOiJ4In0"),
        (f"key {AWS_KEY_ID} used", AWS_KEY_ID),
        (f"secret={AWS_SECRET}", AWS_SECRET),
        (f"the secret is {AWS_SECRET}.", AWS_SECRET),
        (f"token {SESSION_TOKEN}", SESSION_TOKEN[:60]),
        ("GET /x?X-Amz-Signature=abcdef0123&X-Amz-Security-Token=zzz", "abcdef0123"),
        ('{"client_token": "abc.def", "email": "x"}', "abc.def"),
        ("{'password': 'hunter2'}", "hunter2"),
        (f"mail {EMAIL} now", EMAIL),
        ("encoded ada.lovelace%40example.com", "ada.lovelace%40example.com"),
    ],
)
def test_secrets_and_addresses_are_redacted_from_text(text: str, secret: str) -> None:
    assert secret not in redact_text(text)


def test_addresses_are_masked_not_dropped_and_ordinary_text_is_kept() -> None:
    assert redact_text(f"sent to {EMAIL}") == f"sent to {MASKED}"
    assert redact_text(MASKED) == MASKED
    plain = (
        "user 0123456789abcdef0123456789abcdef execution 0123456789ab_sess_20250101T000000_abcdef "
        "commit 3f786850e387550fdab836ed7e6dc881de23001b, 12 input_tokens"
    )
    assert redact_text(plain) == plain


def test_values_under_secret_keys_are_replaced_whole() -> None:
    record = {
        "message": {"headers": {"Authorization": "anything", "Host": "api"}},
        "credentials": {"AccessKeyId": AWS_KEY_ID, "SecretAccessKey": "short"},
        "client_token": "opaque",
        "input_tokens": 12,
        "user_id": "0123456789abcdef0123456789abcdef",
    }
    assert redact(record) == {
        "message": {"headers": {"Authorization": REDACTED, "Host": "api"}},
        "credentials": REDACTED,
        "client_token": REDACTED,
        "input_tokens": 12,
        "user_id": "0123456789abcdef0123456789abcdef",
    }


def test_registered_secrets_are_redacted_whatever_their_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(observability, "_known_secrets", set())
    observability.register_secret("plain-words-secret")
    assert redact_text("it was plain-words-secret!") == f"it was {REDACTED}!"


# ------------------------------------------------------------------------ through the app


def test_routes_log_with_lambda_context_and_without_secrets(
    client: Any,
    admin: dict[str, str],
    admin_token: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The worst case: the whole event (headers, raw body) is logged on every invocation.
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    body = {"email": EMAIL, "requirements": REQUIREMENTS, "phone": "+44 20 7946 0000"}
    created = client.http.post(
        "/api/create-user",
        headers={"Content-Type": "application/json", **admin},
        body=json.dumps(body),
    )
    assert created.status_code == 202, created.body
    answer = json.loads(created.body)
    client_jwt = answer["client_token"]
    status = client.http.get(
        f"/api/status/{answer['execution_id']}", headers={"Authorization": f"Bearer {client_jwt}"}
    )
    assert status.status_code == 200, status.body
    wrong = client.http.get("/api/status/x", headers={"Authorization": f"Bearer {admin_token}x"})
    assert wrong.status_code == 401

    # An unhandled error whose message carries the secrets reaches the log as a stack trace.
    def explode(headers: Any) -> Any:
        raise RuntimeError(
            f"boom for {EMAIL} with Authorization: Bearer {admin_token} and {answer['client_url']}"
        )

    monkeypatch.setattr(auth, "authenticate", explode)
    failed = client.http.get("/api/status/x", headers=admin)
    assert failed.status_code == 500

    out = capsys.readouterr().out
    for secret in (admin_token, client_jwt, EMAIL, client_jwt.split(".")[1]):
        assert secret not in out
    logs = _logs(out)
    assert MASKED in out, "the logged events carry the masked address"
    events = [m for m in logs if isinstance(m.get("message"), dict) and "headers" in m["message"]]
    assert len(events) >= 4, "every route invocation logged its event"
    assert all(line["function_request_id"] for line in events), "Lambda context keys injected"
    crash = next(line for line in logs if line.get("message") == "unhandled error in route")
    assert crash["route"] == "GET /api/status/{execution_id}"
    assert "boom for" in crash["exception"]
    assert MASKED in crash["exception"]


def test_step_logs_carry_execution_and_user_ids_and_no_address(
    client: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    user_id = "0123456789abcdef0123456789abcdef"
    execution_id = "0123456789ab_sess_20250101T000000_abcdef"
    state = {
        "execution_id": execution_id,
        "user_id": user_id,
        "session_id": "sess_20250101T000000_abcdef",
    }
    # A user that does not exist: the step fails, as Step Functions would see it.
    with pytest.raises(Exception) as failure:
        client.lambda_.invoke(
            "create_user", {"step": "create_user", "attempt": 0, "state": state, "note": EMAIL}
        )
    assert type(failure.value).__name__ == "UserNotFound"

    out = capsys.readouterr().out
    assert EMAIL not in out
    logs = _logs(out)
    failed = next(line for line in logs if line.get("message") == "step failed")
    assert failed["execution_id"] == execution_id
    assert failed["user_id"] == user_id
    assert failed["step"] == "create_user"
    assert failed["function_name"] == "create_user"
    logged_event = next(line for line in logs if isinstance(line.get("message"), dict))
    assert logged_event["message"]["note"] == MASKED
    metric = next(line for line in _lines(out) if "_aws" in line and "StepFailed" in line)
    assert metric["step"] == "create_user"
    assert metric["_aws"]["CloudWatchMetrics"][0]["Namespace"] == observability.metrics.namespace


def test_tracing_is_off_outside_lambda_and_the_handler_runs_untraced() -> None:
    assert not observability.tracing_enabled()

    def handler(event: Any, context: Any) -> str:
        return "ran"

    assert observability.capture_lambda_handler(handler) is handler


def test_invocation_keys_stay_with_their_thread(capsys: pytest.CaptureFixture[str]) -> None:
    """The embedded stack runs many invocations at once in one process (Lambda runs one)."""
    import threading

    logger = observability.logger
    ready = threading.Barrier(2)

    def invocation(execution_id: str) -> None:
        logger.structure_logs(cold_start=False, function_name=f"fn-{execution_id}")
        logger.append_keys(execution_id=execution_id)
        ready.wait(timeout=5)  # both threads have set their keys before either logs
        logger.info("working")

    threads = [threading.Thread(target=invocation, args=(e,)) for e in ("exec-a", "exec-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outside_thread = threading.Thread(target=logger.info, args=("outside any invocation",))
    outside_thread.start()
    outside_thread.join()

    lines = _logs(capsys.readouterr().out)
    working = {line["execution_id"]: line for line in lines if line["message"] == "working"}
    assert set(working) == {"exec-a", "exec-b"}
    assert all(line["function_name"] == f"fn-{key}" for key, line in working.items())
    outside = next(line for line in lines if line["message"] == "outside any invocation")
    assert "execution_id" not in outside
    assert outside["service"] == observability.SERVICE
