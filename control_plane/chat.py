"""Chat between a person and the AI working on their site.

A message is stored first, so it is never lost and the history shows it at once as ``queued``;
then it goes to the FIFO chat queue with the session as message group, so one session's
messages reach its pane in order while other sessions go on in parallel. The agent runs each
message as a turn of the session's CLI and reports the turn's last message as a
:class:`~tmux_builder.contracts.ChatAnswered` event; :func:`record_answer` stores it as the
assistant turn and marks the question answered (or failed, with the reason). Events arrive at
least once: the answer's key derives from the question's, so a repeated event changes nothing.

The conversation belongs to the session (one site), whichever build it was sent during. Who
wants to hear about answers (the WebSocket push) registers with :func:`on_turn_recorded`.

The pane text an admin can fetch is the agent's capture at the end of the session's latest AI
turn (chat or pipeline step), uploaded to the artifacts bucket: the control plane cannot reach
tmux on the agent host. It is as old as that turn, and says so (``captured_at``, ``age_seconds``).
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from itertools import islice
from typing import Any

from pydantic import BaseModel

from control_plane import routing, sessions, store, tracking
from control_plane.auth import Principal, require_access
from control_plane.errors import Conflict, NotFound, NotSupported, UpstreamUnavailable
from control_plane.observability import logger
from tmux_builder import aws, keys, naming
from tmux_builder.contracts import ChatAnswered, ChatMessage, utc_now_iso
from tmux_builder.settings import cloud

MESSAGE_MAX = 4000
ANSWER_MAX = 16000
HISTORY_LIMIT = 200
HISTORY_LIMIT_MAX = 500
MESSAGE_ID_RE = re.compile(r"^msg_[0-9]{8}T[0-9]{9}_[0-9a-f]{8}$")
# Where a page of history ended: a message id, or a message id and ".answer" (URL-safe).
CURSOR_RE = re.compile(r"^msg_[0-9]{8}T[0-9]{9}_[0-9a-f]{8}(\.answer)?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class ChatRole(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


class ChatStatus(StrEnum):
    QUEUED = "queued"
    ANSWERED = "answered"
    FAILED = "failed"


class ChatTurn(BaseModel):
    """One turn of a conversation, as stored and as the API shows it."""

    message_id: str
    role: ChatRole
    text: str
    status: ChatStatus
    at: str
    in_reply_to: str | None = None
    error: str | None = None


class PaneCapture(BaseModel):
    """The session's pane as the agent last captured it (``captured_at`` None: never yet)."""

    session_id: str
    text: str
    captured_at: str | None = None
    source: str | None = None
    age_seconds: float | None = None


@dataclass(frozen=True)
class ChatTarget:
    """Whose conversation a message goes to, resolved from a route's id and checked."""

    user_id: str
    session_id: str
    execution_id: str | None = None


TurnListener = Callable[[str, str, ChatTurn], None]
_listeners: list[TurnListener] = []


def on_turn_recorded(listener: TurnListener) -> TurnListener:
    """Call ``listener(user_id, session_id, turn)`` whenever an answer or a failure is stored.

    Called once per stored change (never for a repeated event), after the write; a listener
    that raises is logged and does not undo anything. Usable as a decorator.
    """
    _listeners.append(listener)
    return listener


def _announce(user_id: str, session_id: str, turn: ChatTurn) -> None:
    for listener in list(_listeners):
        try:
            listener(user_id, session_id, turn)
        except Exception:
            logger.exception("chat listener failed", extra={"session_id": session_id})


# --------------------------------------------------------------------------- the text


def normalise_text(value: Any) -> Any:
    """Line ends as ``\\n`` and no surrounding blanks (before the length is checked)."""
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n").strip()
    return value


def check_text(value: str) -> str:
    """Only printable text, newlines and tabs: nothing that could drive a terminal."""
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (other than newlines and tabs)")
    return value


def new_message_id(now: datetime | None = None) -> str:
    """``msg_{UTC time to the millisecond}_{random}``: unique, and sorts by time."""
    moment = now or datetime.now(UTC)
    return f"msg_{moment:%Y%m%dT%H%M%S}{moment.microsecond // 1000:03d}_{secrets.token_hex(4)}"


# --------------------------------------------------------------------------- whose chat


