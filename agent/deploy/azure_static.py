"""Put a built static site live on Azure Blob Storage (+ Front Door), the same way every time.

On Azure each site gets, in its own resource group (``tmux-{prefix}-{slug}``), its own storage
account (:func:`tmux_builder.naming.azure_storage_account_name`: 24 lowercase characters,
distinct for every site) with the static website turned on; the files go to its ``$web``
container, and Front Door (:mod:`agent.deploy.azure_cdn`) serves them over HTTPS unless the
operator turned the CDN off (then the static-website endpoint is the URL). One resource is
recorded, as soon as it exists: the resource group, so teardown is one delete.

On the embedded stack (``TMUX_BUILDER_AZURE_BLOB_ENDPOINT`` = Azurite) there is no Resource
Manager and no CDN: each site is a container of Azurite's development account, and the local
site server serves it as its static website (:meth:`agent.edge.Edge.url_for_container`).

Either way a redeploy uploads every file with its content type and cache rule
(:mod:`agent.deploy.site_files`, shared with S3), then removes the blobs the new build no longer
has. Every call is idempotent and returns all of the site's resources.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent.deploy.azure_arm import AzureClients, azure_errors, ensure_resource_group
from agent.deploy.base import DeployOutcome, DeployRequest, SiteResource, not_recorded
from agent.deploy.site_files import (
    INDEX_DOCUMENT,
    NOT_FOUND_DOCUMENT,
    SiteFile,
    page_title,
    site_files,
)
from agent.errors import DeployError
from tmux_builder import azure, naming
from tmux_builder.contracts import DeployResult
from tmux_builder.settings import AzureSettings

if TYPE_CHECKING:
    from pathlib import Path

    from agent.edge import Edge

WEB_CONTAINER = "$web"
STORAGE_SKU = "Standard_LRS"


def deploy(request: DeployRequest) -> DeployOutcome:
    """The deployer for azure/static (see :mod:`agent.deploy.base`)."""
    settings = AzureSettings()
    site = request.site
    if settings.is_local:
        return deploy_to_azurite(
            request.site_dir,
            container=naming.azure_container_name(site.resource_name),
            blob_endpoint=settings.blob_endpoint,
            tags=request.tags,
            edge=request.edge,
            progress=request.progress,
            record=request.record,
        )
    return deploy_to_azure(
        request.site_dir,
        AzureClients(settings),
        resource_group=naming.azure_resource_group_name(site.resource_name),
        account=naming.azure_storage_account_name(request.user_id, request.session_id),
        tags=request.tags,
        progress=request.progress,
        record=request.record,
    )


# --- the embedded stack --------------------------------------------------------------------------


def deploy_to_azurite(
    site_dir: Path,
    *,
    container: str,
    blob_endpoint: str,
    tags: dict[str, str],
    edge: Edge,
    progress: Callable[[str], None],
    record: Callable[[SiteResource], None] = not_recorded,
) -> DeployOutcome:
    """The site as a container of Azurite's development account, served by the local edge."""
    from tmux_builder.local.azurite import blob_service

    files = site_files(site_dir, progress)
    title = page_title(site_dir / INDEX_DOCUMENT)
    site_container = SiteResource(
        azure.BLOB_CONTAINER,
        container,
        {"account": azure.AZURITE_ACCOUNT, "blob_endpoint": blob_endpoint},
    )
    with azure_errors(f"Deploying {container} to Azurite"):
        client = blob_service(blob_endpoint).get_container_client(container)
        ensure_container(client, tags, progress)
        record(site_container)
        sync_blobs(client, files, progress)
    url = edge.url_for_container(container)
    progress(f"Site live at {url}")
    return DeployOutcome(
        result=DeployResult(url=url, bucket=container, title=title, files=len(files)),
        resources=[site_container],
    )


def ensure_container(client: Any, tags: dict[str, str], progress: Callable[[str], None]) -> None:
    """Create the container (private) with the site's tags as metadata, or reuse it if ours."""
    from azure.core.exceptions import ResourceExistsError

    try:
        client.create_container(metadata=tags)
        progress(f"Created blob container {client.container_name}")
        return
    except ResourceExistsError:
        pass
    owner = (client.get_container_properties().metadata or {}).get("UserGUID")
    if owner is not None and owner != tags.get("UserGUID"):
        raise DeployError(f"blob container {client.container_name} is not this user's site")
    progress(f"Reusing blob container {client.container_name}")


# --- Azure ---------------------------------------------------------------------------------------


