"""Offline IAM: render the documents in ``iam/`` and evaluate requests against them.

Why offline: moto enforces identity policies only roughly (resource ARNs for S3/SQS/IAM/STS
only, no ``Condition``) and ignores permissions boundaries altogether, so what a boundary
takes away, and what the tag conditions hold back, is checked here with a small evaluator of
the IAM subset our documents use: Allow/Deny, ``Action``/``Resource`` with ``*``/``?``
wildcards, and the condition operators listed in :data:`_OPERATORS`. A document that uses
anything else (``NotAction``, ``NotResource``, another operator, a policy variable) makes the
evaluator raise, so it can never silently answer "allowed".

Evaluation follows AWS for a single account: an explicit Deny anywhere wins; otherwise the
request is allowed when an identity policy allows it and, if there is a boundary, the
boundary allows it too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from control_plane import iam_identity

ROOT = Path(__file__).resolve().parents[2]
IAM_DIR = ROOT / "iam"

ACCOUNT = "123456789012"
PARTITION = "aws"
REGION = "us-east-1"
USER_A = "0123456789abcdef0123456789abcdef"
USER_B = "fedcba9876543210fedcba9876543210"
APP = "tmux-builder"
AGENT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{APP}-agent-host"

# The names template.yaml gives the shared resources (default AppName).
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{APP}-table"
AGENT_QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{APP}-agent-tasks"
CHAT_QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{APP}-chat.fifo"
EVENTS_QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{APP}-agent-events"
ARTIFACTS_BUCKET = f"{APP}-artifacts-{ACCOUNT}-{REGION}"
PORTAL_BUCKET = f"{APP}-portal-{ACCOUNT}-{REGION}"

# The placeholders of each document in iam/, filled for tests. A new document needs an entry.
PLACEHOLDERS: dict[str, dict[str, str]] = {
    "user-policy.json": {
        "prefix": USER_A[:12],
        "user_id": USER_A,
        "account_id": ACCOUNT,
        "partition": PARTITION,
    },
    "user-trust-policy.json": {"prefix": USER_A[:12], "agent_principal_arn": AGENT_ROLE},
    "user-permissions-boundary.json": {"account_id": ACCOUNT, "partition": PARTITION},
    "site-instance-boundary.json": {"partition": PARTITION},
    "agent-host-policy.json": {
        "account_id": ACCOUNT,
        "partition": PARTITION,
        "agent_queue_arn": AGENT_QUEUE_ARN,
        "chat_queue_arn": CHAT_QUEUE_ARN,
        "events_queue_arn": EVENTS_QUEUE_ARN,
        "artifacts_bucket_arn": f"arn:aws:s3:::{ARTIFACTS_BUCKET}",
        "table_arn": TABLE_ARN,
    },
}

# The same placeholders as CloudFormation writes them (``!Sub`` variables): what a copy of a
# document in template.yaml must say. GetAtt X.Arn is written ``${X.Arn}``.
CFN_PLACEHOLDERS: dict[str, str] = {
    "partition": "${AWS::Partition}",
    "account_id": "${AWS::AccountId}",
    "agent_queue_arn": "${AgentQueue.Arn}",
    "chat_queue_arn": "${ChatQueue.Arn}",
    "events_queue_arn": "${AgentEventsQueue.Arn}",
    "artifacts_bucket_arn": "${ArtifactsBucket.Arn}",
    "table_arn": "${Table.Arn}",
}


def documents() -> list[str]:
    return sorted(path.name for path in IAM_DIR.glob("*.json"))


@lru_cache(maxsize=16)
def _raw(name: str) -> str:
    return (IAM_DIR / name).read_text(encoding="utf-8")


def template_of(name: str) -> Any:
    return json.loads(_raw(name))


def rendered(name: str, **overrides: str) -> dict[str, Any]:
    """``iam/<name>`` with its placeholders filled by the production renderer."""
    values = {**PLACEHOLDERS[name], **overrides}
    document: dict[str, Any] = iam_identity.render(template_of(name), values)
    return document


def user_policy(user_id: str = USER_A) -> dict[str, Any]:
    """The per-user policy exactly as the control plane renders it for ``user_id``."""
    return iam_identity.user_policy(user_id, ACCOUNT, PARTITION)


def boundary() -> dict[str, Any]:
    return rendered("user-permissions-boundary.json")


def site_instance_boundary() -> dict[str, Any]:
    return rendered("site-instance-boundary.json")


def agent_host_policy() -> dict[str, Any]:
    return rendered("agent-host-policy.json")


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


# --- requests and evaluation -------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One authorization question: may the caller do ``action`` on ``resource``?

    ``context`` holds the request's condition keys (``aws:RequestTag/UserGUID``,
    ``aws:ResourceTag/UserGUID``, ``dynamodb:LeadingKeys``, ``s3:prefix`` ...); a key that is
    absent is absent from the request, as IAM sees it.
    """

    action: str
    resource: str
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __str__(self) -> str:
        extra = f" {dict(self.context)}" if self.context else ""
        return f"{self.action} on {self.resource}{extra}"


