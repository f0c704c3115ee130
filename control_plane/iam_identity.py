"""Each user's own cloud identity: the IAM role ``tmux-user-{prefix}`` the agent deploys as.

Why a role per user: whatever the AI writes, the agent deploys it with credentials that can
touch only ``tmux-{prefix}-*`` resources, so one user's site can never overwrite, read or delete
another's, list the account, or reach the table. The role's inline policy
``tmux-policy-{prefix}`` and its trust policy are rendered from the templates in ``iam/``; only
the agent's principal may assume it (and only with the session name ``tmux-builder-{prefix}``).

Rendering substitutes validated values into the strings of the parsed JSON, never into the raw
text, so no value can change the document's structure. Creating is idempotent (an existing
role gets the current policies) and deleting a missing role is not an error.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import control_plane
from control_plane import tracking
from control_plane.errors import StepFailure
from control_plane.observability import logger
from tmux_builder import aws, naming
from tmux_builder.settings import cloud

RESOURCE_TYPE = "iam_role"
# The session id of resource records that belong to the user rather than to one site:
# teardown of a single session leaves them alone, teardown of the user removes them.
USER_SCOPE = "user"
MAX_SESSION_SECONDS = 3600

IAM_DIR = Path(control_plane.__file__).resolve().parents[1] / "iam"
USER_POLICY_FILE = "user-policy.json"
TRUST_POLICY_FILE = "user-trust-policy.json"

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
_PARTITION_RE = re.compile(r"^aws(-[a-z]+)*$")
# Principals a trust policy may name: a role, a user, or the account root (no wildcards).
_PRINCIPAL_RE = re.compile(
    r"^arn:aws(-[a-z]+)*:iam::[0-9]{12}:(root|(role|user)/[A-Za-z0-9+=,.@_/-]{1,512})$"
)
_ASSUMED_ROLE_RE = re.compile(
    r"^arn:(?P<partition>aws(-[a-z]+)*):sts::(?P<account>[0-9]{12}):assumed-role/"
    r"(?P<role>[A-Za-z0-9+=,.@_-]{1,64})/[A-Za-z0-9+=,.@_-]+$"
)
_STS_USER_RE = re.compile(
    r"^arn:(?P<partition>aws(-[a-z]+)*):sts::(?P<account>[0-9]{12}):user/(?P<user>[A-Za-z0-9+=,.@_-]+)$"
)
_DELETE_GONE = {"NoSuchEntity", "NoSuchEntityException"}


class IdentityError(StepFailure):
    """The user's identity could not be created or removed as asked."""


class PolicyTemplateError(IdentityError):
    """A template in ``iam/`` is missing, unreadable, or names an unknown placeholder."""


class IdentityConflict(IdentityError):
    """A role with the user's name exists but is tagged for someone else; it is left alone."""


role_name = naming.identity_role_name
policy_name = naming.identity_policy_name


def role_session_name(user_id: str) -> str:
    """The only session name the trust policy accepts; the agent uses the same one."""
    return f"tmux-builder-{naming.user_prefix(user_id)}"


# --- templates ---------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _template(file_name: str) -> Any:
    path = IAM_DIR / file_name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PolicyTemplateError(f"cannot read the IAM template {path}: {exc}") from exc


