"""Session leases: which agent host owns a user's session, kept alive while the host lives.

A user's tmux session, working copy and CLI transcript live on one agent host, so every task
and chat message of a session must reach that host. The first agent to take a session's work
from the shared queue writes itself into the session's lease (key
:func:`tmux_builder.keys.session_lease`), with its own queues and an expiry it keeps pushing
forward (:class:`LeaseKeeper`, every third of ``lease_seconds``). The control plane routes the
session's later work to ``queue_url`` / ``chat_queue_url`` while the lease is live
(:mod:`control_plane.routing`); when a host stops renewing, its leases expire and the next
agent to get the session's work takes it over (:attr:`LeaseState.TAKEN_OVER`).

Every write is conditional, so of two agents racing for a session exactly one wins:

- no lease: ``attribute_not_exists`` (:attr:`LeaseState.NEW`);
- our own lease (this host, maybe a restarted process): ``owner = me`` (:attr:`LeaseState.KEPT`);
- another host's expired lease: conditioned on that exact owner and expiry
  (:attr:`LeaseState.TAKEN_OVER`);
- another host's live lease: :class:`LeaseHeld`, nothing written; the work goes to its owner.

The owner is the agent id (stable across restarts of the agent process on the same host), not
the process: a restarted agent keeps its sessions, which are still in its tmux server.

:class:`AgentRegistry` is the host's own lease (``AGENTS`` / ``AGENT#{agent_id}``), naming its
queues; the queues of a host whose registration expired are drained by the others
(:mod:`agent.takeover`). :class:`AgentQueues` creates this host's queues at start and deletes
them at a clean shutdown. Lease times are epoch milliseconds compared across hosts: clocks must
be synchronized (NTP) to well under ``lease_seconds``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tmux_builder import aws, keys
from tmux_builder.contracts import utc_now_iso
from tmux_builder.session_lease import SessionLease

if TYPE_CHECKING:
    from tmux_builder.contracts import SiteSpec

log = logging.getLogger(__name__)

_CONDITION_FAILED = "ConditionalCheckFailedException"
_MAX_ROUNDS = 4
# A lease or registration nobody renewed for this long after it expired is deleted by the TTL.
_TTL_AFTER_EXPIRY_SECONDS = 14 * 24 * 3600
# The agent's own queues: ``{shared queue}-host-{agent_id}`` (tasks) and ``...-chat.fifo``. The
# agent's IAM policy allows creating and deleting queues named ``{shared queue}-host-*`` only
# (``tmux-builder-agent-tasks-host-*``), which never matches a shared queue.
OWN_QUEUE_INFIX = "-host-"
_QUEUE_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class LeaseState(StrEnum):
    NEW = "new"
    KEPT = "kept"
    TAKEN_OVER = "taken_over"


class LeaseUnavailable(RuntimeError):
    """The table did not answer, or the lease kept changing under us."""


class LeaseHeld(Exception):
    """Another live agent host owns the session; its work goes to ``lease.queue_url``."""

    def __init__(self, lease: SessionLease) -> None:
        super().__init__(
            f"session {lease.session_id} is leased to {lease.owner} "
            f"for {lease.seconds_left(time.time()):.0f} s more"
        )
        self.lease = lease


class AtCapacity(Exception):
    """Not taking a new session: this host holds ``max_sessions`` (another host should)."""


@dataclass(frozen=True)
class Acquired:
    """What :meth:`SessionLeases.acquire` did; ``previous`` is the lease it replaced."""

    state: LeaseState
    lease: SessionLease
    previous: SessionLease | None = None

    @property
    def moved_here(self) -> bool:
        """The session was another host's: its working copy here is missing or stale."""
        return (
            self.state is LeaseState.TAKEN_OVER
            and self.previous is not None
            and self.previous.owner != self.lease.owner
        )


def own_queue_names(shared_queue_url: str, agent_id: str) -> tuple[str, str]:
    """(task queue, chat FIFO queue) names of one agent host, next to the shared queue."""
    shared = shared_queue_url.rstrip("/").rsplit("/", 1)[-1]
    safe = _QUEUE_NAME_UNSAFE.sub("-", agent_id)[:40] or "agent"
    base = f"{shared}{OWN_QUEUE_INFIX}{safe}"
    return base, f"{base}-chat.fifo"


