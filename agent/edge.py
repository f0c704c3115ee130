"""How a deployed site (a CloudFront distribution, an EC2 instance) is reached.

On AWS a distribution is reached at ``https://<domain_name>``. On one machine nothing serves
CloudFront (moto only keeps its control plane), so the embedded stack runs a local site server
that plays the edge: the agent registers each distribution with it and gets back the URL where
that server serves the distribution's bucket. ``AgentSettings.edge`` says which one applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlparse

from agent.errors import DeployError

CLOUDFRONT = "cloudfront"
REGISTER_TIMEOUT_S = 10.0
# The instance host fetches the release and waits for the app to listen before it answers.
INSTANCE_START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Edge:
    """Turns a distribution into the URL where its site is served.

    ``site_server`` is empty for real CloudFront, else the base URL of the local site server.
    """

    site_server: str = ""

    @classmethod
    def from_settings(cls, edge_setting: str) -> Edge:
        """``"cloudfront"`` (or empty) for AWS, else the local site server's base URL."""
        return cls(site_server=_local_base_url(edge_setting, CLOUDFRONT, "edge"))

    @property
    def is_cloudfront(self) -> bool:
        return not self.site_server

    def url_for(self, distribution_id: str, domain_name: str) -> str:
        """The public URL of the distribution's site (registering it with a local edge)."""
        if self.is_cloudfront:
            return f"https://{domain_name}"
        return self._register(distribution_id, domain_name)

    def url_for_container(self, container: str) -> str:
        """The local URL of an Azurite blob container (Azurite serves no static website).

        Only the embedded stack has one; on Azure the deployer knows the site's own endpoint.
        """
        if self.is_cloudfront:
            raise DeployError(
                f"no local site server is configured to serve blob container {container}"
            )
        return self._register(container, "", collection="containers")

    def _register(
        self, distribution_id: str, domain_name: str, collection: str = "distributions"
    ) -> str:
        """POST to the local site server; it answers the same URL however often it is asked."""
        return _post_for_url(
            f"{self.site_server}/{collection}/{quote(distribution_id, safe='')}",
            "local site server",
            distribution_id,
            json={"domain_name": domain_name},
            timeout=REGISTER_TIMEOUT_S,
        )


EC2 = "ec2"


@dataclass(frozen=True)
class InstanceEndpoints:
    """Turns a dynamic site's EC2 instance into the URL where its app answers.

    On AWS that is the instance's public DNS name on port 80. On one machine moto runs no
    instances: the embedded stack's instance host runs each instance's release as a local
    process, and answers its URL (``AgentSettings.instance_host`` is its base URL).
    """

    instance_host: str = ""

    @classmethod
    def from_settings(cls, setting: str) -> InstanceEndpoints:
        """``"ec2"`` (or empty) for AWS, else the local instance host's base URL."""
        return cls(instance_host=_local_base_url(setting, EC2, "instance host"))

    @property
    def is_ec2(self) -> bool:
        return not self.instance_host

    def url_for(self, instance_id: str, public_dns_name: str) -> str:
        """The app's URL; locally this (re)starts the instance's current release first."""
        if self.is_ec2:
            if not public_dns_name:
                raise DeployError(f"instance {instance_id} has no public DNS name")
            return f"http://{public_dns_name}/"
        return self._register(instance_id)

    def _register(self, instance_id: str) -> str:
        return _post_for_url(
            f"{self.instance_host}/instances/{quote(instance_id, safe='')}",
            "local instance host",
            instance_id,
            json=None,
            timeout=INSTANCE_START_TIMEOUT_S,
        )


def _local_base_url(setting: str, cloud_word: str, what: str) -> str:
    """Empty for the cloud (``cloud_word`` or nothing), else a local stand-in's base URL."""
    value = setting.strip()
    if not value or value.lower() == cloud_word:
        return ""
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(
            f"{what} setting must be {cloud_word!r} or an http(s) base URL, got {setting!r}"
        )
    return value.rstrip("/")


def _post_for_url(
    endpoint: str, server: str, thing: str, json: dict[str, str] | None, timeout: float
) -> str:
    """Ask a local stand-in to serve ``thing``; it answers ``{"url": ...}`` (idempotent)."""
    import requests

    try:
        response = requests.post(endpoint, json=json, timeout=timeout)
    except requests.RequestException as exc:
        raise DeployError(f"{server} at {endpoint} unreachable: {exc}") from exc
    if response.status_code >= 400:
        raise DeployError(
            f"{server} could not serve {thing}: HTTP {response.status_code} {response.text[:500]}"
        )
    try:
        url = response.json()["url"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DeployError(
            f"{server} answered without a url for {thing}: {response.text[:200]}"
        ) from exc
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise DeployError(f"{server} answered an invalid url: {url!r}")
    return url
