"""Admin: which agent host holds which session (the leases), and which hosts are registered.

What ``tmux-builder sessions`` shows next to the session listing; the domain is
:mod:`control_plane.routing`.
"""

from __future__ import annotations

import time

from chalice.app import Blueprint
from pydantic import BaseModel

from control_plane import routing
from control_plane.auth import Principal
from control_plane.web import Access, endpoint

bp = Blueprint(__name__)


class LeaseView(BaseModel):
    session_id: str
    user_id: str
    owner: str
    live: bool
    seconds_left: float
    acquired_at: str = ""
    renewed_at: str = ""
    takeovers: int = 0
    previous_owner: str = ""


class AgentHostView(BaseModel):
    agent_id: str
    live: bool
    seconds_left: float
    started_at: str = ""


class LeaseList(BaseModel):
    leases: list[LeaseView]
    agents: list[AgentHostView]


@endpoint(
    bp,
    "/api/admin/leases",
    "GET",
    access=Access.ADMIN,
    summary="Which agent host holds which session (leases), and the registered agent hosts",
    response=LeaseList,
)
def list_leases_route(principal: Principal) -> LeaseList:
    now = time.time()
    return LeaseList(
        leases=[
            LeaseView(
                session_id=lease.session_id,
                user_id=lease.user_id,
                owner=lease.owner,
                live=lease.live(now),
                seconds_left=round(max(0.0, lease.expires_at_ms / 1000 - now), 1),
                acquired_at=lease.acquired_at,
                renewed_at=lease.renewed_at,
                takeovers=lease.takeovers,
                previous_owner=lease.previous_owner,
            )
            for lease in routing.leases()
        ],
        agents=[
            AgentHostView(
                agent_id=host.agent_id,
                live=host.live(now),
                seconds_left=round(max(0.0, host.expires_at_ms / 1000 - now), 1),
                started_at=host.started_at,
            )
            for host in routing.agent_hosts()
        ],
    )
