"""Fixed-window rate limits kept in the table: one counter item per subject and window.

The counter moves with one conditional update (``count < limit``), so concurrent requests on
many Lambda instances can never let more than ``limit`` through in a window. Items carry the
table's TTL attribute and disappear after their window. Subjects (client addresses) are stored
hashed: the table does not need to know who called.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from control_plane import store
from control_plane.errors import TooManyRequests
from tmux_builder import aws, keys
from tmux_builder.settings import cloud


@dataclass
class RateLimited(TooManyRequests):
    """429 with how long to wait (the route sends it as ``Retry-After``)."""

    retry_after: int = 60

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


@dataclass(frozen=True)
class Limit:
    scope: str
    requests: int
    window_seconds: int


ONBOARDING = Limit(scope="onboarding", requests=5, window_seconds=600)


def _subject(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def hit(limit: Limit, subject: str, now: float | None = None) -> int:
    """Count one request of ``subject``; :class:`RateLimited` once the window is full.

    Returns how many requests the window still allows.
    """
    from botocore.exceptions import ClientError

    now = time.time() if now is None else now
    window_start = int(now) - int(now) % limit.window_seconds
    window_end = window_start + limit.window_seconds
    try:
        answer = aws.client("dynamodb").update_item(
            TableName=cloud().table,
            Key=store.serialize(keys.rate_limit(limit.scope, _subject(subject), window_start)),
            UpdateExpression=(
                "SET #count = if_not_exists(#count, :zero) + :one, #expires = :expires"
            ),
            ConditionExpression="attribute_not_exists(#count) OR #count < :limit",
            ExpressionAttributeNames={"#count": "count", "#expires": keys.EXPIRES_AT},
            ExpressionAttributeValues=store.serialize(
                {":zero": 0, ":one": 1, ":limit": limit.requests, ":expires": window_end + 60}
            ),
            ReturnValues="UPDATED_NEW",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        retry_after = max(1, int(window_end - now))
        raise RateLimited(
            f"too many requests from this address; try again in {retry_after} seconds",
            retry_after=retry_after,
        ) from exc
    count = int(answer["Attributes"]["count"]["N"])
    return limit.requests - count
