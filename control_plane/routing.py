"""Where a session's agent work goes: its owner's own queues while its lease is live.

An agent host that takes a session's work records itself as the session's owner in a lease
(:mod:`agent.leases`) naming its own task and chat queues, and renews it while it lives. The
control plane reads that lease:

- every Lambda step of the pipeline puts :class:`~tmux_builder.contracts.TaskRoute` into the
  execution's state (``$.route.queue_url``), and the state machine's agent states send their
  task there (``QueueUrl.$``); a redeploy starts with it;
- a chat message goes to the owner's chat queue (:func:`chat_queue_for`).

Without a live lease (a new session, or its host stopped renewing) the work goes to the shared
queues, where any host takes it (and takes the session over). A route is read when a Lambda
step ends, so an agent step that follows another agent step may find it stale: the agents
forward work of a session they do not own to its owner, and drain the queues of hosts that
died, so a stale route costs a hop, never the work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from control_plane import store
from tmux_builder import keys
from tmux_builder.contracts import PipelineState, TaskRoute
from tmux_builder.session_lease import SessionLease
from tmux_builder.settings import cloud


def lease_of(session_id: str) -> SessionLease | None:
    item = store.get(keys.session_lease(session_id))
    return SessionLease.from_record(item) if item else None


def live_lease(session_id: str) -> SessionLease | None:
    lease = lease_of(session_id)
    return lease if lease is not None and lease.live() else None


def task_route(session_id: str) -> TaskRoute:
    """The queue for the session's next agent task: its owner's, or the shared one."""
    lease = live_lease(session_id)
    if lease is not None and lease.queue_url:
        return TaskRoute(queue_url=lease.queue_url, owner=lease.owner)
    return TaskRoute(queue_url=cloud().agent_queue_url)


def with_route(state: PipelineState) -> PipelineState:
    """``state`` with the current route of its session (every Lambda step ends with this)."""
    return state.model_copy(update={"route": task_route(state.session_id)})


def owner_chat_queue(session_id: str) -> str | None:
    """The chat queue of the host that owns the session now; None without a live lease."""
    lease = live_lease(session_id)
    return lease.chat_queue_url if lease is not None and lease.chat_queue_url else None


def chat_queue_for(session_id: str) -> str:
    """The chat queue for the session's next message: its owner's, or the shared one."""
    return owner_chat_queue(session_id) or cloud().chat_queue_url


def leases() -> list[SessionLease]:
    """Every session lease (live or not), by session id."""
    return [
        SessionLease.from_record(item)
        for item in store.query(keys.LEASES_INDEX, sk_prefix=keys.LEASE_PREFIX, index=keys.GSI1)
    ]


@dataclass(frozen=True)
class AgentHost:
    agent_id: str
    queue_url: str
    expires_at_ms: int
    started_at: str = ""

    def live(self, now: float | None = None) -> bool:
        return self.expires_at_ms / 1000 > (time.time() if now is None else now)


def agent_hosts() -> list[AgentHost]:
    """The registered agent hosts (a host that stopped renewing shows as not live)."""
    return [
        AgentHost(
            agent_id=str(item.get("agent_id") or ""),
            queue_url=str(item.get("queue_url") or ""),
            expires_at_ms=int(item.get("expires_at") or 0),
            started_at=str(item.get("started_at") or ""),
        )
        for item in store.query(keys.AGENTS_PARTITION, sk_prefix=keys.AGENT_PREFIX)
    ]
