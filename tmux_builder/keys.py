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
- ``LEASE#{session_id}``   / ``LEASE``                          which agent host owns a session
- ``AGENTS``               / ``AGENT#{agent_id}``               a live agent host and its queues
- ``WSCONN#{connection_id}`` / ``META``, ``SUB#{topic}``     a WebSocket connection (expires)
- ``WSTOPIC#{topic}``     / ``CONN#{connection_id}``          a topic's subscriber (expires)
GSI1 (``gsi1pk`` / ``gsi1sk``):
- ``USER#{user_id}`` / ``EXEC#{started_at}``                    a user's executions
- ``SESSIONS``       / ``SESSION#{created_at}#{session_id}``    every session (admin listing)
- ``REQUESTS``       / ``REQUEST#{created_at}#{request_id}``    every onboarding request
- ``LEASES``         / ``LEASE#{session_id}``                   every session lease
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


# ---- many agent hosts: session leases and the agent registry ------------------------------
# Table: ``LEASE#{session_id}`` / ``LEASE`` says which agent host owns a session (its tmux
# session, working copy and CLI transcript live there), until when (``expires_at``, epoch ms,
# renewed while the host lives), and where that host reads its work (``queue_url``,
# ``chat_queue_url``). GSI1 ``LEASES`` / ``LEASE#{session_id}`` lists every lease (operators).
# ``AGENTS`` / ``AGENT#{agent_id}`` registers a live agent host and its own queues, renewed
# like a lease; the queues of a host whose registration expired are drained by the others.
# The agent's IAM policy lets it touch ``TASK#*``, ``LEASE#*`` and ``AGENTS`` items only.

LEASE_PREFIX = "LEASE#"
LEASES_INDEX = "LEASES"
AGENTS_PARTITION = "AGENTS"
AGENT_PREFIX = "AGENT#"


def session_lease(session_id: str) -> dict[str, str]:
    """The lease on a session: which agent host owns it, and until when."""
    return {PK: f"{LEASE_PREFIX}{session_id}", SK: "LEASE"}


def leases_index(session_id: str) -> dict[str, str]:
    """GSI1 entry of a lease, so operators can list who holds what."""
    return {GSI1_PK: LEASES_INDEX, GSI1_SK: f"{LEASE_PREFIX}{session_id}"}


def agent_registration(agent_id: str) -> dict[str, str]:
    """A live agent host and its own queues (renewed while it runs)."""
    return {PK: AGENTS_PARTITION, SK: f"{AGENT_PREFIX}{agent_id}"}


def session_code_snapshot(user_id: str, session_id: str) -> str:
    """Artifacts-bucket key of the session's latest code, refreshed after every chat turn.

    Build snapshots (``executions/{id}/code.tar.gz``) hold the code as a build left it; this one
    also holds what chat changed since, so a host that takes the session over loses nothing.
    """
    return f"users/{user_id}/sessions/{session_id}/code-latest.tar.gz"


# ---- WebSocket connections and their subscriptions ----------------------------------------
# Table: ``WSCONN#{connection_id}`` / ``META`` is an open WebSocket connection and who it is
# (role, user id); ``WSCONN#{connection_id}`` / ``SUB#{topic}`` each of its subscriptions, and
# ``WSTOPIC#{topic}`` / ``CONN#{connection_id}`` the same subscription seen from the topic, so
# the subscribers of a build or a site are one query and a connection's records one more.
# ``{topic}`` is ``EXEC#{execution_id}`` or ``SESSION#{session_id}``. Every one of these items
# expires with the connection (API Gateway closes a connection after 2 hours).

WS_CONNECTION_PREFIX = "WSCONN#"
WS_SUBSCRIPTION_PREFIX = "SUB#"
WS_TOPIC_PREFIX = "WSTOPIC#"
WS_SUBSCRIBER_PREFIX = "CONN#"


def ws_connection_partition(connection_id: str) -> str:
    """The partition holding a connection and its subscriptions."""
    return f"{WS_CONNECTION_PREFIX}{connection_id}"


def ws_connection(connection_id: str) -> dict[str, str]:
    return {PK: ws_connection_partition(connection_id), SK: "META"}


def ws_execution_topic(execution_id: str) -> str:
    return f"EXEC#{execution_id}"


def ws_session_topic(session_id: str) -> str:
    return f"SESSION#{session_id}"


def ws_subscription(connection_id: str, topic: str) -> dict[str, str]:
    """A connection's subscription to a topic, in the connection's partition."""
    return {PK: ws_connection_partition(connection_id), SK: f"{WS_SUBSCRIPTION_PREFIX}{topic}"}


def ws_topic_partition(topic: str) -> str:
    """The partition listing a topic's subscribers (query it with :data:`WS_SUBSCRIBER_PREFIX`)."""
    return f"{WS_TOPIC_PREFIX}{topic}"


def ws_subscriber(topic: str, connection_id: str) -> dict[str, str]:
    """The same subscription in the topic's partition."""
    return {PK: ws_topic_partition(topic), SK: f"{WS_SUBSCRIBER_PREFIX}{connection_id}"}
