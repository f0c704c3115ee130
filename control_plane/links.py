"""Client links: a portal URL carrying the user's signed token.

The token rides in the URL fragment (``#token=``), which browsers never send to a server, so
it stays out of access logs and Referer headers; the portal reads it and keeps it.
"""

from __future__ import annotations

from urllib.parse import quote

from control_plane import auth
from tmux_builder.settings import cloud


def client_link(user_id: str) -> tuple[str, str]:
    """(token, url) for the user's client portal."""
    token = auth.issue_client_token(user_id)
    base = cloud().portal_url.rstrip("/")
    return token, f"{base}/client#token={quote(token)}"
