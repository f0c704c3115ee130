"""Server-sent events for a streamed Messages API answer.

The sequence Claude Code needs: ``message_start``; per content block ``content_block_start``,
one ``content_block_delta`` (``text_delta``, or ``input_json_delta`` carrying the whole tool
input as JSON) and ``content_block_stop``; then ``message_delta`` with the stop reason and
``message_stop``. One delta per block is enough: the CLI concatenates whatever it gets.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from tmux_builder.offline_model.messages_api import AssistantReply, TextBlock

CONTENT_TYPE = "text/event-stream"


def encode_event(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def stream_events(
    reply: AssistantReply, *, message_id: str, model: str, input_tokens: int
) -> Iterator[bytes]:
    """The reply as SSE frames, in order."""
    yield encode_event(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": input_tokens, "output_tokens": 1},
            },
        },
    )
    output_chars = 0
    for index, block in enumerate(reply.content):
        if isinstance(block, TextBlock):
            start: dict[str, Any] = {"type": "text", "text": ""}
            delta: dict[str, Any] = {"type": "text_delta", "text": block.text}
            output_chars += len(block.text)
        else:
            start = {"type": "tool_use", "id": block.id, "name": block.name, "input": {}}
            partial = json.dumps(block.input, ensure_ascii=False)
            delta = {"type": "input_json_delta", "partial_json": partial}
            output_chars += len(partial)
        yield encode_event(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": start},
        )
        yield encode_event(
            "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        )
        yield encode_event("content_block_stop", {"type": "content_block_stop", "index": index})
    yield encode_event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": max(1, output_chars // 4)},
        },
    )
    yield encode_event("message_stop", {"type": "message_stop"})
