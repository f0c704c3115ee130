"""Posting frames to open WebSocket connections through API Gateway's management API.

The management endpoint is the WebSocket URL with ``https`` for ``wss`` (``http`` for ``ws`` on
the embedded stack, whose local gateway serves ``POST @connections/{id}`` too), so one setting,
``TMUX_BUILDER_WEBSOCKET_URL``, says where browsers connect and where frames are posted.

A post to a connection that is gone (``GoneException``, HTTP 410) removes the connection's
records; any other failure is logged and the other connections still get the frame.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from control_plane import realtime
from control_plane.observability import logger
from tmux_builder.settings import cloud

_lock = threading.Lock()
_clients: dict[str, Any] = {}


class Delivery(StrEnum):
    SENT = "sent"
    GONE = "gone"
    FAILED = "failed"


@dataclass
class FanOutResult:
    sent: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def management_endpoint(websocket_url: str) -> str:
    """``wss://id.execute-api.region.amazonaws.com/ws`` -> ``https://...``; ws -> http."""
    scheme, separator, rest = websocket_url.partition("://")
    if not separator or scheme not in {"ws", "wss"}:
        raise ValueError(f"not a WebSocket URL: {websocket_url!r}")
    return f"{'https' if scheme == 'wss' else 'http'}://{rest.rstrip('/')}"


def _client(endpoint: str) -> Any:
    """One management client per endpoint (clients are thread-safe; sessions are not)."""
    with _lock:
        found = _clients.get(endpoint)
        if found is None:
            import boto3
            from botocore.config import Config

            found = boto3.session.Session().client(
                "apigatewaymanagementapi",
                endpoint_url=endpoint,
                region_name=cloud().region,
                config=Config(
                    retries={"max_attempts": 2, "mode": "standard"},
                    connect_timeout=2,
                    read_timeout=5,
                ),
            )
            _clients[endpoint] = found
        return found


def reset() -> None:
    """Forget the clients (tests, after the settings changed)."""
    with _lock:
        _clients.clear()


def post(connection_id: str, data: str) -> Delivery:
    """Send one frame to one connection; a gone connection's records are removed."""
    from botocore.exceptions import BotoCoreError, ClientError

    url = cloud().websocket_url
    if not url:
        return Delivery.FAILED
    client = _client(management_endpoint(url))
    try:
        client.post_to_connection(ConnectionId=connection_id, Data=data.encode("utf-8"))
    except client.exceptions.GoneException:
        _forget(connection_id)
        return Delivery.GONE
    except (BotoCoreError, ClientError, OSError) as exc:
        logger.warning(
            "websocket post failed",
            extra={"connection_id": connection_id, "error": type(exc).__name__},
        )
        return Delivery.FAILED
    return Delivery.SENT


def send_all(connection_ids: list[str], data: str) -> FanOutResult:
    """Send one frame to each connection, one after another (a topic has a few followers)."""
    result = FanOutResult()
    for connection_id in connection_ids:
        outcome = post(connection_id, data)
        {Delivery.SENT: result.sent, Delivery.GONE: result.gone, Delivery.FAILED: result.failed}[
            outcome
        ].append(connection_id)
    return result


def _forget(connection_id: str) -> None:
    try:
        realtime.forget(connection_id)
    except Exception:
        logger.exception(
            "could not remove a gone connection", extra={"connection_id": connection_id}
        )
