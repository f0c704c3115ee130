"""boto3 clients, created lazily and shared across threads.

boto3 clients are thread-safe (sessions are not), so one client per (service, region) is kept.
Endpoints are never configured here: boto3 reads ``AWS_ENDPOINT_URL`` itself, so the embedded
stack points every client at moto without any caller knowing.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3

_lock = threading.Lock()
_clients: dict[tuple[str, str | None], Any] = {}
_session: boto3.Session | None = None


def _default_session() -> boto3.Session:
    global _session
    if _session is None:
        import boto3

        _session = boto3.Session()
    return _session


def client(service: str, region: str | None = None) -> Any:
    """A shared client for ``service`` using the default credential chain."""
    key = (service, region)
    with _lock:
        found = _clients.get(key)
        if found is None:
            from botocore.config import Config

            config = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5)
            found = _default_session().client(service, region_name=region, config=config)
            _clients[key] = found
        return found


def reset() -> None:
    """Drop cached clients (after the environment changed, e.g. in tests).

    Powertools' parameter providers (control_plane/secrets.py) hold a client and cached values
    of their own: they are dropped too, or they would keep calling the old endpoint.
    """
    global _session
    with _lock:
        _clients.clear()
        _session = None
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    DEFAULT_PROVIDERS.clear()
