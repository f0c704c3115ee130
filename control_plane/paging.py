"""Pages of one GSI1 partition, newest first, filtered, with an opaque cursor.

A cursor is the base64url JSON of the key of the last item a page returned; the next page starts
after it. Filters run here rather than as a DynamoDB FilterExpression so that a page holds
``limit`` matching items (a FilterExpression applies after ``Limit`` and returns short pages).
A cursor from anywhere else (another partition, edited, not base64) is a 400 naming ``cursor``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from control_plane import store
from control_plane.errors import FieldProblem, InvalidRequest
from tmux_builder import aws, keys
from tmux_builder.settings import cloud

_KEY_NAMES = (keys.PK, keys.SK, keys.GSI1_PK, keys.GSI1_SK)
_BATCH = 100
MAX_CURSOR_CHARS = 2048


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(item: dict[str, Any]) -> str:
    key = {name: item[name] for name in _KEY_NAMES}
    raw = json.dumps(key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, partition: str) -> dict[str, str]:
    def invalid(reason: str) -> InvalidRequest:
        return InvalidRequest(f"invalid cursor: {reason}", [FieldProblem("cursor", reason)])

    if len(cursor) > MAX_CURSOR_CHARS:
        raise invalid("too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (ValueError, binascii.Error) as exc:
        raise invalid("not a cursor this API returned") from exc
    if (
        not isinstance(key, dict)
        or set(key) != set(_KEY_NAMES)
        or not all(isinstance(v, str) and 0 < len(v) <= 512 for v in key.values())
        or key[keys.GSI1_PK] != partition
    ):
        raise invalid("not a cursor this API returned")
    return key


def index_page(
    partition: str,
    *,
    limit: int,
    cursor: str | None = None,
    keep: Callable[[dict[str, Any]], bool] = lambda _item: True,
) -> Page:
    """Up to ``limit`` items of GSI1 ``partition`` that ``keep`` accepts, newest first."""
    kwargs: dict[str, Any] = {
        "TableName": cloud().table,
        "IndexName": keys.GSI1,
        "KeyConditionExpression": "#pk = :pk",
        "ExpressionAttributeNames": {"#pk": keys.GSI1_PK},
        "ExpressionAttributeValues": store.serialize({":pk": partition}),
        "ScanIndexForward": False,
        "Limit": _BATCH,
    }
    if cursor:
        kwargs["ExclusiveStartKey"] = store.serialize(decode_cursor(cursor, partition))
    client = aws.client("dynamodb")
    found: list[dict[str, Any]] = []
    while True:
        page = client.query(**kwargs)
        raw_items = page.get("Items", [])
        for position, raw in enumerate(raw_items):
            item = store.deserialize(raw)
            if not keep(item):
                continue
            found.append(item)
            if len(found) == limit:
                more = position + 1 < len(raw_items) or bool(page.get("LastEvaluatedKey"))
                return Page(found, encode_cursor(item) if more else None)
        last = page.get("LastEvaluatedKey")
        if not last:
            return Page(found, None)
        kwargs["ExclusiveStartKey"] = last