def target_of_execution(
    execution_id: str, principal: Principal, *, sending: bool = False
) -> ChatTarget:
    """The conversation of a build's session; 404 unknown, 403 someone else's.

    ``sending``: also 409 if the site was deleted (its history stays readable).
    """
    if not naming.EXECUTION_ID_RE.match(execution_id):
        raise NotFound(f"no build with id {execution_id!r}")
    record = tracking.get_execution(execution_id)
    if record is None:
        raise NotFound(f"no build with id {execution_id!r}")
    require_access(principal, record["user_id"])
    if sending:
        _check_open(sessions.find(record["session_id"]))
    return ChatTarget(record["user_id"], record["session_id"], execution_id)


def target_of_session(
    session_id: str, principal: Principal, *, sending: bool = False
) -> ChatTarget:
    """The conversation of a session; as :func:`target_of_execution`."""
    session = sessions.find(session_id)
    if session is None:
        raise NotFound(f"no session with id {session_id!r}")
    require_access(principal, session["user_id"])
    if sending:
        _check_open(session)
    return ChatTarget(session["user_id"], session_id, session.get("latest_execution_id"))


def _check_open(session: dict[str, Any] | None) -> None:
    if session is not None and session.get("status") == sessions.SessionStatus.DELETED:
        raise Conflict("this site was deleted; its chat is closed")


# --------------------------------------------------------------------------- sending


def send(target: ChatTarget, text: str) -> ChatTurn:
    """Store the message, then queue it for the agent; 503 if it could not be queued."""
    queue_url = cloud().chat_queue_url
    if not queue_url:
        raise NotSupported("chat is not configured on this deployment (no chat queue)")
    message_id = new_message_id()
    at = utc_now_iso()
    key = keys.chat_message(target.session_id, message_id)
    store.put_new(
        {
            **key,
            "message_id": message_id,
            "role": ChatRole.USER.value,
            "text": text,
            "status": ChatStatus.QUEUED.value,
            "at": at,
            "user_id": target.user_id,
            "session_id": target.session_id,
            "execution_id": target.execution_id,
        }
    )
    message = ChatMessage(
        message_id=message_id,
        user_id=target.user_id,
        session_id=target.session_id,
        execution_id=target.execution_id,
        text=text,
        at=at,
    )
    try:
        _queue(message, queue_url)
    except Exception as exc:
        logger.exception("could not queue a chat message", extra={"message_id": message_id})
        store.update(key, {"status": ChatStatus.FAILED.value, "error": "could not be queued"})
        raise UpstreamUnavailable(
            "the message could not be handed to the agent; send it again"
        ) from exc
    return ChatTurn(
        message_id=message_id, role=ChatRole.USER, text=text, status=ChatStatus.QUEUED, at=at
    )


def _queue(message: ChatMessage, shared_queue_url: str) -> None:
    """To the chat queue of the host that owns the session (its lease), else the shared one.

    An owner's queue that is gone (its host shut down a moment ago) falls back to the shared
    queue, where any host takes the message (and the session).
    """
    sqs = aws.client("sqs")
    owner_queue = routing.owner_chat_queue(message.session_id)
    body = {
        "MessageBody": message.model_dump_json(),
        "MessageGroupId": message.session_id,
        "MessageDeduplicationId": message.message_id,
    }
    if owner_queue and owner_queue != shared_queue_url:
        try:
            sqs.send_message(QueueUrl=owner_queue, **body)
            return
        except Exception:
            logger.warning(
                "the owner's chat queue did not take the message; using the shared queue",
                extra={"message_id": message.message_id},
            )
    sqs.send_message(QueueUrl=shared_queue_url, **body)


# --------------------------------------------------------------------------- reading


def history(
    session_id: str, limit: int = HISTORY_LIMIT, cursor: str | None = None
) -> tuple[list[ChatTurn], str | None]:
    """The conversation oldest first, each answer after its question, and the next cursor.

    ``cursor`` is the previous page's ``next_cursor``; None when there is nothing more.
    """
    limit = max(1, min(limit, HISTORY_LIMIT_MAX))
    pk = keys.chat_partition(session_id)
    if cursor is None:
        items = store.query(pk, sk_prefix=keys.CHAT_PREFIX, limit=limit + 1)
    else:
        after = f"{keys.CHAT_PREFIX}{cursor.replace('.', '#')}"
        # The lower bound is inclusive, and the partition's non-chat items sort after it.
        items = (
            item
            for item in store.query(pk, sk_from=after, limit=limit + 3)
            if item[keys.SK] > after and item[keys.SK].startswith(keys.CHAT_PREFIX)
        )
    page = list(islice(items, limit + 1))
    more = len(page) > limit
    page = page[:limit]
    turns = [_turn(item) for item in page]
    next_cursor = (
        page[-1][keys.SK].removeprefix(keys.CHAT_PREFIX).replace("#", ".")
        if more and page
        else None
    )
    return turns, next_cursor


