"""AWS failures as the deploy step reports them: the service's code and message, never more.

Shared by the AWS deployers (static and dynamic); a botocore error message never carries
credentials, but a request dump could, so only ``Code: Message`` is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from agent.errors import DeployError


@contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """AWS failures inside the block become DeployError("<action> failed: Code: Message")."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        raise DeployError(f"{action} failed: {describe(exc)}") from exc
    except BotoCoreError as exc:
        raise DeployError(f"{action} failed: {exc}") from exc


def error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def describe(exc: Exception) -> str:
    """``Code: Message`` of a ClientError: what AWS said, which never includes credentials."""
    error = getattr(exc, "response", {}).get("Error", {})
    message = error.get("Message", "")
    code = error.get("Code", "Unknown")
    return f"{code}: {message}" if message else str(code)
