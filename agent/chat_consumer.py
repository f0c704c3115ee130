"""The agent's chat loop: messages from the FIFO chat queue become turns of the user's CLI.

Each :class:`~tmux_builder.contracts.ChatMessage` is written to ``prompts/chat-{message_id}.txt``
(:mod:`agent.chat_prompt`) and handed to the engine like a pipeline task; the answer is the
turn's last message, which the ``Stop`` hook carries, and goes back to the control plane as a
:class:`~tmux_builder.contracts.ChatAnswered` event. Every message gets exactly one answer or
one error: a host without the user's session folder says so, and an engine failure is reported
rather than retried forever.

Order and concurrency: the queue's message group is the session, and SQS hands out a group's
next message only once the previous one is gone, so a session's messages run one at a time and
in order while other sessions run in parallel (up to ``concurrency``). The engine also
serializes turns per user, so a message sent during a build waits for the running step's turn
and then reaches the same pane. Visibility is extended while a message waits or runs.

Never submitted twice: an answered message is recorded in the user's CLI home (a redelivery
gets the recorded answer again); a message whose prompt file exists but that neither this
process's hub nor that record knows was interrupted by an agent restart, and is answered with
an error instead of being typed into the pane a second time.

After every turn the pane is captured to the artifacts bucket (:class:`PaneCapture`), which is
what an admin sees as the session's pane text; pipeline steps use the same capture. While a turn
runs, :meth:`PaneCapture.live` refreshes that capture every few seconds (only when the text
changed), so an admin polling it watches the pane live.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from agent.chat_prompt import chat_prompt, chat_task_id
from agent.engine.base import EngineError
from agent.tmux_sessions import HEIGHT, TmuxSessionError
from agent.workspace import InvalidTaskId, Workspace, atomic_write
from tmux_builder import aws, keys
from tmux_builder.contracts import AgentEventEnvelope, ChatAnswered, ChatMessage, utc_now_iso

if TYPE_CHECKING:
    from agent.engine.base import Engine
    from agent.takeover import SessionGate
    from agent.tmux_sessions import TmuxSessions
    from tmux_builder.settings import AgentSettings, CloudSettings

log = logging.getLogger(__name__)

NOT_ACTIVE = "this session is not active yet"
INTERRUPTED = (
    "the agent restarted while answering this message; send it again if the site did not change"
)
NO_ANSWER = "the AI ended its turn without an answer"
_LEDGER_DIR = "chat-answers"


PANE_REFRESH_SECONDS = 2.0
PANE_MAX_CHARS = 32_000  # the pane's tail beyond this is dropped (220x50 is ~11,000)
LIVE_PREFIX = "live:"


class PaneCapture:
    """Uploads what a session's pane shows to ``users/{user}/sessions/{session}/pane.txt``.

    Best effort: a capture that fails is logged, never raised (it only serves diagnostics).
    """

    def __init__(
        self, bucket: str, sessions: TmuxSessions, refresh_seconds: float = PANE_REFRESH_SECONDS
    ) -> None:
        self.bucket = bucket
        self.sessions = sessions
        self.refresh_seconds = refresh_seconds
        # A digest of what was last uploaded, per session: a live refresh skips an unchanged pane.
        self._last: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def live(self, user_id: str, session_id: str, source: str) -> Iterator[None]:
        """Refresh the capture every :attr:`refresh_seconds` while the block runs (a turn).

        Only a changed pane is uploaded, with source ``live:{source}``; the refresher has
        stopped when the block ends, so the turn's final :meth:`capture` is the last word.
        """
        stop = threading.Event()
        refresher = threading.Thread(
            target=self._refresh,
            args=(user_id, session_id, LIVE_PREFIX + source, self.refresh_seconds, stop),
            name=f"pane-{user_id[:12]}",
            daemon=True,
        )
        refresher.start()
        try:
            yield
        finally:
            stop.set()
            refresher.join(timeout=self.refresh_seconds + 30)

    def _refresh(
        self, user_id: str, session_id: str, source: str, interval: float, stop: threading.Event
    ) -> None:
        while not stop.wait(interval):
            try:
                text = self.sessions.capture(user_id, lines=HEIGHT)
            except TmuxSessionError:
                continue  # not started yet, or gone: the final capture says what happened
            with self._lock:
                unchanged = self._last.get((user_id, session_id)) == _digest(_bounded(text))
            if not unchanged and not stop.is_set():
                self.upload_text(user_id, session_id, text, source)

    def capture(self, user_id: str, session_id: str, source: str, fallback: str = "") -> bool:
        """Capture the pane now; ``fallback`` (e.g. an error's pane tail) if it is gone."""
        try:
            text = self.sessions.capture(user_id, lines=HEIGHT)
        except TmuxSessionError as error:
            if not fallback:
                log.info("no pane to capture for %s: %s", user_id[:12], error)
                return False
            text = fallback
        return self.upload_text(user_id, session_id, text, source)

    def upload_text(self, user_id: str, session_id: str, text: str, source: str) -> bool:
        text = _bounded(text)
        try:
            aws.client("s3").put_object(
                Bucket=self.bucket,
                Key=keys.session_pane(user_id, session_id),
                Body=text.encode("utf-8"),
                ContentType="text/plain; charset=utf-8",
                Metadata={"captured-at": utc_now_iso(), "source": source[:200]},
            )
        except Exception:
            log.warning("could not upload the pane capture of %s", user_id[:12], exc_info=True)
            return False
        with self._lock:
            self._last[(user_id, session_id)] = _digest(text)
        return True


def _bounded(text: str) -> str:
    """The pane's text, at most :data:`PANE_MAX_CHARS` (its end: the newest lines)."""
    return text if len(text) <= PANE_MAX_CHARS else text[-PANE_MAX_CHARS:]


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class AnswerPublisher:
    """Sends :class:`ChatAnswered` to the agent events queue; raises if it could not."""

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def publish(self, event: ChatAnswered) -> None:
        aws.client("sqs").send_message(
            QueueUrl=self.queue_url, MessageBody=AgentEventEnvelope(event=event).model_dump_json()
        )


class ChatConsumer:
    """Long-polls the chat queue on its own thread; :meth:`handle` is one message's work.

    Parameters
    ----------
    queue_url:
        The FIFO chat queue.
    work_dir:
        The agent's work directory (session folders and CLI homes).
    engine:
        The engine the pipeline steps use (one CLI per user, turns serialized per user).
    answers:
        Where answers go.
    panes:
        Where pane captures go; None to skip them.
    gate:
        Decides whether a message's session runs on this host (None: every message runs here);
        a message of a session another live host owns is forwarded to that host's chat queue.
    shared:
        Whether ``queue_url`` is the shared chat queue (else this host's own).
    """

    def __init__(
        self,
        queue_url: str,
        work_dir: Path,
        engine: Engine,
        answers: AnswerPublisher,
        panes: PaneCapture | None = None,
        *,
        turn_timeout: float | None = None,
        concurrency: int = 4,
        visibility_seconds: int = 120,
        wait_seconds: int = 5,
        gate: SessionGate | None = None,
        shared: bool = True,
    ) -> None:
        self._queue_url = queue_url
        self._gate = gate
        self._shared = shared
        self._work_dir = work_dir
        self._engine = engine
        self._answers = answers
        self._panes = panes
        self._turn_timeout = turn_timeout
        self._concurrency = max(1, concurrency)
        self._visibility_seconds = visibility_seconds
        self._wait_seconds = wait_seconds
        self._pool = ThreadPoolExecutor(max_workers=self._concurrency, thread_name_prefix="chat")
        self._held: dict[str, str] = {}  # SQS message id -> receipt handle, until deleted
        self._groups_running = 0
        self._group_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> ChatConsumer:
        self._thread = threading.Thread(target=self.run, name="chat-consumer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop taking messages; the ones in flight finish (see :meth:`join`)."""
        self._stopping.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """Poll until :meth:`stop`, then wait for the messages in flight."""
        keeper = threading.Thread(target=self._keep_invisible, name="chat-visibility", daemon=True)
        keeper.start()
        sqs = aws.client("sqs")
        while not self._stopping.is_set():
            if self._groups_running >= self._concurrency:
                self._stopping.wait(0.1)
                continue
            try:
                answer = sqs.receive_message(
                    QueueUrl=self._queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=self._wait_seconds,
                    VisibilityTimeout=self._visibility_seconds,
                    MessageSystemAttributeNames=["MessageGroupId", "ApproximateReceiveCount"],
                )
            except Exception:
                log.exception("chat receive_message failed; retrying")
                self._stopping.wait(2)
                continue
            self._dispatch(answer.get("Messages", []))
        self._pool.shutdown(wait=True)
        self._finished.set()

    # ------------------------------------------------------------------ one message

    def handle(self, message: ChatMessage) -> ChatAnswered:
        """Run one message as a turn and return its answer (or the error); never raises."""

        def reply(answer: str = "", error: str | None = None) -> ChatAnswered:
            return ChatAnswered(
                execution_id=message.execution_id,
                user_id=message.user_id,
                session_id=message.session_id,
                message_id=message.message_id,
                answer=answer,
                error=error,
            )

        try:
            ws = Workspace(self._work_dir, message.user_id)
            task_id = chat_task_id(message.message_id)
        except (ValueError, InvalidTaskId) as error:
            return reply(error=f"invalid chat message: {error}")
        recorded = self._recorded(ws, message.message_id)
        if recorded is not None:
            log.info("chat %s was answered before; answering the same", message.message_id)
            return recorded
        if not ws.dir.is_dir():
            return reply(error=NOT_ACTIVE)
        if (
            ws.prompt_path(task_id).exists()
            and self._engine.hub.submitted_prompt(ws.user_id, task_id) is None
        ):
            return reply(error=INTERRUPTED)
        source = f"chat:{message.message_id}"
        live = (
            self._panes.live(ws.user_id, message.session_id, source)
            if self._panes is not None
            else contextlib.nullcontext()
        )
        try:
            self._engine.ensure_started(ws)
            with live:
                result = self._engine.run_turn(
                    ws, task_id, chat_prompt(message), timeout=self._turn_timeout
                )
        except EngineError as error:
            log.warning("chat %s failed: %s\n%s", message.message_id, error, error.pane_tail)
            self._capture(ws, message, source, fallback=error.pane_tail)
            return reply(error=f"the AI could not answer: {error}")
        except Exception as error:
            log.exception("chat %s failed unexpectedly", message.message_id)
            return reply(error=f"the agent failed while answering ({type(error).__name__})")
        self._capture(ws, message, source)
        answer = result.last_message.strip()
        return reply(answer=answer) if answer else reply(error=NO_ANSWER)

    def _capture(
        self, ws: Workspace, message: ChatMessage, source: str, fallback: str = ""
    ) -> None:
        if self._panes is not None:
            self._panes.capture(ws.user_id, message.session_id, source, fallback=fallback)

    # ------------------------------------------------------------------ the ledger

    def _ledger_path(self, ws: Workspace, message_id: str) -> Path:
        return ws.home / _LEDGER_DIR / f"{message_id}.json"

    def _recorded(self, ws: Workspace, message_id: str) -> ChatAnswered | None:
        path = self._ledger_path(ws, message_id)
        try:
            return ChatAnswered.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValidationError):
            return None

    def _record(self, event: ChatAnswered) -> None:
        ws = Workspace(self._work_dir, event.user_id)
        if ws.home.is_dir():
            atomic_write(self._ledger_path(ws, event.message_id), event.model_dump_json(), 0o600)

    # ------------------------------------------------------------------ the queue

    def _dispatch(self, messages: list[dict[str, Any]]) -> None:
        """One job per message group, its messages in queue order."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for message in messages:
            group = message.get("Attributes", {}).get("MessageGroupId", message["MessageId"])
            groups.setdefault(group, []).append(message)
            with self._lock:
                self._held[message["MessageId"]] = message["ReceiptHandle"]
        for group, batch in groups.items():
            with self._lock:
                self._groups_running += 1
            future: Future[None] = self._pool.submit(self._run_group, group, batch)
            future.add_done_callback(_log_crash)

    def _run_group(self, group: str, batch: list[dict[str, Any]]) -> None:
        try:
            with self._group_locks[group]:
                for message in batch:
                    self._process(message)
        finally:
            with self._lock:
                self._groups_running -= 1

    def _process(self, raw: dict[str, Any]) -> None:
        try:
            message = ChatMessage.model_validate_json(raw["Body"])
        except ValidationError as error:
            # Visible again at once: the redrive policy moves it to the DLQ after a few tries.
            log.error("unreadable chat message %s: %s", raw.get("MessageId"), error)
            self._release(raw, visible_in=0)
            return
        if self._gate is not None and not self._admitted(raw, message):
            return
        event = self.handle(message)
        try:
            self._answers.publish(event)
        except Exception:
            log.exception("could not report the answer to chat %s", message.message_id)
            self._release(raw, visible_in=None)  # comes back after its visibility timeout
            return
        try:
            self._record(event)
        except OSError:
            log.warning("could not record the answer to chat %s", message.message_id)
        if self._gate is not None and not event.error:
            self._gate.snapshot_after_chat(message.user_id, message.session_id)
        self._release(raw, delete=True)

    def _admitted(self, raw: dict[str, Any], message: ChatMessage) -> bool:
        """Whether the message runs here; else it went to its session's owner or comes back."""
        from agent.takeover import MessageActions, forward_chat, settle_admission

        assert self._gate is not None
        admission = self._gate.admit(
            session_id=message.session_id,
            user_id=message.user_id,
            chat=True,
            from_shared=self._shared,
            receive_count=int(raw.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
        )
        return settle_admission(
            admission,
            self._queue_url,
            MessageActions(
                what=f"chat {message.message_id}",
                forward=lambda queue_url: forward_chat(
                    queue_url, raw["Body"], message.session_id, message.message_id
                ),
                forwarded=lambda: self._release(raw, delete=True),
                later=lambda seconds: self._release(raw, visible_in=seconds),
                retry_seconds=5,
            ),
        )

    def _release(
        self, raw: dict[str, Any], *, delete: bool = False, visible_in: int | None = None
    ) -> None:
        with self._lock:
            self._held.pop(raw["MessageId"], None)
        try:
            if delete:
                aws.client("sqs").delete_message(
                    QueueUrl=self._queue_url, ReceiptHandle=raw["ReceiptHandle"]
                )
            elif visible_in is not None:
                aws.client("sqs").change_message_visibility(
                    QueueUrl=self._queue_url,
                    ReceiptHandle=raw["ReceiptHandle"],
                    VisibilityTimeout=visible_in,
                )
        except Exception:
            log.warning("could not release chat message %s", raw.get("MessageId"), exc_info=True)

    def _keep_invisible(self) -> None:
        """Extend the visibility of every held message (waiting or running) well before it ends."""
        interval = max(1.0, self._visibility_seconds / 3)
        while not self._finished.wait(interval):
            with self._lock:
                receipts = list(self._held.values())
            for receipt in receipts:
                try:
                    aws.client("sqs").change_message_visibility(
                        QueueUrl=self._queue_url,
                        ReceiptHandle=receipt,
                        VisibilityTimeout=self._visibility_seconds,
                    )
                except Exception:
                    log.warning("could not extend a chat message's visibility", exc_info=True)


def _log_crash(future: Future[None]) -> None:
    error = future.exception()
    if error is not None:
        log.error("chat worker crashed: %r", error)


def start_chat_consumer(
    settings: AgentSettings,
    cloud: CloudSettings,
    engine: Engine,
    *,
    queue_url: str | None = None,
    gate: SessionGate | None = None,
) -> ChatConsumer | None:
    """The chat loop on its own thread, or None when this deployment has no chat queue.

    ``queue_url``: this host's own chat queue (default: the shared one).
    """
    if not cloud.chat_queue_url:
        log.warning("TMUX_BUILDER_CHAT_QUEUE_URL is not set: chat messages will not be answered")
        return None
    panes = PaneCapture(cloud.artifacts_bucket, engine.sessions) if cloud.artifacts_bucket else None
    return ChatConsumer(
        queue_url or cloud.chat_queue_url,
        settings.work_dir,
        engine,
        AnswerPublisher(cloud.events_queue_url),
        panes,
        turn_timeout=settings.turn_timeout_seconds,
        concurrency=settings.concurrency,
        gate=gate,
        shared=queue_url is None,
    ).start()