@lru_cache(maxsize=1024)
def _glob(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    if "${" in pattern:
        raise NotImplementedError(f"policy variables are not evaluated: {pattern}")
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = (re.IGNORECASE if ignore_case else 0) | re.DOTALL
    return re.compile("".join(parts) + r"\Z", flags)


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case=ignore_case).match(value) is not None


def _string_equals(value: str, wanted: str) -> bool:
    return value == wanted


def _string_like(value: str, wanted: str) -> bool:
    return matches(wanted, value)


_OPERATORS = {"StringEquals": _string_equals, "StringLike": _string_like}


def _condition_holds(operator: str, key: str, wanted: list[str], context: dict[str, list[str]]):
    present = key in context
    values = context.get(key, [])
    if operator == "Null":
        (flag,) = wanted
        return (not present) if flag == "true" else present
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if base not in _OPERATORS:
        raise NotImplementedError(f"condition operator {operator} is not evaluated")
    test = _OPERATORS[base]
    if qualifier == "ForAllValues":
        return all(any(test(v, w) for w in wanted) for v in values)
    if qualifier == "ForAnyValue":
        return any(any(test(v, w) for w in wanted) for v in values)
    if qualifier:
        raise NotImplementedError(f"condition qualifier {qualifier} is not evaluated")
    if not present:
        return if_exists
    if len(values) != 1:
        raise NotImplementedError(f"{operator} on the multi-valued key {key}")
    return any(test(values[0], w) for w in wanted)


def _conditions_hold(statement: Mapping[str, Any], request: Request) -> bool:
    context = {key.lower(): list(values) for key, values in request.context.items()}
    for operator, block in (statement.get("Condition") or {}).items():
        for key, wanted in block.items():
            if not _condition_holds(
                operator, key.lower(), [str(w) for w in as_list(wanted)], context
            ):
                return False
    return True


def statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    for unsupported in ("NotAction", "NotResource", "NotPrincipal"):
        if unsupported in statement:
            raise NotImplementedError(f"{unsupported} is not evaluated")
    if not any(matches(a, request.action, ignore_case=True) for a in as_list(statement["Action"])):
        return False
    if not any(matches(r, request.resource) for r in as_list(statement["Resource"])):
        return False
    return _conditions_hold(statement, request)


def decision(documents: Iterable[Mapping[str, Any]], request: Request) -> str:
    """``"Allow"``, ``"ExplicitDeny"`` or ``"ImplicitDeny"`` of one set of policies."""
    allowed = False
    for document in documents:
        for statement in document["Statement"]:
            if statement_applies(statement, request):
                if statement["Effect"] == "Deny":
                    return "ExplicitDeny"
                allowed = True
    return "Allow" if allowed else "ImplicitDeny"


def allowed(
    identity: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    request: Request,
    boundary: Mapping[str, Any] | None = None,
) -> bool:
    """Whether a principal with these identity policies (and optional boundary) may do it."""
    policies = [identity] if isinstance(identity, Mapping) else list(identity)
    if decision(policies, request) != "Allow":
        return False
    return boundary is None or decision([boundary], request) == "Allow"


def everything() -> dict[str, Any]:
    """An identity policy that allows every action on every resource (to test a boundary)."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
