"""The agent's queue consumer: long-poll SQS, run tasks concurrently, answer Step Functions.

One message, one job on its own thread (up to ``concurrency`` at a time). For a task:

1. The task ledger (:mod:`agent.task_ledger`) decides what this delivery does: run the step,
   answer Step Functions again with the answer it recorded, or wait while another live agent
   holds the step's lease (the message comes back when that lease ends). A duplicate delivery
   never runs a step twice.
2. While the step runs, its message stays invisible and its lease live: both are extended every
   third of ``visibility_seconds`` (30 s by default, so a dead agent's task is taken up again
   within 30 s). ``SendTaskHeartbeat`` goes out every ``heartbeat_seconds`` (20 s), well inside
   the state machine's HeartbeatSeconds (120 s).
3. The answer is recorded in the ledger, reported to the control plane, sent to Step Functions
   (``SendTaskFailure`` with the step's error code and a readable cause), and only then is the
   message deleted. If this process dies first, the message comes back and the ledger decides.

An unreadable message is made visible again at once, so the queue's redrive policy moves it to
the dead-letter queue after ``maxReceiveCount`` deliveries instead of blocking for its timeout.
Every receive counts toward that limit, a held one too: a copy of a step that another agent runs
comes back once per lease (30 s) and can reach the DLQ during a long step. That is harmless (the
holder has its own copy, and Step Functions' heartbeat timeout catches a holder that dies).

The same queues carry the control plane's commands (:class:`AgentCommand`, e.g. teardown of a
user, sent to every live host's own queue, or to the shared queue when none is registered):
they have no task token, are handed to ``handle_command``, and their message is deleted once
handled; one for a user whose task is still running waits until the task is done.

With many agent hosts (:mod:`agent.takeover`), a :class:`~agent.takeover.SessionGate` is asked
before a task runs: a task of a session another live host owns is forwarded to that host's own
queue (unrun, its message deleted here), and a new session reaching a full host is offered to
the others first. An agent runs one consumer on the shared queue and one on its own queue.

Stopping (:meth:`Consumer.stop`, on SIGTERM): no new message is taken; jobs in flight get
``grace_seconds`` to finish; what is still running then is handed back (its lease released, its
message visible at once, so another agent takes it) and :meth:`Consumer.run` returns. Jobs run on
daemon threads, so a handed-back step cannot keep the process alive.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from agent.errors import StepError
from agent.task_ledger import Claim, ClaimState, LedgerUnavailable, Outcome
from tmux_builder import aws
from tmux_builder.contracts import AgentCommand, AgentTask, parse_agent_message
from tmux_builder.pipeline import AGENT_RESULT_FIELD

if TYPE_CHECKING:
    from agent.events import EventPublisher
    from agent.takeover import SessionGate
    from agent.task_ledger import TaskLedger

log = logging.getLogger(__name__)

# Step Functions error name for a failure the agent did not anticipate.
UNEXPECTED_ERROR = "AgentError"
# A command for a user with a task in flight waits this long (it would pull the folder from
# under a running AI turn).
COMMAND_RETRY_SECONDS = 30
# A task whose claim could not be checked (the table did not answer) comes back after this.
LEDGER_RETRY_SECONDS = 15
# A delivery of a step another agent holds comes back this long after that agent's lease ends.
LEASE_MARGIN_SECONDS = 2
# Step Functions' answers for a token whose task is already over (answered, timed out, stopped).
_TASK_OVER = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
_MAX_VISIBILITY_SECONDS = 12 * 3600


class _Job:
    """One message being worked on (a task or a command), with every receipt of its deliveries."""

    def __init__(
        self,
        key: str,
        receipt: str,
        task: AgentTask | None = None,
        command: AgentCommand | None = None,
    ) -> None:
        self.key = key
        self.task = task
        self.command = command
        self.receipts = [receipt]
        self.done = threading.Event()
        # Held while answering or handing back: exactly one of the two happens.
        self.lock = threading.Lock()
        self.answered = False
        self.handed_back = False
        self.body = ""
        self.receive_count = 1

    @property
    def user_id(self) -> str:
        if self.task is not None:
            return self.task.user_id
        assert self.command is not None
        return self.command.user_id


class _Workers:
    """One daemon thread per job: a step handed back at shutdown must not keep the process up."""

    def __init__(self) -> None:
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def submit(self, name: str, work: Callable[[], None]) -> None:
        thread = threading.Thread(target=self._run, args=(work,), name=name, daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _run(self, work: Callable[[], None]) -> None:
        try:
            work()
        except Exception as error:  # its own errors are answered; this is a bug
            log.exception("job crashed: %r", error)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> None:
        if not wait:
            return
        with self._lock:
            threads = list(self._threads)
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))


class Consumer:
    """Long-polls the agent queue until :meth:`stop`.

    Parameters
    ----------
    queue_url:
        The agent queue.
    handle:
        Runs one step and returns what Step Functions stores at the step's ResultPath; raises
        :class:`StepError` for a failure the state machine should see by name.
    events:
        Reports step progress to the control plane.
    ledger:
        The task ledger; None only where duplicates cannot happen (commands-only tests).
    concurrency:
        Jobs at a time.
    heartbeat_seconds:
        Between two ``SendTaskHeartbeat`` calls of a running step.
    visibility_seconds:
        Visibility (and lease) of a running job's message; extended every third of it.
    wait_seconds:
        Long-poll wait of one receive.
    grace_seconds:
        After :meth:`stop`, how long jobs in flight may still finish before they are handed back.
    gate:
        Decides whether a task's session runs on this host (None: every task runs here).
    shared:
        Whether ``queue_url`` is the shared queue (else this host's own queue).
    handle_command:
        Runs a control-plane command (idempotent).
    """

    def __init__(
        self,
        queue_url: str,
        handle: Callable[[AgentTask], Any],
        events: EventPublisher,
        concurrency: int = 4,
        heartbeat_seconds: float = 20.0,
        visibility_seconds: int = 30,
        wait_seconds: int = 5,
        handle_command: Callable[[AgentCommand], Any] | None = None,
        *,
        ledger: TaskLedger | None = None,
        grace_seconds: float = 60.0,
        gate: SessionGate | None = None,
        shared: bool = True,
    ) -> None:
        self._queue_url = queue_url
        self._gate = gate
        self._shared = shared
        self._handle = handle
        self._handle_command = handle_command
        self._events = events
        self._ledger = ledger
        self._concurrency = max(1, concurrency)
        self._heartbeat_seconds = heartbeat_seconds
        self._visibility_seconds = visibility_seconds
        self._wait_seconds = wait_seconds
        self._grace_seconds = grace_seconds
        self._pool = _Workers()
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()
        self._jobs_changed = threading.Condition(self._lock)
        self._stopping = threading.Event()

    # ------------------------------------------------------------------ loop

    def run(self) -> None:
        """Poll until :meth:`stop`; then let jobs finish or hand them back (see module doc)."""
        sqs = aws.client("sqs")
        while not self._stopping.is_set():
            free = self._concurrency - self.in_flight()
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
                if self._stopping.is_set():  # arrived with the signal: straight back
                    self._change_visibility(message["ReceiptHandle"], 0)
                else:
                    self._accept(message)
        self._drain()

    def stop(self) -> None:
        """Stop taking work; :meth:`run` returns once jobs finished or were handed back."""
        self._stopping.set()

    def in_flight(self) -> int:
        with self._lock:
            return len(self._jobs)

    def _drain(self) -> None:
        with self._jobs_changed:
            self._jobs_changed.wait_for(lambda: not self._jobs, timeout=self._grace_seconds)
            left = list(self._jobs.values())
        for job in left:
            self._hand_back(job)
        if left:
            log.warning(
                "handed back %d job(s) still running after %g s: %s",
                len(left),
                self._grace_seconds,
                ", ".join(job.key for job in left),
            )

    def _hand_back(self, job: _Job) -> None:
        """Release the lease, then make the message visible: the next agent takes it at once."""
        with job.lock:
            if job.answered:
                return
            job.handed_back = True
        job.done.set()
        if job.task is not None and self._ledger is not None:
            self._ledger.release(job.task)
        for receipt in self._receipts(job):
            self._change_visibility(receipt, 0)
        self._forget(job)

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
            self._accept_command(parsed, receipt, message.get("MessageId", receipt))
            return
        task = parsed
        key = f"{task.execution_id}/{task.step.value}/{task.attempt}"
        with self._lock:
            running = self._jobs.get(key)
            if running is not None:
                # Another delivery of a step this process runs: keep it invisible with the first,
                # and delete it with the first once answered.
                log.info("duplicate delivery of %s while it runs; held with it", key)
                running.receipts.append(receipt)
                return
            job = _Job(key, receipt, task=task)
            job.body = message["Body"]
            job.receive_count = int(
                message.get("Attributes", {}).get("ApproximateReceiveCount", "1")
            )
            self._jobs[key] = job
        self._pool.submit(f"task-{key}", lambda: self._run_task(job))

    def _accept_command(self, command: AgentCommand, receipt: str, message_id: str) -> None:
        """Commands get no Step Functions answer: the message is deleted once handled."""
        if self._handle_command is None:
            log.error("no handler for %s commands; message returned to the queue", command.kind)
            self._change_visibility(receipt, 0)
            return
        job = _Job(f"command/{message_id}", receipt, command=command)
        with self._lock:
            busy = any(j.task is not None and j.user_id == job.user_id for j in self._jobs.values())
            if not busy:
                self._jobs[job.key] = job
        if busy:
            log.info("%s for %s waits for its task in flight", command.kind, command.user_id[:12])
            self._change_visibility(receipt, COMMAND_RETRY_SECONDS)
            return
        self._pool.submit(f"command-{command.user_id[:12]}", lambda: self._run_command(job))

    def _run_command(self, job: _Job) -> None:
        assert self._handle_command is not None and job.command is not None
        command = job.command
        self._keep_alive(job)
        try:
            self._handle_command(command)
        except Exception:
            # Kept: the message comes back after the visibility timeout (DLQ after the limit).
            log.exception("%s for %s failed", command.kind, command.user_id[:12])
            return
        else:
            with job.lock:
                if not job.handed_back:
                    job.answered = True
                    self._delete_all(job)
        finally:
            job.done.set()
            self._forget(job)

    def _run_task(self, job: _Job) -> None:
        assert job.task is not None
        task = job.task
        try:
            if self._gate is not None and not self._admitted(job):
                return
            claim = self._claim(job)
            if claim is None:
                return
            if job.handed_back:  # stopped while claiming
                if claim.runs and self._ledger is not None:
                    self._ledger.release(task)
                return
            if claim.state is ClaimState.ANSWERED:
                assert claim.outcome is not None
                log.info("%s was answered before; answering the same again", job.key)
                with job.lock:
                    if not job.handed_back:
                        self._answer(job, claim.outcome)
                return
            if claim.state is ClaimState.HELD:
                log.info(
                    "%s runs on %s (lease %.0f s left); the message waits",
                    job.key,
                    claim.holder,
                    claim.lease_left,
                )
                self._set_visibility(job, int(claim.lease_left) + LEASE_MARGIN_SECONDS)
                return
            self._keep_alive(job)
            self._events.step_started(task)
            outcome = self._execute(task)
            with job.lock:
                if job.handed_back:
                    self._record_late(job, outcome)
                    return
                self._answer(job, outcome, recorded=False)
        finally:
            job.done.set()
            self._forget(job)

    def _admitted(self, job: _Job) -> bool:
        """Whether the task runs here; else it was forwarded to its owner or comes back later."""
        from agent.takeover import MessageActions, forward_task, settle_admission

        assert self._gate is not None and job.task is not None
        task = job.task
        admission = self._gate.admit(
            session_id=task.session_id,
            user_id=task.user_id,
            chat=False,
            site=task.state.site,
            from_shared=self._shared,
            receive_count=job.receive_count,
        )

        def forwarded() -> None:
            with job.lock:
                job.answered = True
                self._delete_all(job)

        return settle_admission(
            admission,
            self._queue_url,
            MessageActions(
                what=job.key,
                forward=lambda queue_url: forward_task(queue_url, job.body),
                forwarded=forwarded,
                later=lambda seconds: self._set_visibility(job, seconds),
                retry_seconds=LEDGER_RETRY_SECONDS,
            ),
        )

    def _claim(self, job: _Job) -> Claim | None:
        """The ledger's decision; None (and the message back later) if it cannot be read."""
        assert job.task is not None
        if self._ledger is None:
            return Claim(ClaimState.NEW)
        try:
            return self._ledger.claim(job.task)
        except LedgerUnavailable:
            log.exception("no claim on %s; it comes back in %d s", job.key, LEDGER_RETRY_SECONDS)
            self._set_visibility(job, LEDGER_RETRY_SECONDS)
            return None

    def _execute(self, task: AgentTask) -> Outcome:
        try:
            return Outcome.success(json.dumps(self._handle(task)))
        except StepError as exc:
            return Outcome.failure(exc.error_code, str(exc))
        except Exception as exc:
            log.exception("step %s failed unexpectedly", task.task_id)
            return Outcome.failure(UNEXPECTED_ERROR, f"{type(exc).__name__}: {exc}")

    def _record_late(self, job: _Job, outcome: Outcome) -> None:
        """A step that finished after it was handed back: its answer waits in the ledger.

        Unless another agent took the claim over meanwhile, the next delivery answers with it
        instead of running the step again.
        """
        assert job.task is not None
        kept = self._ledger is not None and self._ledger.record(job.task, outcome)
        log.warning(
            "%s finished after it was handed back; %s",
            job.key,
            "its answer is kept for the next delivery" if kept else "its answer is dropped",
        )

    # ------------------------------------------------------------------ answering

    def _answer(self, job: _Job, outcome: Outcome, recorded: bool = True) -> None:
        """Ledger, control plane, Step Functions, then the message: in that order."""
        assert job.task is not None
        task = job.task
        if not recorded and self._ledger is not None and not self._ledger.record(task, outcome):
            log.warning("%s: the claim is no longer ours; answering anyway", job.key)
        if outcome.output is not None:
            value = json.loads(outcome.output)
            output = value if isinstance(value, dict) else {AGENT_RESULT_FIELD[task.step]: value}
            self._events.step_succeeded(task, output)
            call, kwargs = "send_task_success", {"output": outcome.output}
        else:
            self._events.step_failed(task, outcome.error, outcome.cause)
            call, kwargs = "send_task_failure", {"error": outcome.error, "cause": outcome.cause}
        if self._send_answer(task, call, kwargs):
            job.answered = True
            self._delete_all(job)

    def _send_answer(self, task: AgentTask, call: str, kwargs: dict[str, Any]) -> bool:
        """True when Step Functions has the answer (or the task is over anyway)."""
        from botocore.exceptions import ClientError

        try:
            getattr(aws.client("stepfunctions"), call)(taskToken=task.task_token, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in _TASK_OVER:
                # The answer is in the ledger: the message comes back and is answered again.
                log.exception("%s for %s failed; the message comes back", call, task.task_id)
                return False
            log.warning("task %s already ended (%s); dropping its message", task.task_id, code)
        except Exception:
            log.exception("%s for %s failed; the message comes back", call, task.task_id)
            return False
        return True

    # ------------------------------------------------------------------ keeping a job alive

    def _keep_alive(self, job: _Job) -> None:
        """Extend visibility and lease every third of the visibility; heartbeat when due."""
        threading.Thread(
            target=self._keeper, args=(job,), name=f"keep-{job.key}", daemon=True
        ).start()

    def _keeper(self, job: _Job) -> None:
        tick = max(0.05, min(self._visibility_seconds / 3, self._heartbeat_seconds))
        next_beat = time.monotonic() + self._heartbeat_seconds
        lease_lost = False
        while not job.done.wait(tick):
            self._set_visibility(job, self._visibility_seconds)
            if job.task is None:
                continue
            if self._ledger is not None and not lease_lost and not self._ledger.renew(job.task):
                lease_lost = True
                log.warning("%s: lost its lease (another agent took the step over)", job.key)
            if time.monotonic() >= next_beat:
                next_beat += self._heartbeat_seconds
                self._heartbeat(job.task)

    def _heartbeat(self, task: AgentTask) -> None:
        try:
            aws.client("stepfunctions").send_task_heartbeat(taskToken=task.task_token)
        except Exception:
            log.warning("heartbeat failed for %s", task.task_id, exc_info=True)

    # ------------------------------------------------------------------ housekeeping

    def _forget(self, job: _Job) -> None:
        with self._jobs_changed:
            if self._jobs.get(job.key) is job:
                del self._jobs[job.key]
            self._jobs_changed.notify_all()

    def _receipts(self, job: _Job) -> list[str]:
        with self._lock:
            return list(job.receipts)

    def _set_visibility(self, job: _Job, seconds: int) -> None:
        for receipt in self._receipts(job):
            self._change_visibility(receipt, seconds)

    def _delete_all(self, job: _Job) -> None:
        for receipt in self._receipts(job):
            self._delete(receipt)

    def _change_visibility(self, receipt: str, seconds: int) -> None:
        try:
            aws.client("sqs").change_message_visibility(
                QueueUrl=self._queue_url,
                ReceiptHandle=receipt,
                VisibilityTimeout=max(0, min(seconds, _MAX_VISIBILITY_SECONDS)),
            )
        except Exception:
            log.warning("could not change message visibility", exc_info=True)

    def _delete(self, receipt: str) -> None:
        try:
            aws.client("sqs").delete_message(QueueUrl=self._queue_url, ReceiptHandle=receipt)
        except Exception:
            log.warning("could not delete a finished job's message", exc_info=True)
