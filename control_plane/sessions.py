"""Sessions: one site of one user, with the requirements it was asked for."""

from __future__ import annotations

from typing import Any

from control_plane import store
from control_plane.errors import SessionNotFound
from tmux_builder import keys, naming
from tmux_builder.contracts import Provider, SiteSpec, SiteType, utc_now_iso


def create(
    user_id: str,
    session_id: str,
    provider: Provider,
    site_type: SiteType,
    requirements: str,
) -> None:
    store.put_new(
        {
            **keys.session(user_id, session_id),
            "user_id": user_id,
            "session_id": session_id,
            "provider": provider.value,
            "site_type": site_type.value,
            "requirements": requirements,
            "status": "requested",
            "created_at": utc_now_iso(),
        }
    )


def get(user_id: str, session_id: str) -> dict[str, Any]:
    item = store.get(keys.session(user_id, session_id))
    if item is None:
        raise SessionNotFound(f"session {session_id} of user {user_id} does not exist")
    return item


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


def record_deployed(user_id: str, session_id: str, url: str) -> None:
    store.update(
        keys.session(user_id, session_id),
        {"deployed_url": url, "status": "live", "deployed_at": utc_now_iso()},
    )
