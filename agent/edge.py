"""How a deployed CloudFront distribution is reached by people and by the pipeline.

On AWS a distribution is reached at ``https://<domain_name>``. On one machine nothing serves
CloudFront (moto only keeps its control plane), so the embedded stack runs a local site server
that plays the edge: the agent registers each distribution with it and gets back the URL where
that server serves the distribution's bucket. ``CloudSettings.edge`` says which one applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlparse

from agent.errors import DeployError

CLOUDFRONT = "cloudfront"
REGISTER_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Edge:
    """Turns a distribution into the URL where its site is served.

    ``site_server`` is empty for real CloudFront, else the base URL of the local site server.
    """

    site_server: str = ""

    @classmethod
    def from_settings(cls, edge_setting: str) -> Edge:
        """``"cloudfront"`` (or empty) for AWS, else the local site server's base URL."""
        setting = edge_setting.strip()
        if not setting or setting.lower() == CLOUDFRONT:
            return cls()
        parsed = urlparse(setting)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(
                f"edge setting must be 'cloudfront' or an http(s) base URL, got {edge_setting!r}"
            )
        return cls(site_server=setting.rstrip("/"))

    @property
    def is_cloudfront(self) -> bool:
        return not self.site_server

    def url_for(self, distribution_id: str, domain_name: str) -> str:
        """The public URL of the distribution's site (registering it with a local edge)."""
        if self.is_cloudfront:
            return f"https://{domain_name}"
        return self._register(distribution_id, domain_name)

    def _register(self, distribution_id: str, domain_name: str) -> str:
        """POST to the local site server; it answers the same URL however often it is asked."""
        import requests

        endpoint = f"{self.site_server}/distributions/{quote(distribution_id, safe='')}"
        try:
            response = requests.post(
                endpoint, json={"domain_name": domain_name}, timeout=REGISTER_TIMEOUT_S
            )
        except requests.RequestException as exc:
            raise DeployError(
                f"local site server at {self.site_server} unreachable: {exc}"
            ) from exc
        if response.status_code >= 400:
            raise DeployError(
                f"local site server refused distribution {distribution_id}: "
                f"HTTP {response.status_code} {response.text[:200]}"
            )
        try:
            url = response.json()["url"]
        except (ValueError, KeyError, TypeError) as exc:
            raise DeployError(
                f"local site server answered without a url for {distribution_id}: "
                f"{response.text[:200]}"
            ) from exc
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise DeployError(f"local site server answered an invalid url: {url!r}")
        return url
