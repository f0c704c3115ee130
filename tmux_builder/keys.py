"""DynamoDB keys for the one table. No other module spells a key.

Layout (pk / sk):
- ``USER#{user_id}``       / ``PROFILE``                       the user
- ``EMAIL#{sha256(email)}`` / ``USER``                          e-mail -> user_id (conditional put)
- ``USER#{user_id}``       / ``SESSION#{session_id}``           a session (one site)
- ``USER#{user_id}``       / ``RESOURCE#{type}#{id}``           a cloud resource, for teardown
- ``EXEC#{execution_id}``  / ``META``                           an execution (build or redeploy)
- ``EXEC#{execution_id}``  / ``STEP#{nn}#{step}``               one pipeline step of it
- ``EXEC#{execution_id}``  / ``EVENT#{iso-time}#{seq}``         an activity event
- ``SESSION#{session_id}`` / ``OWNER``                          session id -> its user
- ``REQUEST#{request_id}`` / ``META``                           a public onboarding request
- ``RATE#{scope}#{subject}`` / ``WINDOW#{epoch}``               a rate-limit counter (expires)
- ``IDEMPOTENCY``          / ``{operation}#{hash}``             a create call's answer (expires)
GSI1 (``gsi1pk`` / ``gsi1sk``):
- ``USER#{user_id}`` / ``EXEC#{started_at}``                    a user's executions
- ``SESSIONS``       / ``SESSION#{created_at}#{session_id}``    every session (admin listing)
- ``REQUESTS``       / ``REQUEST#{created_at}#{request_id}``    every onboarding request
Items that expire carry ``expiration`` (epoch seconds), the table's TTL attribute.
"""

from __future__ import annotations

from tmux_builder.pipeline import Step, step_number

PK = "pk"
SK = "sk"
GSI1 = "gsi1"
GSI1_PK = "gsi1pk"
GSI1_SK = "gsi1sk"


def user(user_id: str) -> dict[str, str]:
    return {PK: f"USER#{user_id}", SK: "PROFILE"}


def email_index(digest: str) -> dict[str, str]:
    return {PK: f"EMAIL#{digest}", SK: "USER"}


def session(user_id: str, session_id: str) -> dict[str, str]:
    return {PK: f"USER#{user_id}", SK: f"SESSION#{session_id}"}


def sessions_of(user_id: str) -> tuple[str, str]:
    """(pk, sk prefix) to query all sessions of a user."""
    return f"USER#{user_id}", "SESSION#"


def resource(user_id: str, resource_type: str, resource_id: str) -> dict[str, str]:
    return {PK: f"USER#{user_id}", SK: f"RESOURCE#{resource_type}#{resource_id}"}


