"""DynamoDB keys for the one table. No other module spells a key.

Layout (pk / sk):
- ``USER#{user_id}``       / ``PROFILE``                       the user
- ``EMAIL#{sha256(email)}`` / ``USER``                          e-mail -> user_id (conditional put)
- ``USER#{user_id}``       / ``SESSION#{session_id}``           a session (one site)
- ``USER#{user_id}``       / ``RESOURCE#{type}#{id}``           a cloud resource, for teardown
- ``EXEC#{execution_id}``  / ``META``                           an execution (build or redeploy)
- ``EXEC#{execution_id}``  / ``STEP#{nn}#{step}``               one pipeline step of it
- ``EXEC#{execution_id}``  / ``EVENT#{iso-time}#{seq}``         an activity event
GSI1 (``gsi1pk`` / ``gsi1sk``) lists a user's executions:
``USER#{user_id}`` / ``EXEC#{started_at}``.
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
