"""Azure Front Door (Standard) in front of a site's static website, through azure-mgmt-cdn.

Classic Azure CDN profiles can no longer be created; Front Door Standard is its successor and
lives in the same SDK. Per site, in the site's resource group: a profile and an endpoint named
like the site, an origin group with one origin (the storage account's static-website host),
and a route for ``/*`` that redirects HTTP to HTTPS. Each part is read first and created only
when missing, so a redeploy (or a retry after a crash half-way) reuses what is there; when the
endpoint already existed its cache is purged so the new files show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.deploy.azure_arm import AzureClients, azure_errors

FRONT_DOOR_SKU = "Standard_AzureFrontDoor"
GLOBAL = "Global"
ORIGIN_GROUP = "site"
ORIGIN = "storage"
ROUTE = "site"


@dataclass(frozen=True)
class FrontDoorSite:
    profile: str
    endpoint: str
    host_name: str
    created: bool

    @property
    def url(self) -> str:
        return f"https://{self.host_name}/"


def ensure_front_door(
    clients: AzureClients,
    resource_group: str,
    name: str,
    origin_host: str,
    tags: dict[str, str],
    progress: Callable[[str], None],
) -> FrontDoorSite:
    """The site's Front Door endpoint, created or reused; purged when it was reused."""
    cdn = clients.cdn
    _get_or_create(
        "Front Door profile",
        lambda: cdn.profiles.get(resource_group, name),
        lambda: cdn.profiles.begin_create(
            resource_group,
            name,
            {"location": GLOBAL, "sku": {"name": FRONT_DOOR_SKU}, "tags": tags},
        ),
        progress,
    )
    endpoint, created = _get_or_create(
        "Front Door endpoint",
        lambda: cdn.afd_endpoints.get(resource_group, name, name),
        lambda: cdn.afd_endpoints.begin_create(
            resource_group,
            name,
            name,
            {"location": GLOBAL, "tags": tags, "properties": {"enabledState": "Enabled"}},
        ),
        progress,
    )
    group, _ = _get_or_create(
        "origin group",
        lambda: cdn.afd_origin_groups.get(resource_group, name, ORIGIN_GROUP),
        lambda: cdn.afd_origin_groups.begin_create(
            resource_group,
            name,
            ORIGIN_GROUP,
            {
                "properties": {
                    "loadBalancingSettings": {"sampleSize": 4, "successfulSamplesRequired": 3},
                    "healthProbeSettings": {
                        "probePath": "/",
                        "probeRequestType": "HEAD",
                        "probeProtocol": "Https",
                        "probeIntervalInSeconds": 120,
                    },
                }
            },
        ),
        progress,
    )
    _get_or_create(
        "origin",
        lambda: cdn.afd_origins.get(resource_group, name, ORIGIN_GROUP, ORIGIN),
        lambda: cdn.afd_origins.begin_create(
            resource_group,
            name,
            ORIGIN_GROUP,
            ORIGIN,
            {
                "properties": {
                    "hostName": origin_host,
                    "originHostHeader": origin_host,
                    "httpPort": 80,
                    "httpsPort": 443,
                    "priority": 1,
                    "weight": 1000,
                    "enabledState": "Enabled",
                    "enforceCertificateNameCheck": True,
                }
            },
        ),
        progress,
    )
    _get_or_create(
        "route",
        lambda: cdn.routes.get(resource_group, name, name, ROUTE),
        lambda: cdn.routes.begin_create(
            resource_group,
            name,
            name,
            ROUTE,
            {
                "properties": {
                    "originGroup": {"id": group.id},
                    "supportedProtocols": ["Http", "Https"],
                    "patternsToMatch": ["/*"],
                    "forwardingProtocol": "HttpsOnly",
                    "linkToDefaultDomain": "Enabled",
                    "httpsRedirect": "Enabled",
                    "enabledState": "Enabled",
                }
            },
        ),
        progress,
    )
    site = FrontDoorSite(
        profile=name, endpoint=name, host_name=str(endpoint.properties.host_name), created=created
    )
    if not created:
        purge(clients, resource_group, site, progress)
    return site


def purge(
    clients: AzureClients,
    resource_group: str,
    site: FrontDoorSite,
    progress: Callable[[str], None],
) -> None:
    """Drop every cached path of the endpoint (the new deploy's files are served next)."""
    with azure_errors(f"Purging Front Door endpoint {site.endpoint}"):
        clients.cdn.afd_endpoints.begin_purge_content(
            resource_group, site.profile, site.endpoint, {"contentPaths": ["/*"]}
        ).result()
    progress(f"Purged the Front Door cache of {site.host_name}")


def _get_or_create(
    what: str,
    get: Callable[[], Any],
    create: Callable[[], Any],
    progress: Callable[[str], None],
) -> tuple[Any, bool]:
    """(resource, created?): read it; create it (waiting for the long-running PUT) if missing."""
    from azure.core.exceptions import ResourceNotFoundError

    with azure_errors(f"Reading the {what}"):
        try:
            return get(), False
        except ResourceNotFoundError:
            pass
    with azure_errors(f"Creating the {what}"):
        resource = create().result()
    progress(f"Created the {what} {resource.name}")
    return resource, True