def resources_of(user_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", "RESOURCE#"


def execution(execution_id: str) -> dict[str, str]:
    return {PK: f"EXEC#{execution_id}", SK: "META"}


def execution_partition(execution_id: str) -> str:
    return f"EXEC#{execution_id}"


def step(execution_id: str, step_name: Step | str) -> dict[str, str]:
    name = Step(step_name)
    return {PK: f"EXEC#{execution_id}", SK: f"STEP#{step_number(name):02d}#{name.value}"}


STEP_PREFIX = "STEP#"
EVENT_PREFIX = "EVENT#"


def event(execution_id: str, at_iso: str, seq: str) -> dict[str, str]:
    return {PK: f"EXEC#{execution_id}", SK: f"EVENT#{at_iso}#{seq}"}


def user_executions_index(user_id: str, started_at_iso: str) -> dict[str, str]:
    return {GSI1_PK: f"USER#{user_id}", GSI1_SK: f"EXEC#{started_at_iso}"}


def executions_of(user_id: str) -> tuple[str, str]:
    """(gsi1pk, gsi1sk prefix) to list a user's executions, oldest first."""
    return f"USER#{user_id}", "EXEC#"


# ---- sessions by id, admin listings, onboarding, rate limits, idempotency ----------------

SESSIONS_INDEX = "SESSIONS"
REQUESTS_INDEX = "REQUESTS"
IDEMPOTENCY_PK = "IDEMPOTENCY"
EXPIRES_AT = "expiration"


def session_owner(session_id: str) -> dict[str, str]:
    """Pointer from a session id to the user that owns it (routes only get the session id)."""
    return {PK: f"SESSION#{session_id}", SK: "OWNER"}


def sessions_index(created_at_iso: str, session_id: str) -> dict[str, str]:
    return {GSI1_PK: SESSIONS_INDEX, GSI1_SK: f"SESSION#{created_at_iso}#{session_id}"}


def onboarding_request(request_id: str) -> dict[str, str]:
    return {PK: f"REQUEST#{request_id}", SK: "META"}


def requests_index(created_at_iso: str, request_id: str) -> dict[str, str]:
    return {GSI1_PK: REQUESTS_INDEX, GSI1_SK: f"REQUEST#{created_at_iso}#{request_id}"}


def rate_limit(scope: str, subject: str, window_start: int) -> dict[str, str]:
    return {PK: f"RATE#{scope}#{subject}", SK: f"WINDOW#{window_start}"}


# ---- uploads ------------------------------------------------------------------------------
# Table: ``UPLOAD#{upload_id}`` / ``META`` is an upload (read by id, strongly consistent);
# GSI1 ``UPLOADS#{user_id}#{session_id}`` / ``UPLOAD#{created_at}#{upload_id}`` lists a
# session's uploads. Artifacts bucket: ``users/{user_id}/sessions/{session_id}/uploads/
# {upload_id}/`` holds the file under the name we gave it and, once the control plane has
# checked it, ``manifest.json``; the agent takes only uploads that have a manifest.

UPLOAD_MANIFEST = "manifest.json"


def upload(upload_id: str) -> dict[str, str]:
    return {PK: f"UPLOAD#{upload_id}", SK: "META"}


def session_uploads(user_id: str, session_id: str) -> str:
    """GSI1 partition of one session's uploads."""
    return f"UPLOADS#{user_id}#{session_id}"


def session_uploads_index(
    user_id: str, session_id: str, created_at_iso: str, upload_id: str
) -> dict[str, str]:
    return {
        GSI1_PK: session_uploads(user_id, session_id),
        GSI1_SK: f"UPLOAD#{created_at_iso}#{upload_id}",
    }


def uploads_prefix(user_id: str, session_id: str) -> str:
    """Artifacts-bucket prefix of one session's uploads (ends with '/')."""
    return f"users/{user_id}/sessions/{session_id}/uploads/"


def upload_folder(user_id: str, session_id: str, upload_id: str) -> str:
    return f"{uploads_prefix(user_id, session_id)}{upload_id}/"


def upload_object(user_id: str, session_id: str, upload_id: str, stored_name: str) -> str:
    return f"{upload_folder(user_id, session_id, upload_id)}{stored_name}"


def upload_manifest(user_id: str, session_id: str, upload_id: str) -> str:
    return f"{upload_folder(user_id, session_id, upload_id)}{UPLOAD_MANIFEST}"


# ---- chat ---------------------------------------------------------------------------------
# Table: ``SESSION#{session_id}`` / ``CHAT#{message_id}`` is a person's chat message and
# ``CHAT#{message_id}#answer`` the AI's answer to it. Message ids start with their UTC time, so
# a session's conversation reads oldest first, each answer right after its question.
# Artifacts bucket: ``users/{user_id}/sessions/{session_id}/pane.txt`` is the latest capture of
# the session's tmux pane, written by the agent at the end of every AI turn.

CHAT_PREFIX = "CHAT#"
_ANSWER_SUFFIX = "#answer"


def chat_partition(session_id: str) -> str:
    """The partition holding a session's conversation (next to its owner pointer)."""
    return f"SESSION#{session_id}"


def chat_message(session_id: str, message_id: str) -> dict[str, str]:
    return {PK: chat_partition(session_id), SK: f"{CHAT_PREFIX}{message_id}"}


def chat_answer(session_id: str, message_id: str) -> dict[str, str]:
    """The answer to ``message_id``: one per message, so a repeated answer event is a no-op."""
    return {PK: chat_partition(session_id), SK: f"{CHAT_PREFIX}{message_id}{_ANSWER_SUFFIX}"}


def session_pane(user_id: str, session_id: str) -> str:
    """Artifacts-bucket key of the latest capture of a session's tmux pane."""
    return f"users/{user_id}/sessions/{session_id}/pane.txt"


# ---- the agent's task ledger --------------------------------------------------------------
# Table: ``TASK#{execution_id}`` / ``{step}#{attempt}`` is the claim on one agent step, written
# with attribute_not_exists by the agent that runs it (see :mod:`agent.task_ledger`): who runs
# it, a lease it renews, and the answer Step Functions got. The agent may touch these items
# and no others (its IAM policy: ``dynamodb:LeadingKeys`` ``TASK#*``). They expire.

TASK_PREFIX = "TASK#"


def task_claim(execution_id: str, step_name: Step | str, attempt: int) -> dict[str, str]:
    """The claim on one delivery key of the agent queue: (execution_id, step, attempt)."""
    return {PK: f"{TASK_PREFIX}{execution_id}", SK: f"{Step(step_name).value}#{attempt}"}
