"""Sessions: one site of one user, with the requirements it was asked for.

A session moves ``requested`` -> ``active`` -> ``live`` (deployed), and an admin can mark it
``completed`` (and restore it) or delete it (teardown marks it ``deleted``, or
``delete_failed`` until a repeated delete has removed everything). Moves that can race (an
admin completing a session while the pipeline deploys it, teardown deleting it) are
conditional writes on the status, so a deleted session never comes back to life.

Each session item also carries what the listings show without another read (the user's
e-mail, the client's name, the project name) and an index entry on GSI1 for the admin listing;
a pointer item maps a bare session id to its owner, because routes only get the session id.
"""

from __future__ import annotations

import contextlib
import re
from enum import StrEnum
from typing import Any

from control_plane import store
from control_plane.errors import Conflict, NotFound, SessionNotFound
from tmux_builder import keys, naming
from tmux_builder.contracts import Provider, SiteSpec, SiteType, utc_now_iso

NAME_MAX = 80
_DEFAULT_NAME_WORDS = 6
_DEFAULT_NAME_CHARS = 48


class SessionStatus(StrEnum):
    REQUESTED = "requested"
    ACTIVE = "active"
    LIVE = "live"
    COMPLETED = "completed"
    DELETED = "deleted"
    # Teardown could not remove everything; deleting again finishes the job.
    DELETE_FAILED = "delete_failed"
    # What is left only waits for AWS; a queued later teardown pass finishes the job.
    DELETING = "deleting"


OPEN = frozenset({SessionStatus.REQUESTED, SessionStatus.ACTIVE, SessionStatus.LIVE})
GONE = frozenset({SessionStatus.DELETED, SessionStatus.DELETE_FAILED, SessionStatus.DELETING})


def default_name(requirements: str, fallback: str = "Untitled project") -> str:
    """The first words of the requirements: what a person recognizes the project by."""
    name = ""
    for word in re.sub(r"\s+", " ", requirements).strip().split(" ")[:_DEFAULT_NAME_WORDS]:
        candidate = f"{name} {word}" if name else word
        if len(candidate) > _DEFAULT_NAME_CHARS:
            break
        name = candidate
    name = name.rstrip(".,;:!?-")
    return name[:NAME_MAX] or fallback


def create(
    user_id: str,
    session_id: str,
    provider: Provider,
    site_type: SiteType,
    requirements: str,
    *,
    email: str | None = None,
    client_name: str | None = None,
    name: str | None = None,
    status: SessionStatus = SessionStatus.REQUESTED,
    exist_ok: bool = False,
) -> None:
    """Write the session and its owner pointer.

    :class:`store.ConditionFailed` if the session exists, unless ``exist_ok`` (then only the
    pointer is made sure of, so a retried call finishes what a failed one started).
    """
    now = utc_now_iso()
    fallback_name = client_name or "Untitled project"
    try:
        store.put_new(
            {
                **keys.session(user_id, session_id),
                **keys.sessions_index(now, session_id),
                "user_id": user_id,
                "session_id": session_id,
                "provider": provider.value,
                "site_type": site_type.value,
                "requirements": requirements,
                "status": status.value,
                "created_at": now,
                "email": email.strip().lower() if email else None,
                "client_name": client_name,
                "name": name or default_name(requirements, fallback=fallback_name),
                "archived": False,
            }
        )
    except store.ConditionFailed:
        if not exist_ok:
            raise
    store.put(
        {**keys.session_owner(session_id), "user_id": user_id, "session_id": session_id},
        condition="attribute_not_exists(#pk) OR #user = :user",
        names={"#pk": keys.PK, "#user": "user_id"},
        values={":user": user_id},
    )


def get(user_id: str, session_id: str) -> dict[str, Any]:
    item = store.get(keys.session(user_id, session_id))
    if item is None:
        raise SessionNotFound(f"session {session_id} of user {user_id} does not exist")
    return item


def find(session_id: str) -> dict[str, Any] | None:
    """The session with this id, whoever owns it; ``None`` for unknown or malformed ids."""
    if not naming.SESSION_ID_RE.match(session_id):
        return None
    pointer = store.get(keys.session_owner(session_id))
    if pointer is None:
        return None
    return store.get(keys.session(pointer["user_id"], session_id))


def of_user(user_id: str) -> list[dict[str, Any]]:
    """A user's sessions, newest first (session ids start with their creation time)."""
    pk, prefix = keys.sessions_of(user_id)
    return list(store.query(pk, sk_prefix=prefix, newest_first=True))


