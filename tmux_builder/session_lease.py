"""A session's lease as stored in the table: who owns the session and where its work goes.

Written by the agent hosts (:mod:`agent.leases`), read by the control plane for routing and
for operators (:mod:`control_plane.routing`). One model for both, read from a plain item
(the control plane's store deserializes; the agent passes its low-level items through
:func:`from_typed_item`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SessionLease:
    session_id: str
    user_id: str
    owner: str
    queue_url: str
    chat_queue_url: str
    expires_at_ms: int
    acquired_at: str = ""
    renewed_at: str = ""
    takeovers: int = 0
    previous_owner: str = ""
    # The session's SiteSpec as JSON-ready data (what a host taking it over needs).
    site: dict[str, Any] | None = None

    def seconds_left(self, now: float | None = None) -> float:
        return self.expires_at_ms / 1000 - (time.time() if now is None else now)

    def live(self, now: float | None = None) -> bool:
        return self.seconds_left(now) > 0

    @classmethod
    def from_record(cls, item: Mapping[str, Any]) -> SessionLease:
        site = item.get("site")
        return cls(
            session_id=str(item["session_id"]),
            user_id=str(item.get("user_id") or ""),
            owner=str(item.get("owner") or ""),
            queue_url=str(item.get("queue_url") or ""),
            chat_queue_url=str(item.get("chat_queue_url") or ""),
            expires_at_ms=int(item.get("expires_at") or 0),
            acquired_at=str(item.get("acquired_at") or ""),
            renewed_at=str(item.get("renewed_at") or ""),
            takeovers=int(item.get("takeovers") or 0),
            previous_owner=str(item.get("previous_owner") or ""),
            site=json.loads(site) if site else None,
        )

    @classmethod
    def from_typed_item(cls, item: Mapping[str, Any]) -> SessionLease:
        """From a low-level DynamoDB item (``{"S": ...}``/``{"N": ...}`` attribute values)."""
        from boto3.dynamodb.types import TypeDeserializer

        plain = TypeDeserializer()
        return cls.from_record({name: plain.deserialize(value) for name, value in item.items()})
