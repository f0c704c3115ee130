"""The agent's task ledger: one claim per (execution_id, step, attempt) in the one table.

SQS delivers at least once, and a task's message comes back after a crash or when its
visibility runs out. The claim decides what a delivery does, so a step never runs twice while
its first run is alive, and a step that was answered is answered the same way again.

The claim (key :func:`tmux_builder.keys.task_claim`) is written with ``attribute_not_exists``
by the first agent to take the task. It holds:

- ``holder``: who runs it, ``{agent_id}/{incarnation}`` (a restarted agent is a new holder);
- ``lease_until``: epoch milliseconds; the holder renews it with the message's visibility
  while the step runs, and sets it to 0 when it hands the task back;
- ``token_digest``: SHA-256 of the task token (the token itself answers the task: not stored);
- ``state``: ``running``, ``succeeded`` or ``failed``, with ``output`` (the JSON Step Functions
  got) or ``error`` and ``cause``;
- ``claimed_at``, ``answered_at``, ``takeovers`` and ``expiration`` (TTL: 14 days, Step
  Functions' redrive window).

What a delivery finds (:meth:`TaskLedger.claim`):

- no claim: it is written, the step runs (:attr:`ClaimState.NEW`);
- an answer: Step Functions gets the same answer again (:attr:`ClaimState.ANSWERED`);
- a live lease of another holder: the delivery waits until the lease ends (:attr:`ClaimState.HELD`);
- a lease that ended (its holder died or handed the task back): taken over with an update
  conditioned on that exact holder and lease, so of two agents only one wins
  (:attr:`ClaimState.TAKEN_OVER`). For an AI step the engine still refuses to paste a prompt its
  CLI session already took.

A claim with a different token digest is a new task under the same key (a redriven execution):
an answered one is claimed afresh. Leases compare epoch times across hosts: clocks must be
synchronized (NTP) to well under the lease.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tmux_builder import aws, keys
from tmux_builder.contracts import utc_now_iso

if TYPE_CHECKING:
    from tmux_builder.contracts import AgentTask

log = logging.getLogger(__name__)

CLAIM_TTL_SECONDS = 14 * 24 * 3600
_CONDITION_FAILED = "ConditionalCheckFailedException"
_MAX_CLAIM_ROUNDS = 3
# Step Functions limits (error name, cause); the ledger keeps what was sent.
MAX_ERROR_CHARS = 256
MAX_CAUSE_CHARS = 32768


class LedgerUnavailable(RuntimeError):
    """The table did not answer (or answered something else than a failed condition)."""


class ClaimState(StrEnum):
    NEW = "new"
    TAKEN_OVER = "taken_over"
    ANSWERED = "answered"
    HELD = "held"


@dataclass(frozen=True)
class Outcome:
    """What Step Functions is told about a step: ``output`` (JSON) or ``error`` and ``cause``."""

    output: str | None = None
    error: str = ""
    cause: str = ""

    @classmethod
    def success(cls, output_json: str) -> Outcome:
        return cls(output=output_json)

    @classmethod
    def failure(cls, error: str, cause: str) -> Outcome:
        return cls(error=error[:MAX_ERROR_CHARS], cause=cause[:MAX_CAUSE_CHARS])

    @property
    def succeeded(self) -> bool:
        return self.output is not None


@dataclass(frozen=True)
class Claim:
    """What one delivery of a task found in the ledger."""

    state: ClaimState
    holder: str = ""
    outcome: Outcome | None = None
    # HELD: seconds until the holder's lease ends.
    lease_left: float = 0.0

    @property
    def runs(self) -> bool:
        """Whether this delivery runs the step."""
        return self.state in (ClaimState.NEW, ClaimState.TAKEN_OVER)


def token_digest(task_token: str) -> str:
    return hashlib.sha256(task_token.encode()).hexdigest()


class TaskLedger:
    """Claims, leases and answers of agent steps, for one agent process.

    Parameters
    ----------
    table:
        The one table (``TMUX_BUILDER_TABLE``).
    agent_id:
        This agent host's id; the holder adds a random incarnation to it.
    lease_seconds:
        How long a claim stays live without renewal (the message's visibility).
    clock:
        Epoch seconds (tests pass their own).
    """

    def __init__(
        self,
        table: str,
        agent_id: str,
        lease_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table = table
        self.holder = f"{agent_id}/{secrets.token_hex(4)}"
        self.agent_id = agent_id
        self.lease_seconds = lease_seconds
        self._clock = clock

    # ------------------------------------------------------------------ decisions

    def claim(self, task: AgentTask) -> Claim:
        """Decide whether this delivery runs the step (see the module doc).

        Raises :class:`LedgerUnavailable` when the table cannot be read or written.
        """
        digest = token_digest(task.task_token)
        for _ in range(_MAX_CLAIM_ROUNDS):
            if self._put_new(task, digest):
                return Claim(ClaimState.NEW, self.holder)
            item = self._get(task)
            if item is None:  # expired and deleted between the two calls
                continue
            state = item["state"]["S"]
            holder = item["holder"]["S"]
            lease_until = int(item["lease_until"]["N"])
            if state != "running" and item["token_digest"]["S"] == digest:
                return Claim(ClaimState.ANSWERED, holder, _outcome(item))
            left = lease_until / 1000 - self._clock()
            if state == "running" and left > 0:
                return Claim(ClaimState.HELD, holder, lease_left=left)
            if self._take_over(task, digest, holder, lease_until, state):
                log.warning("took over %s from %s (its lease ended)", _describe(task), holder)
                return Claim(ClaimState.TAKEN_OVER, self.holder)
        raise LedgerUnavailable(f"the claim on {_describe(task)} kept changing under us")

    def renew(self, task: AgentTask) -> bool:
        """Extend this holder's lease; False if the claim is no longer ours."""
        return self._update_own(
            task,
            "SET lease_until = :lease",
            {":lease": _n(self._lease_until())},
        )

    def record(self, task: AgentTask, outcome: Outcome) -> bool:
        """Store the answer (before Step Functions gets it); False if the claim is not ours."""
        values: dict[str, Any] = {
            ":state": _s("succeeded" if outcome.succeeded else "failed"),
            ":at": _s(utc_now_iso()),
            ":zero": _n(0),
        }
        if outcome.output is not None:
            update = "SET #state = :state, answered_at = :at, lease_until = :zero, #output = :out"
            values[":out"] = _s(outcome.output)
        else:
            update = (
                "SET #state = :state, answered_at = :at, lease_until = :zero, "
                "#error = :error, #cause = :cause"
            )
            values[":error"] = _s(outcome.error)
            values[":cause"] = _s(outcome.cause)
        return self._update_own(task, update, values)

    def release(self, task: AgentTask) -> bool:
        """End this holder's lease at once (the task is handed back unanswered)."""
        return self._update_own(task, "SET lease_until = :zero", {":zero": _n(0)})

    # ------------------------------------------------------------------ table calls

    def _lease_until(self) -> int:
        return int((self._clock() + self.lease_seconds) * 1000)

    def _put_new(self, task: AgentTask, digest: str) -> bool:
        now = self._clock()
        item = {
            **{name: _s(value) for name, value in keys.task_claim(*_key(task)).items()},
            "holder": _s(self.holder),
            "agent_id": _s(self.agent_id),
            "lease_until": _n(self._lease_until()),
            "token_digest": _s(digest),
            "state": _s("running"),
            "claimed_at": _s(utc_now_iso()),
            "takeovers": _n(0),
            keys.EXPIRES_AT: _n(int(now) + CLAIM_TTL_SECONDS),
        }
        return self._conditional(
            "put_item", Item=item, ConditionExpression=f"attribute_not_exists({keys.PK})"
        )

    def _get(self, task: AgentTask) -> dict[str, Any] | None:
        try:
            answer = aws.client("dynamodb").get_item(
                TableName=self.table, Key=_typed_key(task), ConsistentRead=True
            )
        except Exception as error:
            raise LedgerUnavailable(f"could not read the claim on {_describe(task)}") from error
        item: dict[str, Any] | None = answer.get("Item")
        return item

    def _take_over(
        self, task: AgentTask, digest: str, holder: str, lease_until: int, state: str
    ) -> bool:
        """Replace exactly the claim we read; False if someone else changed it first."""
        return self._conditional(
            "update_item",
            Key=_typed_key(task),
            UpdateExpression=(
                "SET holder = :me, agent_id = :agent, lease_until = :lease, #state = :running, "
                "token_digest = :digest, claimed_at = :at ADD takeovers :one "
                "REMOVE #output, #error, #cause, answered_at"
            ),
            ConditionExpression=(
                "holder = :old AND lease_until = :old_lease AND #state = :old_state"
            ),
            ExpressionAttributeNames={
                "#state": "state",
                "#output": "output",
                "#error": "error",
                "#cause": "cause",
            },
            ExpressionAttributeValues={
                ":me": _s(self.holder),
                ":agent": _s(self.agent_id),
                ":lease": _n(self._lease_until()),
                ":running": _s("running"),
                ":digest": _s(digest),
                ":at": _s(utc_now_iso()),
                ":one": _n(1),
                ":old": _s(holder),
                ":old_lease": _n(lease_until),
                ":old_state": _s(state),
            },
        )

    def _update_own(self, task: AgentTask, update: str, values: dict[str, Any]) -> bool:
        names = {"#state": "state"}
        for name in ("output", "error", "cause"):
            if f"#{name}" in update:
                names[f"#{name}"] = name
        try:
            return self._conditional(
                "update_item",
                Key=_typed_key(task),
                UpdateExpression=update,
                ConditionExpression="holder = :me AND #state = :running",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    **values,
                    ":me": _s(self.holder),
                    ":running": _s("running"),
                },
            )
        except LedgerUnavailable:
            log.warning("could not update the claim on %s", _describe(task), exc_info=True)
            return False

    def _conditional(self, call: str, **kwargs: Any) -> bool:
        """Run a conditional write; False when its condition failed."""
        from botocore.exceptions import ClientError

        try:
            getattr(aws.client("dynamodb"), call)(TableName=self.table, **kwargs)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == _CONDITION_FAILED:
                return False
            raise LedgerUnavailable(f"{call} on the task ledger failed: {error}") from error
        except Exception as error:
            raise LedgerUnavailable(f"{call} on the task ledger failed: {error}") from error
        return True


def _key(task: AgentTask) -> tuple[str, str, int]:
    return task.execution_id, task.step.value, task.attempt


def _typed_key(task: AgentTask) -> dict[str, Any]:
    return {name: _s(value) for name, value in keys.task_claim(*_key(task)).items()}


def _describe(task: AgentTask) -> str:
    return f"{task.execution_id}/{task.step.value}/{task.attempt}"


def _outcome(item: dict[str, Any]) -> Outcome:
    if item["state"]["S"] == "succeeded":
        return Outcome.success(item["output"]["S"])
    return Outcome.failure(item.get("error", {}).get("S", ""), item.get("cause", {}).get("S", ""))


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}
