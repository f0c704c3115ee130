"""A client's projects (their sessions): list, history, rename/archive, duplicate.

A client only ever reaches its own user's sessions: a session of another user is a 403, an id
that names no session a 404. There is no lookup by e-mail here.
"""

from __future__ import annotations

from typing import Any

from control_plane import builds, sessions, users
from control_plane.auth import Principal, require_access
from control_plane.errors import Conflict, NotFound
from tmux_builder import naming
from tmux_builder.contracts import Provider, SiteType

_COPY = " (copy)"


def of_user(principal: Principal, user_id: str) -> list[dict[str, Any]]:
    """The user's sessions, newest first, without deleted ones (their sites are gone)."""
    if not naming.USER_ID_RE.match(user_id):
        raise NotFound(f"no user with id {user_id!r}")
    require_access(principal, user_id)
    return [s for s in sessions.of_user(user_id) if s.get("status") not in sessions.GONE]


def owned(principal: Principal, session_id: str) -> dict[str, Any]:
    """The session, if the caller may see it (404 unknown, 403 another user's)."""
    record = sessions.find(session_id)
    if record is None:
        raise NotFound(f"no project with id {session_id!r}")
    require_access(principal, record["user_id"])
    return record


def history(principal: Principal, session_id: str) -> list[dict[str, Any]]:
    record = owned(principal, session_id)
    return sessions.executions(record["user_id"], session_id)


def update(
    principal: Principal, session_id: str, *, name: str | None, archived: bool | None
) -> dict[str, Any]:
    record = owned(principal, session_id)
    return sessions.update_project(record["user_id"], session_id, name=name, archived=archived)


def duplicate(principal: Principal, session_id: str) -> builds.BuildStarted:
    """A new session of the same user with the same request, built now."""
    record = owned(principal, session_id)
    user_id, requirements = record["user_id"], record.get("requirements") or ""
    if not requirements.strip():
        raise Conflict("this project has no request to build from yet; describe the site first")
    provider, site_type = Provider(record["provider"]), SiteType(record["site_type"])
    base_name = record.get("name") or sessions.default_name(requirements)
    new_session_id = naming.new_session_id()
    sessions.create(
        user_id,
        new_session_id,
        provider,
        site_type,
        requirements,
        email=record.get("email") or users.get(user_id)["email"],
        client_name=record.get("client_name"),
        name=f"{base_name[: sessions.NAME_MAX - len(_COPY)]}{_COPY}",
    )
    execution_id = builds.start_session_build(user_id, new_session_id)
    return builds.BuildStarted(execution_id, user_id, new_session_id, is_new_user=False)
