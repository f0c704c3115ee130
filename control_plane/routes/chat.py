"""Chat routes: send a message to the AI working on a site, read the conversation, and (admins)
see the session's pane.

``POST /api/chat/{execution_id}`` and ``GET /api/chat/{execution_id}/history`` are the seed's
contract; ``/api/sessions/{session_id}/chat`` does the same without a build id. Either way the
conversation is the session's.
"""

from __future__ import annotations

from typing import Annotated, Literal

from chalice.app import Blueprint
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from control_plane import chat
from control_plane.auth import Principal
from control_plane.chat import ChatTarget, ChatTurn, PaneCapture
from control_plane.web import Access, endpoint

bp = Blueprint(__name__)

ChatText = Annotated[
    str,
    BeforeValidator(chat.normalise_text),
    StringConstraints(min_length=1, max_length=chat.MESSAGE_MAX),
    AfterValidator(chat.check_text),
]


class ChatRequest(BaseModel):
    """A chat message: 1 to 4000 characters, newlines and tabs but no other control characters."""

    model_config = ConfigDict(extra="forbid")

    message: ChatText


class ChatQueuedResponse(BaseModel):
    message_id: str
    session_id: str
    status: Literal["queued"] = "queued"
    at: str


class HistoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=chat.HISTORY_LIMIT, ge=1, le=chat.HISTORY_LIMIT_MAX)
    cursor: str | None = Field(default=None, pattern=chat.CURSOR_RE.pattern)


class ChatHistoryResponse(BaseModel):
    """Oldest first, each answer right after its question; ``next_cursor`` when there is more."""

    session_id: str
    messages: list[ChatTurn]
    next_cursor: str | None = None


def _queued(target: ChatTarget, body: ChatRequest) -> ChatQueuedResponse:
    turn = chat.send(target, body.message)
    return ChatQueuedResponse(message_id=turn.message_id, session_id=target.session_id, at=turn.at)


def _history(target: ChatTarget, query: HistoryQuery) -> ChatHistoryResponse:
    turns, next_cursor = chat.history(target.session_id, query.limit, query.cursor)
    return ChatHistoryResponse(
        session_id=target.session_id, messages=turns, next_cursor=next_cursor
    )


@endpoint(
    bp,
    "/api/chat/{execution_id}",
    "POST",
    access=Access.USER,
    summary="Send a chat message to the AI working on this build's site",
    request=ChatRequest,
    response=ChatQueuedResponse,
    status=202,
)
def chat_on_execution(
    principal: Principal, body: ChatRequest, execution_id: str
) -> ChatQueuedResponse:
    return _queued(chat.target_of_execution(execution_id, principal, sending=True), body)


@endpoint(
    bp,
    "/api/chat/{execution_id}/history",
    "GET",
    access=Access.USER,
    summary="The chat of this build's site, oldest first",
    response=ChatHistoryResponse,
    query=HistoryQuery,
)
def chat_history_of_execution(
    principal: Principal, query: HistoryQuery, execution_id: str
) -> ChatHistoryResponse:
    return _history(chat.target_of_execution(execution_id, principal), query)


@endpoint(
    bp,
    "/api/sessions/{session_id}/chat",
    "POST",
    access=Access.USER,
    summary="Send a chat message to the AI working on this site",
    request=ChatRequest,
    response=ChatQueuedResponse,
    status=202,
)
def chat_on_session(principal: Principal, body: ChatRequest, session_id: str) -> ChatQueuedResponse:
    return _queued(chat.target_of_session(session_id, principal, sending=True), body)


@endpoint(
    bp,
    "/api/sessions/{session_id}/chat",
    "GET",
    access=Access.USER,
    summary="The chat of this site, oldest first",
    response=ChatHistoryResponse,
    query=HistoryQuery,
)
def chat_history_of_session(
    principal: Principal, query: HistoryQuery, session_id: str
) -> ChatHistoryResponse:
    return _history(chat.target_of_session(session_id, principal), query)


@endpoint(
    bp,
    "/api/admin/sessions/{session_id}/pane",
    "GET",
    access=Access.ADMIN,
    summary="The session's tmux pane, refreshed every ~2 s while an AI turn runs",
    response=PaneCapture,
)
def session_pane(principal: Principal, session_id: str) -> PaneCapture:
    return chat.pane_capture(session_id)
