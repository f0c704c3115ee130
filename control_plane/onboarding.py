"""Onboarding requests: what a member of the public asks for, and the admin's decision on it.

A public request starts no build by itself (builds cost money): it waits as ``pending`` until an
admin approves or rejects it, unless the operator turned on auto-approval. Approval is a
conditional write (``pending`` -> ``approved``) that also fixes the user, session and execution
ids, so approving twice, or two admins at once, gives one answer and one build; every later
step (the session, the execution) is idempotent, so a retried approval finishes what a failed
one started. A decided request cannot be decided again.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from control_plane import builds, paging, rate_limit, sessions, store, users
from control_plane.errors import Conflict, NotFound
from tmux_builder import keys, naming
from tmux_builder.contracts import Provider, SiteType, utc_now_iso
from tmux_builder.settings import cloud

REQUEST_ID_RE = re.compile(r"^req_[0-9a-f]{20}$")


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Approval:
    request_id: str
    user_id: str
    session_id: str
    execution_id: str
    is_new_user: bool


@dataclass(frozen=True)
class Submitted:
    request_id: str
    approval: Approval | None

    @property
    def may_share_link(self) -> bool:
        """Whether the anonymous caller may get the client link.

        Only for a user this very request created: anyone can type someone else's e-mail,
        and a link for an existing user would open that user's projects to them.
        """
        return self.approval is not None and self.approval.is_new_user


def new_request_id() -> str:
    return f"req_{secrets.token_hex(10)}"


def submit(
    *,
    name: str,
    email: str,
    phone: str | None,
    initial_request: str,
    provider: Provider,
    site_type: SiteType,
    source_ip: str,
) -> Submitted:
    """Record a public request (rate-limited per address); approve it at once if configured."""
    rate_limit.hit(rate_limit.ONBOARDING, source_ip)
    request_id = new_request_id()
    now = utc_now_iso()
    store.put_new(
        {
            **keys.onboarding_request(request_id),
            **keys.requests_index(now, request_id),
            "request_id": request_id,
            "name": name,
            "email": email,
            "phone": phone,
            "initial_request": initial_request,
            "host_provider": provider.value,
            "site_type": site_type.value,
            "status": RequestStatus.PENDING.value,
            "created_at": now,
        }
    )
    approval = approve(request_id) if cloud().auto_approve else None
    return Submitted(request_id, approval)


def get(request_id: str) -> dict[str, Any]:
    item = None
    if REQUEST_ID_RE.match(request_id):
        item = store.get(keys.onboarding_request(request_id))
    if item is None:
        raise NotFound(f"no onboarding request with id {request_id!r}")
    return item


def list_requests(status: str, *, limit: int, cursor: str | None) -> paging.Page:
    """Newest first; ``status`` is a :class:`RequestStatus` value or ``"all"``."""
    return paging.index_page(
        keys.REQUESTS_INDEX,
        limit=limit,
        cursor=cursor,
        keep=lambda item: status == "all" or item.get("status") == status,
    )


def approve(request_id: str) -> Approval:
    """Approve and start the build; approving again answers the same (409 if rejected)."""
    record = get(request_id)
    if record["status"] == RequestStatus.PENDING:
        record = _claim(record)
    if record["status"] != RequestStatus.APPROVED:
        raise Conflict(f"request {request_id} was {record['status']}; it cannot be approved")
    _finish_approval(record)
    return Approval(
        request_id=request_id,
        user_id=record["user_id"],
        session_id=record["session_id"],
        execution_id=record["execution_id"],
        is_new_user=bool(record.get("is_new_user")),
    )


def _claim(record: dict[str, Any]) -> dict[str, Any]:
    """Decide the ids and mark the request approved, unless someone decided first."""
    request_id = record["request_id"]
    user = users.find_or_create(record["email"], record.get("phone"))
    session_id = naming.new_session_id()
    # Losing this write means someone decided meanwhile: the stored decision is the answer.
    with contextlib.suppress(store.ConditionFailed):
        store.update(
            keys.onboarding_request(request_id),
            {
                "status": RequestStatus.APPROVED.value,
                "decided_at": utc_now_iso(),
                "user_id": user.user_id,
                "session_id": session_id,
                "execution_id": naming.execution_id(user.user_id, session_id),
                "is_new_user": user.is_new,
            },
            condition="#status = :pending",
            names={"#status": "status"},
            values={":pending": RequestStatus.PENDING.value},
        )
    return get(request_id)


def _finish_approval(record: dict[str, Any]) -> None:
    """The approved request's session and build; each part is skipped when it exists."""
    sessions.create(
        record["user_id"],
        record["session_id"],
        Provider(record["host_provider"]),
        SiteType(record["site_type"]),
        record["initial_request"],
        email=record["email"],
        client_name=record["name"],
        exist_ok=True,
    )
    builds.start_session_build(record["user_id"], record["session_id"])


def reject(request_id: str, reason: str | None) -> None:
    """Reject a pending request; 409 when it was already decided."""
    record = get(request_id)
    if record["status"] == RequestStatus.PENDING:
        try:
            store.update(
                keys.onboarding_request(request_id),
                {
                    "status": RequestStatus.REJECTED.value,
                    "decided_at": utc_now_iso(),
                    "reason": reason or None,
                },
                condition="#status = :pending",
                names={"#status": "status"},
                values={":pending": RequestStatus.PENDING.value},
            )
            return
        except store.ConditionFailed:
            record = get(request_id)
    raise Conflict(f"request {request_id} was already {record['status']}")