def _turn(item: dict[str, Any]) -> ChatTurn:
    return ChatTurn(
        message_id=item["message_id"],
        role=ChatRole(item["role"]),
        text=item.get("text", ""),
        status=ChatStatus(item["status"]),
        at=item["at"],
        in_reply_to=item.get("in_reply_to"),
        error=item.get("error"),
    )


# --------------------------------------------------------------------------- answers


def record_answer(event: ChatAnswered) -> ChatTurn | None:
    """Store the agent's answer (or the failure); the stored turn, None if nothing changed."""
    question_key = keys.chat_message(event.session_id, event.message_id)
    question = store.get(question_key)
    context = {"session_id": event.session_id, "message_id": event.message_id}
    if question is None or question.get("role") != ChatRole.USER.value:
        logger.warning("answer to an unknown chat message; dropped", extra=context)
        return None
    if question["user_id"] != event.user_id:
        logger.error("answer names another user than its question; dropped", extra=context)
        return None
    if event.error:
        return _record_failure(question_key, question, event)
    text = event.answer.strip() or "(the AI ended its turn without an answer)"
    if len(text) > ANSWER_MAX:
        text = text[:ANSWER_MAX] + "\n\n(answer shortened)"
    answer = ChatTurn(
        message_id=f"{event.message_id}-answer",
        role=ChatRole.ASSISTANT,
        text=text,
        status=ChatStatus.ANSWERED,
        at=event.at,
        in_reply_to=event.message_id,
    )
    try:
        store.put_new(
            {
                **keys.chat_answer(event.session_id, event.message_id),
                **answer.model_dump(mode="json"),
                "user_id": question["user_id"],
                "session_id": event.session_id,
                "execution_id": question.get("execution_id"),
            }
        )
        stored = True
    except store.ConditionFailed:
        stored = False  # a repeated event: the first answer stays
    with contextlib.suppress(store.ConditionFailed):  # already marked answered
        store.update(
            question_key,
            {"status": ChatStatus.ANSWERED.value, "answered_at": event.at},
            condition="#status <> :answered",
            names={"#status": "status"},
            values={":answered": ChatStatus.ANSWERED.value},
        )
    if not stored:
        return None
    _announce(question["user_id"], event.session_id, answer)
    return answer


def _record_failure(
    key: dict[str, str], question: dict[str, Any], event: ChatAnswered
) -> ChatTurn | None:
    error = (event.error or "")[:500]
    try:
        store.update(
            key,
            {"status": ChatStatus.FAILED.value, "error": error, "answered_at": event.at},
            condition="#status = :queued",
            names={"#status": "status"},
            values={":queued": ChatStatus.QUEUED.value},
        )
    except store.ConditionFailed:
        return None  # already answered or failed
    failed = _turn({**question, "status": ChatStatus.FAILED.value, "error": error})
    _announce(question["user_id"], event.session_id, failed)
    return failed


# --------------------------------------------------------------------------- the pane


def pane_capture(session_id: str) -> PaneCapture:
    """The latest capture the agent uploaded for this session (admins only: see the route)."""
    from botocore.exceptions import ClientError

    session = sessions.find(session_id)
    if session is None:
        raise NotFound(f"no session with id {session_id!r}")
    key = keys.session_pane(session["user_id"], session_id)
    try:
        found = aws.client("s3").get_object(Bucket=cloud().artifacts_bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            return PaneCapture(session_id=session_id, text="")
        raise
    metadata = found.get("Metadata") or {}
    captured_at = metadata.get("captured-at") or _iso(found["LastModified"])
    age = (datetime.now(UTC) - datetime.fromisoformat(captured_at)).total_seconds()
    return PaneCapture(
        session_id=session_id,
        text=found["Body"].read().decode("utf-8", errors="replace"),
        captured_at=captured_at,
        source=metadata.get("source"),
        age_seconds=round(max(age, 0.0), 3),
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