# --------------------------------------------------------------------------- the leases


class SessionLeases:
    """The leases this agent host holds, and how it takes new ones.

    Parameters
    ----------
    table:
        The one table.
    agent_id:
        This host's id (the lease owner).
    queue_url, chat_queue_url:
        This host's own queues: where the session's later work is routed.
    lease_seconds:
        How long a lease stays live without renewal.
    clock:
        Epoch seconds (tests pass their own).
    """

    def __init__(
        self,
        table: str,
        agent_id: str,
        queue_url: str,
        chat_queue_url: str,
        lease_seconds: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table = table
        self.agent_id = agent_id
        self.queue_url = queue_url
        self.chat_queue_url = chat_queue_url
        self.lease_seconds = lease_seconds
        self._clock = clock
        self._held: dict[str, str] = {}  # session id -> user id
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ reading

    def held(self) -> dict[str, str]:
        """Session id -> user id of every lease this host believes it holds."""
        with self._lock:
            return dict(self._held)

    def count(self) -> int:
        with self._lock:
            return len(self._held)

    def get(self, session_id: str) -> SessionLease | None:
        try:
            answer = aws.client("dynamodb").get_item(
                TableName=self.table,
                Key=_typed(keys.session_lease(session_id)),
                ConsistentRead=True,
            )
        except Exception as error:
            raise LeaseUnavailable(f"could not read the lease of {session_id}") from error
        item = answer.get("Item")
        return SessionLease.from_typed_item(item) if item else None

    # ------------------------------------------------------------------ taking

    def acquire(
        self,
        session_id: str,
        user_id: str,
        site: SiteSpec | None = None,
        *,
        allow_new: bool = True,
    ) -> Acquired:
        """Own the session (see the module doc).

        Raises :class:`LeaseHeld` (another live host owns it), :class:`AtCapacity` (no lease
        yet and ``allow_new`` is False) or :class:`LeaseUnavailable`.
        """
        site_json = site.model_dump_json() if site is not None else None
        site_dict = site.model_dump(mode="json") if site is not None else None
        for _ in range(_MAX_ROUNDS):
            current = self.get(session_id)
            if current is None:
                if not allow_new:
                    raise AtCapacity(f"holding {self.count()} session(s); {session_id} is new")
                if self._put_new(session_id, user_id, site_json):
                    return self._held_now(session_id, user_id, LeaseState.NEW, None, site_dict)
                continue
            if current.owner == self.agent_id:
                if self._extend(session_id, site_json, condition_owner=self.agent_id):
                    return self._held_now(session_id, user_id, LeaseState.KEPT, current, site_dict)
                continue
            if current.live(self._clock()):
                with self._lock:
                    self._held.pop(session_id, None)
                raise LeaseHeld(current)
            if self._take_over(session_id, user_id, site_json, current):
                log.warning(
                    "took over session %s from %s (its lease ended %.0f s ago)",
                    session_id,
                    current.owner,
                    -current.seconds_left(self._clock()),
                )
                return self._held_now(
                    session_id, user_id, LeaseState.TAKEN_OVER, current, site_dict
                )
        raise LeaseUnavailable(f"the lease of {session_id} kept changing under us")

    def _held_now(
        self,
        session_id: str,
        user_id: str,
        state: LeaseState,
        previous: SessionLease | None,
        site: dict[str, Any] | None = None,
    ) -> Acquired:
        with self._lock:
            self._held[session_id] = user_id
        lease = SessionLease(
            session_id=session_id,
            user_id=user_id,
            owner=self.agent_id,
            queue_url=self.queue_url,
            chat_queue_url=self.chat_queue_url,
            expires_at_ms=self._expiry(),
            site=site if site is not None else (previous.site if previous else None),
            previous_owner=previous.owner if previous is not None else "",
        )
        return Acquired(state, lease, previous)

    def renew_all(self) -> list[str]:
        """Push every held lease's expiry forward; returns the sessions lost to another host."""
        lost = []
        for session_id in self.held():
            try:
                kept = self._extend(session_id, None, condition_owner=self.agent_id)
            except LeaseUnavailable:
                log.warning("could not renew the lease of %s", session_id, exc_info=True)
                continue
            if not kept:
                lost.append(session_id)
                with self._lock:
                    self._held.pop(session_id, None)
                log.warning(
                    "lost the lease of session %s (another host took it, or the site was deleted)",
                    session_id,
                )
        return lost

    def release(self, session_id: str) -> bool:
        """End our lease now (its next work goes to the shared queue); False if not ours."""
        with self._lock:
            self._held.pop(session_id, None)
        return self._conditional(
            "update_item",
            Key=_typed(keys.session_lease(session_id)),
            UpdateExpression="SET expires_at = :zero, released_at = :at",
            ConditionExpression="#owner = :me",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={
                ":zero": _n(0),
                ":at": _s(utc_now_iso()),
                ":me": _s(self.agent_id),
            },
        )

    def release_user(self, user_id: str) -> list[str]:
        """Delete this host's leases on the user's sessions (the user was torn down).

        Why deleted, not expired like :meth:`release`: the sessions are gone, so no work may be
        routed to them any more. Each delete is conditioned on this host being the owner: a
        lease another host took over is never touched. Returns the sessions released.
        """
        released = []
        for session_id, owner_user in self.held().items():
            if owner_user != user_id:
                continue
            deleted = self._conditional(  # LeaseUnavailable: still held, the next try deletes
                "delete_item",
                Key=_typed(keys.session_lease(session_id)),
                ConditionExpression="#owner = :me",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":me": _s(self.agent_id)},
            )
            with self._lock:
                self._held.pop(session_id, None)
            if deleted:
                released.append(session_id)
        return released

    def release_all(self) -> int:
        released = 0
        for session_id in self.held():
            try:
                released += self.release(session_id)
            except LeaseUnavailable:
                log.warning("could not release the lease of %s", session_id, exc_info=True)
        return released

    # ------------------------------------------------------------------ table calls

    def _expiry(self) -> int:
        return int((self._clock() + self.lease_seconds) * 1000)

    def _ttl(self) -> int:
        return int(self._clock() + self.lease_seconds + _TTL_AFTER_EXPIRY_SECONDS)

    def _put_new(self, session_id: str, user_id: str, site_json: str | None) -> bool:
        item = {
            **_typed(keys.session_lease(session_id)),
            **_typed(keys.leases_index(session_id)),
            "session_id": _s(session_id),
            "user_id": _s(user_id),
            "owner": _s(self.agent_id),
            "queue_url": _s(self.queue_url),
            "chat_queue_url": _s(self.chat_queue_url),
            "expires_at": _n(self._expiry()),
            "acquired_at": _s(utc_now_iso()),
            "renewed_at": _s(utc_now_iso()),
            "takeovers": _n(0),
            keys.EXPIRES_AT: _n(self._ttl()),
        }
        if site_json is not None:
            item["site"] = _s(site_json)
        return self._conditional(
            "put_item", Item=item, ConditionExpression=f"attribute_not_exists({keys.PK})"
        )

    def _extend(self, session_id: str, site_json: str | None, *, condition_owner: str) -> bool:
        update = (
            "SET expires_at = :exp, renewed_at = :at, queue_url = :q, chat_queue_url = :cq, "
            f"{keys.EXPIRES_AT} = :ttl"
        )
        values = {
            ":exp": _n(self._expiry()),
            ":at": _s(utc_now_iso()),
            ":q": _s(self.queue_url),
            ":cq": _s(self.chat_queue_url),
            ":ttl": _n(self._ttl()),
            ":me": _s(condition_owner),
        }
        if site_json is not None:
            update += ", site = :site"
            values[":site"] = _s(site_json)
        return self._conditional(
            "update_item",
            Key=_typed(keys.session_lease(session_id)),
            UpdateExpression=update,
            ConditionExpression="#owner = :me",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues=values,
        )

    def _take_over(
        self, session_id: str, user_id: str, site_json: str | None, old: SessionLease
    ) -> bool:
        update = (
            "SET #owner = :me, user_id = :user, queue_url = :q, chat_queue_url = :cq, "
            "expires_at = :exp, acquired_at = :at, renewed_at = :at, previous_owner = :old, "
            f"{keys.EXPIRES_AT} = :ttl ADD takeovers :one"
        )
        values = {
            ":me": _s(self.agent_id),
            ":user": _s(user_id),
            ":q": _s(self.queue_url),
            ":cq": _s(self.chat_queue_url),
            ":exp": _n(self._expiry()),
            ":at": _s(utc_now_iso()),
            ":old": _s(old.owner),
            ":old_exp": _n(old.expires_at_ms),
            ":ttl": _n(self._ttl()),
            ":one": _n(1),
        }
        if site_json is not None:
            update = update.replace(" ADD ", ", site = :site ADD ")
            values[":site"] = _s(site_json)
        return self._conditional(
            "update_item",
            Key=_typed(keys.session_lease(session_id)),
            UpdateExpression=update,
            ConditionExpression="#owner = :old AND expires_at = :old_exp",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues=values,
        )

    def _conditional(self, call: str, **kwargs: Any) -> bool:
        return _conditional(self.table, call, **kwargs)


