"""Step 7: the deployed URL answers 200 with HTML that carries the site's title.

A new CDN distribution can take minutes to answer (403 or DNS errors meanwhile). One
invocation polls with backoff for a bounded budget, reporting progress; if the site is still
not ready it raises :class:`SiteNotReady` and the state machine's Retry takes over.
"""

from __future__ import annotations

import html
import ipaddress
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from control_plane.errors import InvalidStepInput, SiteNotReady
from tmux_builder.contracts import DeployResult, HealthResult


def _is_internal(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False  # not resolvable yet (new CDN name): not internal, just not ready
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_loopback or address.is_private or address.is_link_local:
            return True
    return False


def validate_url(url: str, allow_internal: bool) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        raise InvalidStepInput(f"deployed URL is not an http(s) URL: {url!r}")
    if not allow_internal and _is_internal(parsed.hostname):
        raise InvalidStepInput(f"deployed URL points at an internal address: {url!r}")


def _problem(response: Any, title: str) -> str | None:
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    if "html" not in response.headers.get("content-type", ""):
        return f"content type is {response.headers.get('content-type')!r}, not HTML"
    if title and title not in response.text and html.escape(title) not in response.text:
        return f"the page does not contain the site's title {title!r}"
    return None


def check_site(
    deploy: DeployResult,
    budget_seconds: float,
    allow_internal: bool,
    progress: Callable[[str], None] = lambda _msg: None,
    sleep: Callable[[float], None] = time.sleep,
) -> HealthResult:
    import requests  # imported here: only this step needs it, and Lambda imports stay cheap

    validate_url(deploy.url, allow_internal)
    started = time.monotonic()
    delay = 1.0
    attempt = 0
    while True:
        attempt += 1
        try:
            response = requests.get(deploy.url, timeout=10, allow_redirects=True)
            problem = _problem(response, deploy.title)
            status_code = response.status_code
        except requests.RequestException as exc:
            problem, status_code = f"{type(exc).__name__}: {exc}", 0
        elapsed = time.monotonic() - started
        if problem is None:
            return HealthResult(
                url=deploy.url,
                status_code=status_code,
                title=deploy.title,
                attempts=attempt,
                elapsed_seconds=round(elapsed, 3),
            )
        if elapsed + delay > budget_seconds:
            raise SiteNotReady(f"{deploy.url} is not ready after {attempt} tries: {problem}")
        progress(f"Waiting for the site to come online ({problem})")
        sleep(delay)
        delay = min(delay * 2, 15.0)
