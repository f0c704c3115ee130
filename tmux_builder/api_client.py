"""A small client for the public REST API, used by the CLI (and usable by scripts).

It finds a running embedded stack by itself: ``--api`` / ``TMUX_BUILDER_API_URL`` win, else the
stack file that ``tmux-builder up`` writes (``.tmux-builder/stack.json``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import requests

DEFAULT_STATE_DIR = Path(os.environ.get("TMUX_BUILDER_STATE_DIR", ".tmux-builder"))


class ApiUnavailable(Exception):
    """No API answered at the address we have (or none is known)."""


class ApiFailure(Exception):
    """The API answered with an error; ``body`` is its JSON error document."""

    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        self.status_code = status_code
        self.body = body
        fields = "; ".join(f"{f['field']}: {f['message']}" for f in body.get("fields", []))
        detail = f" ({fields})" if fields else ""
        super().__init__(
            f"HTTP {status_code} {body.get('error', '')}: {body.get('message', '')}{detail}"
        )


def stack_file(state_dir: Path = DEFAULT_STATE_DIR) -> Path:
    return state_dir / "stack.json"


def admin_token_file(state_dir: Path = DEFAULT_STATE_DIR) -> Path:
    return state_dir / "admin-token"


def discover_admin_token(state_dir: Path = DEFAULT_STATE_DIR) -> str | None:
    """``TMUX_BUILDER_ADMIN_TOKEN``, else the local stack's token file, else None."""
    if os.environ.get("TMUX_BUILDER_ADMIN_TOKEN"):
        return os.environ["TMUX_BUILDER_ADMIN_TOKEN"].strip()
    path = admin_token_file(state_dir)
    return path.read_text().strip() if path.is_file() else None


def read_stack(state_dir: Path = DEFAULT_STATE_DIR) -> dict[str, Any] | None:
    path = stack_file(state_dir)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


def discover_api_url(explicit: str | None = None, state_dir: Path = DEFAULT_STATE_DIR) -> str:
    if explicit:
        return explicit.rstrip("/")
    if os.environ.get("TMUX_BUILDER_API_URL"):
        return os.environ["TMUX_BUILDER_API_URL"].rstrip("/")
    stack = read_stack(state_dir)
    if stack and stack.get("api_url"):
        return str(stack["api_url"]).rstrip("/")
    raise ApiUnavailable(
        "no running stack found: start one with `make run` (or `tmux-builder up`), "
        "or pass --api URL"
    )


class ApiClient:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = requests.Session()
        if token:
            self._http.headers["Authorization"] = f"Bearer {token}"
        self._timeout = timeout

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(
                method, self.base_url + path, timeout=self._timeout, **kwargs
            )
        except requests.ConnectionError as exc:
            raise ApiUnavailable(
                f"cannot reach the API at {self.base_url}: is the stack running?"
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = {"error": "BadResponse", "message": response.text[:300]}
        if response.status_code >= 400:
            raise ApiFailure(response.status_code, body)
        return body

    def create_user(
        self, email: str, requirements: str, provider: str, site_type: str, phone: str | None = None
    ) -> dict[str, Any]:
        payload = {
            "email": email,
            "host_provider": provider,
            "site_type": site_type,
            "requirements": requirements,
        }
        if phone:
            payload["phone"] = phone
        return self._call("POST", "/api/create-user", json=payload)

    def status(self, execution_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/status/{execution_id}")

    def download(self, url: str, target: Path) -> Path:
        # A presigned URL carries its own authorization: send no bearer token with it.
        response = requests.get(url, timeout=self._timeout)
        response.raise_for_status()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(response.content)
        return target
