"""The agent's queue consumer: long-poll SQS, run tasks concurrently, answer Step Functions.

While a task runs, a heartbeat thread calls ``SendTaskHeartbeat`` (well inside the state's
HeartbeatSeconds) and extends the message's visibility, so a long AI turn is neither timed out
nor handed to another consumer. The message is deleted only after Step Functions has the
answer; if this process dies first, the message comes back and the state machine's heartbeat
timeout catches the silence.

The same queue carries the control plane's commands (:class:`AgentCommand`, e.g. teardown of a
user): they have no task token, are handed to ``handle_command``, and their message is deleted
once handled; one for a user whose task is still running waits until the task is done.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from agent.errors import StepError
from agent.events import EventPublisher
from tmux_builder import aws
from tmux_builder.contracts import AgentCommand, AgentTask, parse_agent_message
from tmux_builder.pipeline import AGENT_RESULT_FIELD

log = logging.getLogger(__name__)

# Step Functions error name for a failure the agent did not anticipate.
UNEXPECTED_ERROR = "AgentError"
# A command for a user with a task in flight waits this long (it would pull the folder from
# under a running AI turn).
COMMAND_RETRY_SECONDS = 30


def _log_crash(future: Future[None]) -> None:
    """A task thread must not die silently (its own errors are answered to Step Functions)."""
    error = future.exception()
    if error is not None:
        log.error("task crashed: %r", error)


@dataclass
class _InFlight:
    task: AgentTask
    receipt_handle: str
    stop_heartbeat: threading.Event


class Consumer:
    def __init__(
        self,
        queue_url: str,
        handle: Callable[[AgentTask], Any],
        events: EventPublisher,
        concurrency: int = 4,
        heartbeat_seconds: float = 20.0,
        visibility_seconds: int = 120,
        wait_seconds: int = 5,
        handle_command: Callable[[AgentCommand], Any] | None = None,
    ) -> None:
        self._queue_url = queue_url
        self._handle = handle
        self._handle_command = handle_command
        self._events = events
        self._concurrency = max(1, concurrency)
        self._heartbeat_seconds = heartbeat_seconds
        self._visibility_seconds = visibility_seconds
        self._wait_seconds = wait_seconds
        self._pool = ThreadPoolExecutor(max_workers=self._concurrency, thread_name_prefix="task")
        self._in_flight: dict[str, _InFlight] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    # ------------------------------------------------------------------ loop

    def run(self) -> None:
        """Poll until :meth:`stop`; then wait for in-flight tasks to finish."""
        sqs = aws.client("sqs")
        while not self._stopping.is_set():
            free = self._concurrency - len(self._in_flight)
            if free <= 0:
                self._stopping.wait(0.1)
                continue
            try:
                answer = sqs.receive_message(
                    QueueUrl=self._queue_url,
                    MaxNumberOfMessages=min(10, free),
                    WaitTimeSeconds=self._wait_seconds,
                    VisibilityTimeout=self._visibility_seconds,
                    MessageSystemAttributeNames=["ApproximateReceiveCount"],
                )
            except Exception:
                log.exception("receive_message failed; retrying")
                self._stopping.wait(2)
                continue
            for message in answer.get("Messages", []):
                self._accept(message)
        self._pool.shutdown(wait=True)

    def stop(self) -> None:
        """Stop taking work; :meth:`run` returns when in-flight tasks are done."""
        self._stopping.set()

    def in_flight(self) -> int:
        return len(self._in_flight)

    # ------------------------------------------------------------------ one message

    def _accept(self, message: dict[str, Any]) -> None:
        receipt = message["ReceiptHandle"]
        try:
            parsed = parse_agent_message(message["Body"])
        except ValidationError as exc:
            # Unreadable: make it visible again at once so the redrive policy moves it to the
            # DLQ after maxReceiveCount deliveries, instead of blocking for the full timeout.
            log.error("poison message %s: %s", message.get("MessageId"), exc)
            self._change_visibility(receipt, 0)
            return
        if isinstance(parsed, AgentCommand):
            self._accept_command(parsed, receipt)
            return
        task = parsed
        key = f"{task.execution_id}/{task.step.value}/{task.attempt}"
        with self._lock:
            if key in self._in_flight:
                log.info("duplicate delivery of %s while it runs; ignored", key)
                return
            flight = _InFlight(task, receipt, threading.Event())
            self._in_flight[key] = flight
        future: Future[None] = self._pool.submit(self._run_task, key, flight)
        future.add_done_callback(_log_crash)

    def _accept_command(self, command: AgentCommand, receipt: str) -> None:
        """Commands get no Step Functions answer: the message is deleted once handled."""
        if self._handle_command is None:
            log.error("no handler for %s commands; message returned to the queue", command.kind)
            self._change_visibility(receipt, 0)
            return
        with self._lock:
            busy = any(f.task.user_id == command.user_id for f in self._in_flight.values())
        if busy:
            log.info("%s for %s waits for its task in flight", command.kind, command.user_id[:12])
            self._change_visibility(receipt, COMMAND_RETRY_SECONDS)
            return
        future: Future[None] = self._pool.submit(
            self._run_command, self._handle_command, command, receipt
        )
        future.add_done_callback(_log_crash)

    def _run_command(
        self, handle: Callable[[AgentCommand], Any], command: AgentCommand, receipt: str
    ) -> None:
        try:
            handle(command)
        except Exception:
            # Kept: the message comes back after the visibility timeout (DLQ after the limit).
            log.exception("%s for %s failed", command.kind, command.user_id[:12])
            return
        self._delete(receipt)

    def _run_task(self, key: str, flight: _InFlight) -> None:
        task = flight.task
        beat = threading.Thread(
            target=self._heartbeat, args=(flight,), name=f"beat-{key}", daemon=True
        )
        beat.start()
        try:
            self._events.step_started(task)
            try:
                value = self._handle(task)
            except StepError as exc:
                self._fail(flight, exc.error_code, str(exc))
            except Exception as exc:
                log.exception("step %s failed unexpectedly", key)
                self._fail(flight, UNEXPECTED_ERROR, f"{type(exc).__name__}: {exc}")
            else:
                self._succeed(flight, value)
        finally:
            flight.stop_heartbeat.set()
            with self._lock:
                self._in_flight.pop(key, None)

    def _succeed(self, flight: _InFlight, value: Any) -> None:
        task = flight.task
        output = value if isinstance(value, dict) else {AGENT_RESULT_FIELD[task.step]: value}
        self._events.step_succeeded(task, output)
        self._answer("send_task_success", flight, output=json.dumps(value))

    def _fail(self, flight: _InFlight, error: str, cause: str) -> None:
        self._events.step_failed(flight.task, error, cause)
        self._answer("send_task_failure", flight, error=error[:256], cause=cause[:32768])

    def _answer(self, call: str, flight: _InFlight, **kwargs: Any) -> None:
        from botocore.exceptions import ClientError

        try:
            getattr(aws.client("stepfunctions"), call)(taskToken=flight.task.task_token, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}:
                raise  # keep the message: it comes back and is answered again
            log.warning(
                "task %s already ended (%s); dropping its message", flight.task.task_id, code
            )
        self._delete(flight.receipt_handle)

    # ------------------------------------------------------------------ housekeeping

    def _heartbeat(self, flight: _InFlight) -> None:
        while not flight.stop_heartbeat.wait(self._heartbeat_seconds):
            try:
                aws.client("stepfunctions").send_task_heartbeat(taskToken=flight.task.task_token)
            except Exception:
                log.warning("heartbeat failed for %s", flight.task.task_id, exc_info=True)
            self._change_visibility(flight.receipt_handle, self._visibility_seconds)

    def _change_visibility(self, receipt: str, seconds: int) -> None:
        try:
            aws.client("sqs").change_message_visibility(
                QueueUrl=self._queue_url, ReceiptHandle=receipt, VisibilityTimeout=seconds
            )
        except Exception:
            log.warning("could not change message visibility", exc_info=True)

    def _delete(self, receipt: str) -> None:
        try:
            aws.client("sqs").delete_message(QueueUrl=self._queue_url, ReceiptHandle=receipt)
        except Exception:
            log.warning("could not delete a finished task's message", exc_info=True)
