"""The control plane's secrets (admin credential, token signing key), from Secrets Manager.

Values are cached for a few minutes (Powertools parameters), so rotation takes effect without a
deploy and a request does not pay a Secrets Manager call. Secret values never reach a log.
"""

from __future__ import annotations

import os

from control_plane.errors import UpstreamUnavailable
from control_plane.observability import register_secret

CACHE_SECONDS = 300
ADMIN_TOKEN_ENV = "TMUX_BUILDER_ADMIN_TOKEN_SECRET"
SIGNING_KEY_ENV = "TMUX_BUILDER_SIGNING_KEY_SECRET"


def _secret(env_name: str) -> str:
    from aws_lambda_powertools.utilities import parameters

    name = os.environ.get(env_name, "")
    if not name:
        raise UpstreamUnavailable(f"the control plane is not configured: {env_name} is not set")
    try:
        value = parameters.get_secret(name, max_age=CACHE_SECONDS)
    except parameters.exceptions.GetParameterError as exc:
        raise UpstreamUnavailable("a secret the control plane needs cannot be read") from exc
    if not isinstance(value, str) or len(value) < 32:
        raise UpstreamUnavailable(f"the secret named by {env_name} is missing or too short")
    register_secret(value)  # a bare token has no pattern: the log filter must know it
    return value


def admin_token() -> str:
    return _secret(ADMIN_TOKEN_ENV)


def signing_key() -> str:
    return _secret(SIGNING_KEY_ENV)