def deploy_to_azure(
    site_dir: Path,
    clients: AzureClients,
    *,
    resource_group: str,
    account: str,
    tags: dict[str, str],
    progress: Callable[[str], None],
    record: Callable[[SiteResource], None] = not_recorded,
) -> DeployOutcome:
    """Resource group, storage account with a static website, files, then Front Door."""
    from agent.deploy.azure_cdn import ensure_front_door

    files = site_files(site_dir, progress)
    title = page_title(site_dir / INDEX_DOCUMENT)
    settings = clients.settings
    metadata = {
        "subscription_id": settings.subscription_id,
        "location": settings.location,
        "storage_account": account,
    }
    site_group = SiteResource(azure.RESOURCE_GROUP, resource_group, metadata)
    ensure_resource_group(
        clients, resource_group, tags, progress, exists=lambda: record(site_group)
    )
    endpoints = ensure_storage_account(clients, resource_group, account, tags, progress)
    with azure_errors(f"Uploading the site to {account}"):
        service = website_service(clients, resource_group, account, endpoints["blob"])
        enable_static_website(service)
        sync_blobs(service.get_container_client(WEB_CONTAINER), files, progress)
    origin_host = _host_of(endpoints["web"])
    if settings.cdn:
        front_door = ensure_front_door(
            clients, resource_group, resource_group, origin_host, tags, progress
        )
        url = front_door.url
    else:
        url = f"https://{origin_host}/"
    progress(f"Site live at {url}")
    return DeployOutcome(
        result=DeployResult(url=url, bucket=account, title=title, files=len(files)),
        resources=[site_group],
    )


def ensure_storage_account(
    clients: AzureClients,
    resource_group: str,
    account: str,
    tags: dict[str, str],
    progress: Callable[[str], None],
) -> dict[str, str]:
    """The site's StorageV2 account (HTTPS only, no public blob access); its endpoints."""
    from azure.core.exceptions import ResourceNotFoundError

    accounts = clients.storage.storage_accounts
    with azure_errors(f"Reading storage account {account}"):
        try:
            found = accounts.get_properties(resource_group, account)
        except ResourceNotFoundError:
            found = None
    if found is None:
        parameters = {
            "sku": {"name": STORAGE_SKU},
            "kind": "StorageV2",
            "location": clients.settings.location,
            "tags": tags,
            "properties": {
                "supportsHttpsTrafficOnly": True,
                "allowBlobPublicAccess": False,
                "minimumTlsVersion": "TLS1_2",
            },
        }
        with azure_errors(f"Creating storage account {account}"):
            found = accounts.begin_create(resource_group, account, parameters).result()
        progress(f"Created storage account {account}")
    else:
        progress(f"Reusing storage account {account}")
    endpoints = found.properties.primary_endpoints if found.properties else None
    if endpoints is None or not endpoints.blob or not endpoints.web:
        raise DeployError(f"storage account {account} has no blob or static-website endpoint")
    return {"blob": str(endpoints.blob), "web": str(endpoints.web)}


def website_service(clients: AzureClients, resource_group: str, account: str, blob_url: str) -> Any:
    """A data-plane client with the account's key (read through Resource Manager, not kept)."""
    from azure.storage.blob import BlobServiceClient

    with azure_errors(f"Reading the access key of storage account {account}"):
        listed = clients.storage.storage_accounts.list_keys(resource_group, account)
    # azure-mgmt-storage 25 models are mappings: ``.keys`` is Mapping.keys, the list is here.
    keys = listed.keys_property or []
    if not keys or not keys[0].value:
        raise DeployError(f"storage account {account} returned no access key")
    extra = {"transport": clients.transport} if clients.transport is not None else {}
    return BlobServiceClient(
        blob_url, credential={"account_name": account, "account_key": keys[0].value}, **extra
    )


def enable_static_website(service: Any) -> None:
    from azure.storage.blob import StaticWebsite

    service.set_service_properties(
        static_website=StaticWebsite(
            enabled=True, index_document=INDEX_DOCUMENT, error_document404_path=NOT_FOUND_DOCUMENT
        )
    )


def _host_of(url: str) -> str:
    from urllib.parse import urlparse

    host = urlparse(url).hostname
    if not host:
        raise DeployError(f"not an endpoint URL: {url!r}")
    return host


# --- files ---------------------------------------------------------------------------------------


def sync_blobs(client: Any, files: list[SiteFile], progress: Callable[[str], None]) -> list[str]:
    """Upload every file (pages last), then delete the blobs that are no longer part of the site.

    Returns the names of the removed blobs.
    """
    from azure.storage.blob import ContentSettings

    progress(f"Uploading {len(files)} files to {client.container_name}")
    for number, site_file in enumerate(files, start=1):
        with site_file.path.open("rb") as body:
            client.upload_blob(
                site_file.key,
                body,
                overwrite=True,
                content_settings=ContentSettings(
                    content_type=site_file.content_type, cache_control=site_file.cache_control
                ),
            )
        if number % 50 == 0:
            progress(f"Uploaded {number}/{len(files)} files")
    progress(f"Uploaded {len(files)} files")
    keep = {f.key for f in files}
    stale = sorted(name for name in client.list_blob_names() if name not in keep)
    for blob in stale:
        client.delete_blob(blob, delete_snapshots="include")
    if stale:
        progress(f"Removed {len(stale)} files that are no longer part of the site")
    return stale