def render(template: Any, values: dict[str, str]) -> Any:
    """``template`` with ``{name}`` placeholders replaced in every string (keys included).

    One pass with a function replacement: a value is never scanned again, so a value that
    looks like a placeholder stays literal. An unknown placeholder is an error, not a blank.
    """

    def substitute(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise PolicyTemplateError(f"unknown placeholder {{{name}}} in an IAM template")
            return values[name]

        return _PLACEHOLDER.sub(one, text)

    if isinstance(template, str):
        return substitute(template)
    if isinstance(template, list):
        return [render(item, values) for item in template]
    if isinstance(template, dict):
        return {substitute(key): render(value, values) for key, value in template.items()}
    return template


def _checked(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.match(value):
        raise IdentityError(f"invalid {what}: {value!r}")
    return value


def user_policy(user_id: str, account_id: str, partition: str) -> dict[str, Any]:
    """The inline policy: only ``tmux-{prefix}-*`` resources (see ``iam/user-policy.json``)."""
    values = {
        "prefix": naming.user_prefix(user_id),
        "user_id": user_id,
        "account_id": _checked(account_id, _ACCOUNT_RE, "account id"),
        "partition": _checked(partition, _PARTITION_RE, "partition"),
    }
    rendered: dict[str, Any] = render(_template(USER_POLICY_FILE), values)
    return rendered


def trust_policy(user_id: str, agent_principal_arn: str) -> dict[str, Any]:
    """Only ``agent_principal_arn``, with the user's session name, may assume the role."""
    values = {
        "prefix": naming.user_prefix(user_id),
        "agent_principal_arn": _checked(agent_principal_arn, _PRINCIPAL_RE, "agent principal"),
    }
    rendered: dict[str, Any] = render(_template(TRUST_POLICY_FILE), values)
    return rendered


# --- the account -------------------------------------------------------------------------------


def principal_of(caller_arn: str) -> str:
    """A caller identity as a trust policy principal: an assumed-role session becomes its role.

    A session ARN names one session only; the role is what keeps working after a restart.
    moto answers unknown keys with ``arn:aws:sts::{account}:user/moto``: an IAM user ARN.
    """
    assumed = _ASSUMED_ROLE_RE.match(caller_arn)
    if assumed:
        return f"arn:{assumed['partition']}:iam::{assumed['account']}:role/{assumed['role']}"
    sts_user = _STS_USER_RE.match(caller_arn)
    if sts_user:
        return f"arn:{sts_user['partition']}:iam::{sts_user['account']}:user/{sts_user['user']}"
    return caller_arn


def _caller() -> tuple[str, str, str]:
    """(account id, partition, principal ARN) of the control plane's own credentials."""
    identity = aws.client("sts").get_caller_identity()
    arn = str(identity["Arn"])
    return str(identity["Account"]), arn.split(":")[1], principal_of(arn)


# --- create and delete -------------------------------------------------------------------------


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _tags(user_id: str) -> list[dict[str, str]]:
    return [
        {"Key": "Project", "Value": naming.TAG_PROJECT},
        {"Key": "UserGUID", "Value": user_id},
        {"Key": "CreatedBy", "Value": naming.TAG_CREATED_BY},
    ]


def ensure_identity(user_id: str) -> str:
    """Create (or bring up to date) the user's role and inline policy; return the role ARN.

    Also records the role for teardown (type ``iam_role``, session :data:`USER_SCOPE`).
    """
    settings = cloud()
    account_id, partition, caller = _caller()
    principal = settings.agent_principal_arn or caller
    name = role_name(user_id)
    trust = json.dumps(trust_policy(user_id, principal))
    arn = _create_or_update_role(user_id, name, trust, settings.user_permissions_boundary_arn)
    aws.client("iam").put_role_policy(
        RoleName=name,
        PolicyName=policy_name(user_id),
        PolicyDocument=json.dumps(user_policy(user_id, account_id, partition)),
    )
    tracking.record_resource(user_id, USER_SCOPE, RESOURCE_TYPE, name, {"arn": arn})
    logger.info("user identity ready", extra={"user_id": user_id, "role": name})
    return arn


def _create_or_update_role(user_id: str, name: str, trust: str, boundary: str) -> str:
    from botocore.exceptions import ClientError

    iam = aws.client("iam")
    kwargs: dict[str, Any] = {
        "RoleName": name,
        "AssumeRolePolicyDocument": trust,
        "Description": f"tmux-builder: deploys the sites of user {naming.user_prefix(user_id)}",
        "MaxSessionDuration": MAX_SESSION_SECONDS,
        "Tags": _tags(user_id),
    }
    if boundary:
        kwargs["PermissionsBoundary"] = boundary
    try:
        return str(iam.create_role(**kwargs)["Role"]["Arn"])
    except ClientError as exc:
        if _error_code(exc) != "EntityAlreadyExists":
            raise
    role = iam.get_role(RoleName=name)["Role"]
    tags = {t["Key"]: t["Value"] for t in role.get("Tags", [])}
    if tags.get("UserGUID") != user_id:
        raise IdentityConflict(f"role {name} exists and is not tagged for user {user_id}")
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
    if boundary and role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn") != boundary:
        iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary)
    return str(role["Arn"])


def delete_identity(user_id: str) -> bool:
    """Remove the user's role and its policies; False when there was no role.

    A role tagged for someone else is never deleted (:class:`IdentityConflict`).
    """
    from botocore.exceptions import ClientError

    iam = aws.client("iam")
    name = role_name(user_id)
    try:
        role = iam.get_role(RoleName=name)["Role"]
        tags = {t["Key"]: t["Value"] for t in role.get("Tags", [])}
        if tags.get("UserGUID") != user_id:
            raise IdentityConflict(f"role {name} is not tagged for user {user_id}; not deleting")
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
            for policy in page.get("PolicyNames", []):
                iam.delete_role_policy(RoleName=name, PolicyName=policy)
        for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
            for attached in page.get("AttachedPolicies", []):
                iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
        iam.delete_role(RoleName=name)
    except ClientError as exc:
        if _error_code(exc) in _DELETE_GONE:
            return False
        raise
    logger.info("user identity deleted", extra={"user_id": user_id, "role": name})
    return True
