"""The subset of the Anthropic Messages API that Claude Code sends and reads.

Requests are parsed leniently (``extra="allow"``): the CLI adds fields with every release
(``thinking``, ``context_management``, ``output_config``...) and the offline model must not reject
a request because of one it does not use. Replies are the few block types the model produces.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ContentBlock = dict[str, Any]


class ApiMessage(BaseModel):
    """One entry of ``messages``; the CLI also sends ``role: "system"`` entries."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[ContentBlock] = ""


class MessagesRequest(BaseModel):
    """Body of ``POST /v1/messages`` and ``POST /v1/messages/count_tokens``."""

    model_config = ConfigDict(extra="allow")

    model: str = "offline-model"
    messages: list[ApiMessage] = Field(default_factory=list)
    system: str | list[ContentBlock] | None = None
    tools: list[dict[str, Any]] | None = None
    stream: bool = False
    max_tokens: int | None = None
    output_config: dict[str, Any] | None = None

    def digest(self) -> str:
        """A stable hash of the conversation: seeds ids so that equal requests get equal answers."""
        payload = json.dumps(
            [m.model_dump(mode="json") for m in self.messages], sort_keys=True, ensure_ascii=True
        )
        return hashlib.sha256(payload.encode()).hexdigest()


class TextBlock(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: Literal["text"] = "text"
    text: str


class ToolUseBlock(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    input: dict[str, Any]


ReplyBlock = TextBlock | ToolUseBlock


class AssistantReply(BaseModel):
    """What the brain decided to say: the content blocks of one assistant message."""

    model_config = ConfigDict(frozen=True)

    content: tuple[ReplyBlock, ...]
    stop_reason: Literal["end_turn", "tool_use"]

    @classmethod
    def text(cls, text: str) -> AssistantReply:
        return cls(content=(TextBlock(text=text),), stop_reason="end_turn")

    @classmethod
    def tool_uses(cls, blocks: list[ToolUseBlock]) -> AssistantReply:
        if not blocks:
            raise ValueError("a tool_use reply needs at least one block")
        return cls(content=tuple(blocks), stop_reason="tool_use")


def estimate_tokens(text: str) -> int:
    """Rough token count (4 characters a token); the CLI only shows it in ``/context``."""
    return max(1, len(text) // 4)


def message_json(
    reply: AssistantReply, *, message_id: str, model: str, input_tokens: int
) -> dict[str, Any]:
    """The non-streaming answer: one complete ``message`` object."""
    content = [block.model_dump() for block in reply.content]
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": reply.stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": estimate_tokens(json.dumps(content)),
        },
    }


def error_json(message: str, error_type: str = "invalid_request_error") -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}