# --------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Registration:
    agent_id: str
    queue_url: str
    chat_queue_url: str
    expires_at_ms: int

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Registration:
        return cls(
            agent_id=item["agent_id"]["S"],
            queue_url=item.get("queue_url", {}).get("S", ""),
            chat_queue_url=item.get("chat_queue_url", {}).get("S", ""),
            expires_at_ms=int(item["expires_at"]["N"]),
        )


class AgentRegistry:
    """This host's registration (its own lease on being alive) and the others' expired ones."""

    def __init__(
        self,
        table: str,
        agent_id: str,
        queue_url: str,
        chat_queue_url: str,
        lease_seconds: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table = table
        self.agent_id = agent_id
        self.queue_url = queue_url
        self.chat_queue_url = chat_queue_url
        self.lease_seconds = lease_seconds
        self._clock = clock

    def _expiry(self) -> int:
        return int((self._clock() + self.lease_seconds) * 1000)

    def register(self) -> None:
        """Announce this host (a restarted agent overwrites its own earlier registration)."""
        item = {
            **_typed(keys.agent_registration(self.agent_id)),
            "agent_id": _s(self.agent_id),
            "queue_url": _s(self.queue_url),
            "chat_queue_url": _s(self.chat_queue_url),
            "expires_at": _n(self._expiry()),
            "started_at": _s(utc_now_iso()),
            keys.EXPIRES_AT: _n(int(self._clock() + _TTL_AFTER_EXPIRY_SECONDS)),
        }
        _conditional(self.table, "put_item", Item=item)

    def renew(self) -> bool:
        """False when the registration is gone (another host swept it: register again)."""
        return _conditional(
            self.table,
            "update_item",
            Key=_typed(keys.agent_registration(self.agent_id)),
            UpdateExpression="SET expires_at = :exp",
            ConditionExpression=f"attribute_exists({keys.PK})",
            ExpressionAttributeValues={":exp": _n(self._expiry())},
        )

    def deregister(self) -> None:
        _conditional(
            self.table,
            "delete_item",
            Key=_typed(keys.agent_registration(self.agent_id)),
        )

    def expired(self, grace_seconds: float = 0.0) -> list[Registration]:
        """Other hosts whose registration ended more than ``grace_seconds`` ago."""
        try:
            answer = aws.client("dynamodb").query(
                TableName=self.table,
                KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames={"#pk": keys.PK},
                ExpressionAttributeValues={":pk": _s(keys.AGENTS_PARTITION)},
                ConsistentRead=True,
            )
        except Exception as error:
            raise LeaseUnavailable("could not list the agent registrations") from error
        limit_ms = (self._clock() - grace_seconds) * 1000
        found = [Registration.from_item(item) for item in answer.get("Items", [])]
        return [r for r in found if r.agent_id != self.agent_id and r.expires_at_ms < limit_ms]

    def remove(self, registration: Registration) -> bool:
        """Delete another host's registration if it is still the expired one we read."""
        return _conditional(
            self.table,
            "delete_item",
            Key=_typed(keys.agent_registration(registration.agent_id)),
            ConditionExpression="expires_at = :exp",
            ExpressionAttributeValues={":exp": _n(registration.expires_at_ms)},
        )


# --------------------------------------------------------------------------- own queues


class AgentQueues:
    """This host's own queues: made at start, deleted at a clean shutdown.

    The task queue is a standard queue like the shared one (redriven to the shared queue's
    dead-letter queue when that can be read); the chat queue is FIFO, one message group per
    session, like the shared chat queue.
    """

    def __init__(self, shared_queue_url: str, agent_id: str) -> None:
        self.shared_queue_url = shared_queue_url
        self.agent_id = agent_id
        self.names = own_queue_names(shared_queue_url, agent_id)
        self.queue_url = ""
        self.chat_queue_url = ""

    def create(self) -> AgentQueues:
        sqs = aws.client("sqs")
        tags = {
            "Project": "tmux-builder",
            "CreatedBy": "tmux-builder-automation",
            "AgentId": self.agent_id[:256],
        }
        attributes = {"VisibilityTimeout": "120", "MessageRetentionPeriod": "86400"}
        redrive = self._shared_redrive()
        if redrive:
            attributes["RedrivePolicy"] = redrive
        self.queue_url = sqs.create_queue(
            QueueName=self.names[0], Attributes=attributes, tags=tags
        )["QueueUrl"]
        self.chat_queue_url = sqs.create_queue(
            QueueName=self.names[1],
            Attributes={
                "FifoQueue": "true",
                "ContentBasedDeduplication": "false",
                "VisibilityTimeout": "300",
                "MessageRetentionPeriod": "86400",
            },
            tags=tags,
        )["QueueUrl"]
        return self

    def _shared_redrive(self) -> str:
        try:
            found = aws.client("sqs").get_queue_attributes(
                QueueUrl=self.shared_queue_url, AttributeNames=["RedrivePolicy"]
            )
        except Exception:
            log.info("no redrive policy for the own queue (shared queue not readable)")
            return ""
        return str(found.get("Attributes", {}).get("RedrivePolicy", ""))

    def delete(self) -> None:
        for url in (self.queue_url, self.chat_queue_url):
            if url:
                delete_queue(url)


def delete_queue(url: str) -> None:
    try:
        aws.client("sqs").delete_queue(QueueUrl=url)
    except Exception:
        log.warning("could not delete queue %s", url, exc_info=True)


# --------------------------------------------------------------------------- keeping alive


class LeaseKeeper:
    """Renews this host's registration and leases every ``interval`` seconds, on a thread."""

    def __init__(
        self,
        leases: SessionLeases,
        registry: AgentRegistry | None = None,
        interval: float | None = None,
        on_tick: Callable[[], object] | None = None,
    ) -> None:
        self.leases = leases
        self.registry = registry
        self.interval = interval if interval is not None else max(0.2, leases.lease_seconds / 3)
        self.on_tick = on_tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LeaseKeeper:
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def tick(self) -> None:
        if self.registry is not None:
            try:
                if not self.registry.renew():
                    log.warning("this host's registration was swept; registering again")
                    self.registry.register()
            except LeaseUnavailable:
                log.warning("could not renew this host's registration", exc_info=True)
        self.leases.renew_all()
        if self.on_tick is not None:
            try:
                self.on_tick()
            except Exception:
                log.exception("lease keeper's periodic work failed")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()


# --------------------------------------------------------------------------- helpers


def _conditional(table: str, call: str, **kwargs: Any) -> bool:
    """Run a (conditional) write; False when its condition failed."""
    from botocore.exceptions import ClientError

    try:
        getattr(aws.client("dynamodb"), call)(TableName=table, **kwargs)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == _CONDITION_FAILED:
            return False
        raise LeaseUnavailable(f"{call} on the lease table failed: {error}") from error
    except Exception as error:
        raise LeaseUnavailable(f"{call} on the lease table failed: {error}") from error
    return True


def _typed(key: dict[str, str]) -> dict[str, dict[str, str]]:
    return {name: _s(value) for name, value in key.items()}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}
