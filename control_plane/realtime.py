"""Live updates over WebSocket: who is connected, what each connection subscribed to.

API Gateway's WebSocket API calls the control plane for ``$connect``, for every frame a browser
sends (``$default``) and for ``$disconnect``; ``app.py`` wires those events here. The local
gateway of the embedded stack makes the same events, so this code is the same in both places.

- ``$connect`` checks the token from the URL (``?token=``; browsers cannot set headers on a
  WebSocket) with the REST API's own checks and records the connection: its role and user.
  A refused connection is not recorded.
- A frame subscribes the connection to one build (``execution_id``) or one site
  (``session_id``), unsubscribes it, or pings. A client may only subscribe to its own user's;
  the admin to anything.
- ``$disconnect`` (or a post that finds the connection gone) removes every record of it.

Records live in the one table (keys in :mod:`tmux_builder.keys`) and expire with the
connection, so a ``$disconnect`` that never came leaves nothing behind for long. The
subscribers of a build or a site are one query each (:func:`subscribers`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from control_plane import auth, store, tracking
from control_plane.auth import Principal, Role
from control_plane.errors import ApiError, Forbidden, NotFound, NotSupported, Unauthorized
from control_plane.observability import logger
from tmux_builder import aws, keys, naming
from tmux_builder.realtime_events import (
    PROTOCOL_VERSION,
    ErrorFrame,
    PingFrame,
    PongFrame,
    SubscribedFrame,
    TopicFrame,
    UnsubscribedFrame,
    parse_client_frame,
)
from tmux_builder.settings import cloud

# API Gateway closes a connection after 2 hours; its records outlive it a little.
CONNECTION_TTL_SECONDS = 2 * 3600 + 300
MAX_SUBSCRIPTIONS = 20
# Client frames are small; API Gateway itself refuses frames over 32 KB.
MAX_CLIENT_FRAME_BYTES = 4096
_BATCH = 25


class RealtimeEndpoint(BaseModel):
    """``GET /api/realtime``: where the portal opens its WebSocket (``?token=`` appended)."""

    url: str
    version: int = PROTOCOL_VERSION


def endpoint() -> RealtimeEndpoint:
    url = cloud().websocket_url
    if not url:
        raise NotSupported("live updates are not configured on this deployment; poll the status")
    return RealtimeEndpoint(url=url)


# --------------------------------------------------------------------------- connections


def _principal(query: Mapping[str, str] | None, headers: Mapping[str, str] | None) -> Principal:
    """The caller, from ``?token=`` (browsers) or an Authorization header (other clients)."""
    token = (query or {}).get("token", "").strip()
    if token:
        return auth.principal_from_token(token)
    if any(name.lower() == "authorization" for name in headers or {}):
        return auth.authenticate(headers or {})
    raise Unauthorized("a token is required: connect to <url>?token=<your client or admin token>")


def connect(
    connection_id: str,
    query: Mapping[str, str] | None,
    headers: Mapping[str, str] | None = None,
    source_ip: str | None = None,
) -> Principal:
    """Authenticate a new connection and record it; :class:`Unauthorized` records nothing."""
    principal = _principal(query, headers)
    now = int(time.time())
    # A client's connection (and so its subscriptions) ends with its token: events stop when
    # the link's token expires, even though API Gateway keeps the socket for up to 2 hours.
    expires_at = now + CONNECTION_TTL_SECONDS
    if principal.expires_at is not None:
        expires_at = min(expires_at, principal.expires_at)
    store.put(
        {
            **keys.ws_connection(connection_id),
            "connection_id": connection_id,
            "role": principal.role.value,
            "user_id": principal.user_id,
            "connected_at": now,
            "source_ip": source_ip,
            keys.EXPIRES_AT: expires_at,
        }
    )
    logger.info(
        "websocket connected",
        extra={"connection_id": connection_id, "role": principal.role.value},
    )
    return principal


def disconnect(connection_id: str) -> int:
    """Remove the connection and its subscriptions; the number of records removed."""
    return forget(connection_id)


def forget(connection_id: str) -> int:
    """Remove every record of a connection (after ``$disconnect``, or when a post found it gone)."""
    items = list(store.query(keys.ws_connection_partition(connection_id)))
    doomed = [{keys.PK: item[keys.PK], keys.SK: item[keys.SK]} for item in items]
    doomed += [
        keys.ws_subscriber(item["topic"], connection_id) for item in items if item.get("topic")
    ]
    _delete(doomed)
    return len(doomed)


def _delete(item_keys: list[dict[str, str]]) -> None:
    """Batch deletes, retrying what DynamoDB left unprocessed (store.py has no delete)."""
    client = aws.client("dynamodb")
    table = cloud().table
    for start in range(0, len(item_keys), _BATCH):
        requests: list[dict[str, Any]] = [
            {"DeleteRequest": {"Key": store.serialize(key)}}
            for key in item_keys[start : start + _BATCH]
        ]
        for _attempt in range(5):
            answer = client.batch_write_item(RequestItems={table: requests})
            requests = answer.get("UnprocessedItems", {}).get(table, [])
            if not requests:
                break
            time.sleep(0.05)
        else:
            logger.warning("websocket records left to expire", extra={"left": len(requests)})


def _principal_of(connection_id: str) -> tuple[Principal, int] | None:
    record = store.get(keys.ws_connection(connection_id))
    if record is None or int(record.get(keys.EXPIRES_AT, 0)) < time.time():
        return None
    return Principal(Role(record["role"]), record.get("user_id")), int(record[keys.EXPIRES_AT])


# --------------------------------------------------------------------------- frames


def handle_frame(connection_id: str, body: str | bytes | None) -> BaseModel:
    """Answer one frame from a browser: subscribed, unsubscribed, pong or an error."""
    if body is None or len(body) > MAX_CLIENT_FRAME_BYTES:
        return ErrorFrame(
            message=f"send a JSON frame of at most {MAX_CLIENT_FRAME_BYTES} bytes", field="body"
        )
    try:
        frame = parse_client_frame(body)
    except ValidationError as exc:
        return _invalid(exc)
    if isinstance(frame, PingFrame):
        return PongFrame()
    found = _principal_of(connection_id)
    if found is None:
        return ErrorFrame(message="this connection is not registered (expired?); reconnect")
    principal, expires_at = found
    field = "execution_id" if frame.execution_id else "session_id"
    try:
        topic = _authorized_topic(principal, frame)
        if frame.action == "subscribe":
            _subscribe(connection_id, topic, expires_at)
        else:
            _unsubscribe(connection_id, topic)
    except ApiError as exc:
        return ErrorFrame(message=exc.message, field=field)
    answer = SubscribedFrame if frame.action == "subscribe" else UnsubscribedFrame
    return answer(execution_id=frame.execution_id, session_id=frame.session_id)


def _invalid(exc: ValidationError) -> ErrorFrame:
    error = exc.errors()[0]
    kind, location = error["type"], [str(part) for part in error["loc"]]
    if kind == "json_invalid":
        return ErrorFrame(message="the frame is not JSON", field="body")
    if kind.startswith("union_tag") or not location:
        return ErrorFrame(
            message="action must be one of: subscribe, unsubscribe, ping", field="action"
        )
    field = ".".join(location[1:]) or "execution_id"
    return ErrorFrame(message=error["msg"].removeprefix("Value error, "), field=field)


def _authorized_topic(principal: Principal, frame: TopicFrame) -> str:
    """The topic the frame names, if the caller may see it: NotFound / Forbidden otherwise."""
    if frame.execution_id is not None:
        record = tracking.get_execution(frame.execution_id)
        if record is None:
            raise NotFound(f"no build with id {frame.execution_id!r}")
        auth.require_access(principal, record["user_id"])
        return keys.ws_execution_topic(frame.execution_id)
    session_id = str(frame.session_id)
    owner = store.get(keys.session_owner(session_id))
    if owner is None:
        raise NotFound(f"no session with id {session_id!r}")
    auth.require_access(principal, owner["user_id"])
    return keys.ws_session_topic(session_id)


def _subscribe(connection_id: str, topic: str, expires_at: int) -> None:
    partition = keys.ws_connection_partition(connection_id)
    existing = {
        item[keys.SK]
        for item in store.query(
            partition, sk_prefix=keys.WS_SUBSCRIPTION_PREFIX, limit=MAX_SUBSCRIPTIONS + 1
        )
    }
    mine = keys.ws_subscription(connection_id, topic)
    if mine[keys.SK] not in existing and len(existing) >= MAX_SUBSCRIPTIONS:
        raise Forbidden(f"one connection may follow at most {MAX_SUBSCRIPTIONS} builds or sites")
    # The topic's item first: a subscription visible to the publisher is one it can drop.
    store.put(
        {
            **keys.ws_subscriber(topic, connection_id),
            "connection_id": connection_id,
            keys.EXPIRES_AT: expires_at,
        }
    )
    store.put({**mine, "topic": topic, keys.EXPIRES_AT: expires_at})


def _unsubscribe(connection_id: str, topic: str) -> None:
    _delete([keys.ws_subscription(connection_id, topic), keys.ws_subscriber(topic, connection_id)])


# --------------------------------------------------------------------------- fan-out lookup


def subscribers(execution_id: str | None, session_id: str | None) -> list[str]:
    """Connections following this build or this site (each once), expired records left out."""
    topics: list[str] = []
    if execution_id and naming.EXECUTION_ID_RE.match(execution_id):
        topics.append(keys.ws_execution_topic(execution_id))
    if session_id and naming.SESSION_ID_RE.match(session_id):
        topics.append(keys.ws_session_topic(session_id))
    return _unique(_live_subscribers(topics))


def _live_subscribers(topics: Iterable[str]) -> Iterable[str]:
    now = time.time()
    for topic in topics:
        for item in store.query(
            keys.ws_topic_partition(topic), sk_prefix=keys.WS_SUBSCRIBER_PREFIX
        ):
            if int(item.get(keys.EXPIRES_AT, 0)) >= now:
                yield str(item["connection_id"])


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
