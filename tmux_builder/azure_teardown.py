"""Removing a site's Azure resources, for the control plane's teardown (operator credentials).

An Azure site is recorded as one resource: its resource group on Azure (everything of the
site is inside, so one delete removes it all), or its blob container on the embedded stack's
Azurite. Teardown runs in the control plane, which has no Azure SDK in its Lambda package:
the resource group is removed with two plain Resource Manager calls over ``requests`` (an
Entra ID client-credentials token, then ``DELETE``). Before anything is deleted it is checked
to be the user's: a group tagged for another user is left alone.

The Azurite container path exists only on the embedded stack, whose control plane runs with
every dependency installed; it uses azure-storage-blob and the development account's key, and
the endpoint from the control plane's own settings, never one from the record.
"""

from __future__ import annotations

from typing import Any

from tmux_builder import azure
from tmux_builder.settings import AzureSettings

RESOURCE_GROUP_API_VERSION = "2021-04-01"
_TIMEOUT_S = 30.0


class AzureRemovalError(Exception):
    """A resource teardown did not remove; the message is the reason in the report."""


class AzureNotOwned(AzureRemovalError):
    """The resource is tagged for another user; left alone."""


def remove_resource_group(
    settings: AzureSettings, name: str, user_id: str, *, session: Any = None
) -> bool:
    """Delete the site's resource group; False when it was already gone.

    Resource Manager deletes a group asynchronously: an accepted delete (202) counts as
    removed; what it contained goes with it.
    """
    import requests

    http = session or requests.Session()
    subscription = azure.require_subscription(settings)
    url = (
        f"{settings.management_endpoint.rstrip('/')}/subscriptions/{subscription}"
        f"/resourcegroups/{name}?api-version={RESOURCE_GROUP_API_VERSION}"
    )
    headers = {"Authorization": f"Bearer {_token(settings, http)}"}
    found = http.get(url, headers=headers, timeout=_TIMEOUT_S)
    if found.status_code == 404:
        return False
    _raise_for_status(found, f"reading resource group {name}")
    owner = (found.json().get("tags") or {}).get("UserGUID")
    if owner is not None and owner != user_id:
        raise AzureNotOwned(f"resource group {name} is tagged for another user; left alone")
    deleted = http.delete(url, headers=headers, timeout=_TIMEOUT_S)
    if deleted.status_code == 404:
        return False
    _raise_for_status(deleted, f"deleting resource group {name}")
    return True


def _token(settings: AzureSettings, http: Any) -> str:
    """An Entra ID access token for Resource Manager (client-credentials grant)."""
    principal = azure.service_principal(settings)
    response = http.post(
        f"{settings.authority_host.rstrip('/')}/{principal.tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": principal.client_id,
            "client_secret": principal.client_secret,
            "scope": f"{settings.management_endpoint.rstrip('/')}/.default",
        },
        timeout=_TIMEOUT_S,
    )
    if response.status_code != 200:
        # Entra ID's error text names the problem (bad secret, unknown app), never the secret.
        try:
            detail = response.json().get("error_description", "")
        except ValueError:
            detail = ""
        first_line = str(detail).splitlines()[0] if detail else f"HTTP {response.status_code}"
        raise AzureRemovalError(f"Azure sign-in failed: {first_line}")
    return str(response.json()["access_token"])


def _raise_for_status(response: Any, action: str) -> None:
    if response.status_code < 400:
        return
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    code = error.get("code") or f"HTTP {response.status_code}"
    message = error.get("message") or ""
    raise AzureRemovalError(f"{action} failed: {code}: {message}".rstrip(": "))


def remove_blob_container(settings: AzureSettings, container: str, user_id: str) -> bool:
    """Delete a site's Azurite container; False when it was already gone."""
    from azure.core.exceptions import AzureError, ResourceNotFoundError
    from azure.storage.blob import BlobServiceClient

    if not settings.blob_endpoint:
        raise AzureRemovalError("no Azure Blob endpoint is configured to remove containers from")
    client = BlobServiceClient(
        settings.blob_endpoint,
        credential={"account_name": azure.AZURITE_ACCOUNT, "account_key": azure.AZURITE_KEY},
    ).get_container_client(container)
    try:
        owner = (client.get_container_properties().metadata or {}).get("UserGUID")
        if owner is not None and owner != user_id:
            raise AzureNotOwned(f"blob container {container} is tagged for another user")
        client.delete_container()
    except ResourceNotFoundError:
        return False
    except AzureError as exc:
        raise AzureRemovalError(
            f"deleting blob container {container} failed: {azure.describe(exc)}"
        ) from exc
    return True
