"""What the admin does with sessions: open one for a user, list and search all of them, look
at one in detail, complete, restore and delete it.

Routes give a bare session id; it is resolved through the session's owner pointer, and an
unknown or malformed id is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from control_plane import builds, idempotency, paging, sessions, tracking, users
from control_plane.errors import FieldProblem, NotFound, UpstreamUnavailable, UserNotFound
from control_plane.sessions import SessionStatus
from tmux_builder import keys, naming
from tmux_builder.contracts import Provider, SiteType

if TYPE_CHECKING:
    from control_plane.teardown import TeardownReport

SessionFilter = Literal["all", "active", "completed", "deleted"]

_FILTERS: dict[str, frozenset[SessionStatus] | None] = {
    "all": None,
    "active": sessions.OPEN,
    "completed": frozenset({SessionStatus.COMPLETED}),
    "deleted": sessions.GONE,
}
_SEARCHED = ("email", "name", "client_name")


@dataclass(frozen=True)
class Deleted:
    """What a delete did: the session's (or user's) record after it, and what it removed.

    ``status`` is ``deleting`` when what is left only waits for AWS (a distribution being
    disabled, an instance shutting down) and a later pass is queued to finish the job.
    """

    record: dict[str, Any]
    removed: list[tuple[str, str]]
    status: Literal["deleted", "deleting"] = "deleted"


def create_session(
    *,
    email: str,
    phone: str | None,
    client_name: str | None,
    initial_request: str | None,
    provider: Provider,
    site_type: SiteType,
) -> builds.SessionOpened:
    """A session for the user with this e-mail (created if new); built now if there is a
    request, else left ``active`` for a later conversation."""
    user = users.find_or_create(email, phone)
    return builds.open_session(
        user,
        email=email,
        provider=provider,
        site_type=site_type,
        requirements=initial_request,
        client_name=client_name,
    )


def create_session_once(
    *,
    email: str,
    phone: str | None,
    client_name: str | None,
    initial_request: str | None,
    provider: Provider,
    site_type: SiteType,
    key: str | None,
    lambda_context: Any = None,
) -> builds.SessionOpened:
    """:func:`create_session`, answered from the first call when replayed (see ``idempotency``)."""
    fields: dict[str, Any] = {
        "email": email,
        "phone": phone,
        "client_name": client_name,
        "initial_request": initial_request,
        "provider": provider,
        "site_type": site_type,
    }
    return idempotency.once(
        "admin-session",
        key=key,
        payload={**fields, "provider": provider.value, "site_type": site_type.value},
        result_type=builds.SessionOpened,
        work=lambda: create_session(**fields),
        lambda_context=lambda_context,
    )


def list_sessions(
    filter_: SessionFilter, *, limit: int, cursor: str | None, q: str | None
) -> paging.Page:
    """Newest first, by status group and a case-insensitive search over e-mail and names."""
    statuses = _FILTERS[filter_]
    needle = (q or "").strip().lower()

    def keep(item: dict[str, Any]) -> bool:
        if statuses is not None and item.get("status") not in statuses:
            return False
        return not needle or any(needle in str(item.get(f) or "").lower() for f in _SEARCHED)

    return paging.index_page(keys.SESSIONS_INDEX, limit=limit, cursor=cursor, keep=keep)


def find(session_id: str) -> dict[str, Any]:
    record = sessions.find(session_id)
    if record is None:
        raise NotFound(f"no session with id {session_id!r}")
    return record


def resources_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        item
        for item in tracking.resources_of(record["user_id"])
        if item.get("session_id") == record["session_id"]
    ]


def complete(session_id: str) -> dict[str, Any]:
    record = find(session_id)
    return sessions.complete(record["user_id"], session_id)


def restore(session_id: str) -> dict[str, Any]:
    record = find(session_id)
    return sessions.restore(record["user_id"], session_id)


def delete(session_id: str) -> Deleted:
    """Remove every resource recorded for the session and mark it deleted (repeatable).

    What only waits for AWS is finished by a later pass (the session is ``deleting``, see
    :mod:`control_plane.teardown_followup`). Anything else that could not be removed makes it
    a 503 that names it; the session stays ``delete_failed`` and deleting again finishes the
    job.
    """
    from control_plane import teardown

    record = find(session_id)
    report = teardown.teardown_session(record["user_id"], session_id)
    _raise_unless_finishing(report, f"session {session_id}", "delete it again to finish")
    return Deleted(
        record=find(session_id),
        removed=list(report.removed),
        status="deleted" if report.ok else "deleting",
    )


def delete_user(user_id: str) -> Deleted:
    """Tear a user down: every session's resources, the cloud identity, the agent's session.

    Repeatable; as :func:`delete`, waits are finished by a later pass (``deleting``) and
    anything else that could not be removed makes it a 503 that names it.
    """
    from control_plane import teardown

    if not naming.USER_ID_RE.match(user_id):
        raise NotFound(f"no user {user_id!r}")
    try:
        users.get(user_id)
    except UserNotFound as exc:
        raise NotFound(f"no user {user_id!r}") from exc
    report = teardown.teardown_user(user_id)
    _raise_unless_finishing(report, f"user {user_id}", "delete the user again to finish")
    return Deleted(
        record=users.get(user_id),
        removed=list(report.removed),
        status="deleted" if report.ok else "deleting",
    )


def _raise_unless_finishing(report: TeardownReport, what: str, advice: str) -> None:
    """503 naming what is left, unless nothing is or a later pass is queued for all of it."""
    if report.ok or report.follow_up is not None:
        return
    raise UpstreamUnavailable(
        f"{len(report.failed)} resource(s) of {what} could not be removed yet; {advice}",
        [
            FieldProblem(f"{kind}/{resource_id}", reason)
            for kind, resource_id, reason in report.failed
        ],
    )