def activate(user_id: str, session_id: str) -> SiteSpec:
    """Step 2: decide the site's names once; a retry gets the same answer."""
    record = get(user_id, session_id)
    if record.get("slug"):
        slug = record["slug"]
    else:
        slug = naming.site_slug(record["requirements"], session_id)
    spec = SiteSpec(
        provider=Provider(record["provider"]),
        site_type=SiteType(record["site_type"]),
        slug=slug,
        resource_name=naming.resource_name(user_id, slug),
    )
    store.update(
        keys.session(user_id, session_id),
        {
            "slug": spec.slug,
            "resource_name": spec.resource_name,
            "tmux_session": naming.tmux_session_name(user_id),
            "status": "active",
            "activated_at": utc_now_iso(),
        },
    )
    return spec


def record_execution(user_id: str, session_id: str, execution_id: str) -> None:
    """The session's newest build or redeploy, as listings show it."""
    store.update(
        keys.session(user_id, session_id),
        {"latest_execution_id": execution_id},
        condition="attribute_exists(#pk)",
        names={"#pk": keys.PK},
    )


def record_deployed(user_id: str, session_id: str, url: str) -> None:
    store.update(
        keys.session(user_id, session_id),
        {"deployed_url": url, "deployed_at": utc_now_iso()},
    )
    # Completed or deleted meanwhile: the admin's word stands.
    with contextlib.suppress(store.ConditionFailed):
        _move(user_id, session_id, {"status": SessionStatus.LIVE.value}, OPEN)


def _move(
    user_id: str, session_id: str, fields: dict[str, Any], allowed_from: frozenset[SessionStatus]
) -> None:
    """Set ``fields`` only while the session's status is one of ``allowed_from``."""
    placeholders = {f":from{i}": status.value for i, status in enumerate(sorted(allowed_from))}
    store.update(
        keys.session(user_id, session_id),
        fields,
        condition=f"attribute_exists(#pk) AND #status IN ({', '.join(placeholders)})",
        names={"#pk": keys.PK, "#status": "status"},
        values=placeholders,
    )


def _current(user_id: str, session_id: str) -> dict[str, Any]:
    item = store.get(keys.session(user_id, session_id))
    if item is None:
        raise NotFound(f"no session with id {session_id!r}")
    return item


def _deleted(session_id: str) -> Conflict:
    return Conflict(f"session {session_id} is deleted; it cannot change any more")


def complete(user_id: str, session_id: str) -> dict[str, Any]:
    """Mark the session completed (idempotent); 409 once it is deleted."""
    record = _current(user_id, session_id)
    if record["status"] == SessionStatus.COMPLETED:
        return record
    if record["status"] in GONE:
        raise _deleted(session_id)
    fields = {"status": SessionStatus.COMPLETED.value, "completed_at": utc_now_iso()}
    try:
        _move(user_id, session_id, fields, OPEN)
    except store.ConditionFailed:
        record = _current(user_id, session_id)
        if record["status"] != SessionStatus.COMPLETED:
            raise _deleted(session_id) from None
        return record
    return _current(user_id, session_id)


def restore(user_id: str, session_id: str) -> dict[str, Any]:
    """Reopen a completed session: ``live`` if it has a site, else ``active``; 409 if deleted."""
    record = _current(user_id, session_id)
    if record["status"] in GONE:
        raise _deleted(session_id)
    if record["status"] != SessionStatus.COMPLETED:
        return record
    target = SessionStatus.LIVE if record.get("deployed_url") else SessionStatus.ACTIVE
    try:
        _move(
            user_id,
            session_id,
            {"status": target.value, "restored_at": utc_now_iso()},
            frozenset({SessionStatus.COMPLETED}),
        )
    except store.ConditionFailed:
        record = _current(user_id, session_id)
        if record["status"] not in OPEN:
            raise _deleted(session_id) from None
        return record
    return _current(user_id, session_id)


def update_project(
    user_id: str, session_id: str, *, name: str | None = None, archived: bool | None = None
) -> dict[str, Any]:
    """Rename or (un)archive; 409 once the session is deleted."""
    fields = {"name": name, "archived": archived}
    try:
        _move(user_id, session_id, fields, OPEN | {SessionStatus.COMPLETED})
    except store.ConditionFailed:
        _current(user_id, session_id)
        raise _deleted(session_id) from None
    return _current(user_id, session_id)


def executions(user_id: str, session_id: str) -> list[dict[str, Any]]:
    """The session's builds and redeploys, newest first."""
    pk, prefix = keys.executions_of(user_id)
    return [
        item
        for item in store.query(pk, sk_prefix=prefix, newest_first=True, index=keys.GSI1)
        if item.get("session_id") == session_id
    ]
