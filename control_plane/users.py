"""Users: found by e-mail through a hashed index item, created at most once per address.

The user id is random (never derived from the e-mail). Two requests racing for the same new
address both end with the same user: the conditional put on the index item decides the winner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from control_plane import store
from control_plane.errors import UserNotFound
from tmux_builder import keys, naming
from tmux_builder.contracts import utc_now_iso


@dataclass(frozen=True)
class UserRef:
    user_id: str
    is_new: bool


def find_or_create(email: str, phone: str | None) -> UserRef:
    digest = naming.email_digest(email)
    candidate = naming.new_user_id()
    now = utc_now_iso()
    try:
        store.put_new({**keys.email_index(digest), "user_id": candidate, "created_at": now})
    except store.ConditionFailed:
        existing = store.get(keys.email_index(digest))
        if existing is None:  # deleted between the two calls: let the caller retry
            raise
        profile = store.get(keys.user(existing["user_id"])) or {}
        if profile.get("status") != "deleted":
            return UserRef(existing["user_id"], is_new=False)
        # The address belonged to a user who was torn down: it starts over as a new user.
        store.put(
            {**keys.email_index(digest), "user_id": candidate, "created_at": now},
            condition="#uid = :old",
            names={"#uid": "user_id"},
            values={":old": existing["user_id"]},
        )
    store.put_new(
        {
            **keys.user(candidate),
            "user_id": candidate,
            "email": email.strip().lower(),
            "phone": phone,
            "created_at": now,
            "identity_status": "requested",
        }
    )
    return UserRef(candidate, is_new=True)


def get(user_id: str) -> dict[str, Any]:
    item = store.get(keys.user(user_id))
    if item is None:
        raise UserNotFound(f"user {user_id} does not exist")
    return item


def mark_identity_ready(user_id: str) -> None:
    """Step 1's outcome. The per-user IAM identity joins here (it is created with the user)."""
    store.update(
        keys.user(user_id),
        {"identity_status": "ready", "identity_ready_at": utc_now_iso()},
        condition="attribute_exists(#pk)",
        names={"#pk": keys.PK},
    )
