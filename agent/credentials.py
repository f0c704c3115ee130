"""Short-lived credentials of a user's own role (``tmux-user-{prefix}``), for the deployer only.

Why: the agent host's own credentials can reach every user's resources; the deployer must not.
It deploys a user's site as that user's role, whose policy allows only ``tmux-{prefix}-*``
resources, so a site built by the AI cannot touch another user's site whatever it contains.

The credentials come from ``sts:AssumeRole`` with the agent's own credentials and stay in this
process's memory: they are handed to boto3 through a credential provider of a private botocore
session (never through the environment, a file, the tmux server, a pane, a prompt or a log).
Per role they are kept and refreshed by botocore a few minutes before they expire, so a long
CloudFront wait never runs out of time and a busy user does not cost an STS call per deploy.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.credentials import CredentialProvider

from agent.errors import DeployError
from tmux_builder import aws, naming

if TYPE_CHECKING:
    import boto3

MIN_SECONDS = 900
MAX_SECONDS = 3600  # the role's MaxSessionDuration
ROLE_ARN_RE = re.compile(
    rf"^arn:aws(-[a-z]+)*:iam::[0-9]{{12}}:role/{naming.IDENTITY_ROLE_PREFIX}(?P<prefix>[0-9a-f]{{12}})$"
)


# botocore's DEBUG logging prints the AssumeRole response body and the session token header.
_LEAKY_LOGGERS = ("botocore.parsers", "botocore.endpoint", "botocore.auth")
_SECRET_MARKERS = ("SecretAccessKey", "SessionToken", "Security-Token", "security-token")


class _NoCredentialsInLogs(logging.Filter):
    """Drops botocore debug records that carry credentials (the agent never logs them).

    Loggers call filters only for records they would emit, so at INFO this costs nothing.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(marker in message for marker in _SECRET_MARKERS)


def _install_log_filter() -> None:
    for name in _LEAKY_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, _NoCredentialsInLogs) for f in target.filters):
            target.addFilter(_NoCredentialsInLogs())


_install_log_filter()


class UserCredentialsError(DeployError):
    """The user's role could not be assumed, or the task named a role that is not the user's.

    A DeployError to the state machine, so the deploy step's Retry covers a transient STS error.
    """


def role_session_name(user_id: str) -> str:
    """The only session name the role's trust policy accepts (see ``iam/``)."""
    return f"tmux-builder-{naming.user_prefix(user_id)}"


def check_role_arn(role_arn: str, user_id: str) -> str:
    """``role_arn`` if it is the role of ``user_id``; a task never gets another user's role."""
    match = ROLE_ARN_RE.match(role_arn or "")
    if match is None:
        raise UserCredentialsError(f"not a user role ARN: {role_arn!r}")
    if match["prefix"] != naming.user_prefix(user_id):
        raise UserCredentialsError(f"role {role_arn} is not the role of user {user_id}")
    return role_arn


class UserCredentials:
    """Assumes users' roles and keeps one refreshing credential object per role.

    Parameters
    ----------
    sts:
        Returns the STS client that assumes roles (the agent's own credentials).
    duration_seconds:
        Lifetime asked of STS, 900..3600; botocore refreshes within the last quarter of it.
    """

    def __init__(
        self,
        sts: Callable[[], Any] | None = None,
        duration_seconds: int = MAX_SECONDS,
    ) -> None:
        if not MIN_SECONDS <= duration_seconds <= MAX_SECONDS:
            raise ValueError(f"duration_seconds must be {MIN_SECONDS}..{MAX_SECONDS}")
        self._sts = sts or (lambda: aws.client("sts"))
        self._duration = duration_seconds
        self._lock = threading.Lock()
        self._by_role: dict[str, Any] = {}  # role ARN -> botocore RefreshableCredentials

    def session_for_user(
        self, role_arn: str, user_id: str, region: str | None = None
    ) -> boto3.Session:
        """A boto3 session acting as the user's role; create clients from it, not threads."""
        import boto3
        import botocore.session
        from botocore.credentials import CredentialResolver

        credentials = self._credentials(check_role_arn(role_arn, user_id), user_id)
        core = botocore.session.Session()
        core.register_component("credential_provider", CredentialResolver([_Fixed(credentials)]))
        return boto3.Session(botocore_session=core, region_name=region)

    def forget_user(self, user_id: str) -> None:
        """Drop what is kept for the user (after teardown: the role is gone)."""
        prefix = naming.user_prefix(user_id)
        with self._lock:
            for role_arn in [
                r for r in self._by_role if r.endswith(f"/{naming.IDENTITY_ROLE_PREFIX}{prefix}")
            ]:
                del self._by_role[role_arn]

    def cached_roles(self) -> list[str]:
        with self._lock:
            return list(self._by_role)

    def _credentials(self, role_arn: str, user_id: str) -> Any:
        from botocore.credentials import RefreshableCredentials

        with self._lock:
            found = self._by_role.get(role_arn)
        if found is not None:
            return found
        # Assumed outside the lock: one slow STS answer must not hold up other users' deploys.
        credentials = RefreshableCredentials.create_from_metadata(
            metadata=self._assume(role_arn, user_id),
            refresh_using=lambda: self._assume(role_arn, user_id),
            method=_Fixed.METHOD,
            advisory_timeout=self._duration // 4,
            mandatory_timeout=self._duration // 6,
        )
        with self._lock:
            return self._by_role.setdefault(role_arn, credentials)

    def _assume(self, role_arn: str, user_id: str) -> dict[str, str]:
        """One AssumeRole call, as botocore's refresh metadata. Errors never carry secrets."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._sts().assume_role(
                RoleArn=role_arn,
                RoleSessionName=role_session_name(user_id),
                DurationSeconds=self._duration,
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise UserCredentialsError(
                f"cannot assume {role_arn}: {error.get('Code', 'Unknown')}: "
                f"{error.get('Message', '')}"
            ) from exc
        except BotoCoreError as exc:
            raise UserCredentialsError(f"cannot assume {role_arn}: {exc}") from exc
        issued = answer["Credentials"]
        return {
            "access_key": issued["AccessKeyId"],
            "secret_key": issued["SecretAccessKey"],
            "token": issued["SessionToken"],
            "expiry_time": issued["Expiration"].isoformat(),
        }


class _Fixed(CredentialProvider):
    """A botocore credential provider that always answers the one credential object it holds."""

    METHOD = "tmux-builder-assume-role"
    CANONICAL_NAME = "custom-tmux-builder-assume-role"

    def __init__(self, credentials: Any) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Any:
        return self._credentials

    def __repr__(self) -> str:
        return "_Fixed(<user role credentials>)"


_default = UserCredentials()


def session_for_user(role_arn: str, user_id: str) -> boto3.Session:
    """The process-wide cache's session for the user's role (see :class:`UserCredentials`)."""
    return _default.session_for_user(role_arn, user_id)


def forget_user(user_id: str) -> None:
    _default.forget_user(user_id)
