"""Handlers with the shapes the pipeline's Lambda tasks have, and failures they can raise."""

from __future__ import annotations

import os
import threading
from collections import Counter
from typing import Any

calls: Counter[str] = Counter()
received: list[dict[str, Any]] = []
_lock = threading.Lock()


class SiteNotReady(Exception):
    """Retryable, like the health check's."""


class DeployError(Exception):
    """Caught by name in the test state machine."""


def _count(name: str, event: dict[str, Any]) -> None:
    with _lock:
        calls[f"{name}:{event.get('key', '')}"] += 1


def flaky(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Fails on the first attempt (Step Functions passes $$.State.RetryCount), then succeeds."""
    _count("flaky", event)
    attempt = int(event.get("attempt", 0))
    if attempt < 1:
        raise SiteNotReady(f"not yet (attempt {attempt})")
    return {"key": event["key"], "attempts": attempt + 1}


def broken(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _count("broken", event.get("state", {}))
    raise DeployError("the bucket refused the upload")


def whoami(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "event": event,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "environment_marker": os.environ.get("FAKE_CODE_MARKER", ""),
    }


def consume(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """An SQS event-source handler: records what it got."""
    with _lock:
        received.extend(event.get("Records", []))
    return {"batchItemFailures": []}


def unserializable(event: dict[str, Any], context: Any) -> object:
    return object()
