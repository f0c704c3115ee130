"""What the Azure deployers share: their SDK clients, the site's resource group, and errors.

Every Azure site lives in one resource group of its own, named like the site's other
resources (``tmux-{prefix}-{slug}``) and tagged like them, so that teardown is one delete.
A resource group that exists but is tagged for another user is never written to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from agent.errors import DeployError
from tmux_builder import azure
from tmux_builder.settings import AzureSettings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential


@contextmanager
def azure_errors(action: str) -> Iterator[None]:
    """Azure failures as DeployError with the service's code and message (never credentials)."""
    from azure.core.exceptions import AzureError

    try:
        yield
    except azure.AzureConfigError as exc:
        raise DeployError(f"{action} failed: {exc}") from exc
    except AzureError as exc:
        raise DeployError(f"{action} failed: {azure.describe(exc)}") from exc


@dataclass
class AzureClients:
    """The management clients of one deploy, made on first use.

    ``credential`` and ``transport`` are for tests and other hosts: by default the operator's
    service principal (:func:`tmux_builder.azure.credential`) and azure-core's own transport.
    """

    settings: AzureSettings
    credential: TokenCredential | None = None
    transport: Any = None
    _made: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def token_credential(self) -> TokenCredential:
        return self.credential or azure.credential(self.settings)

    def _client(self, name: str, factory: Callable[[], type[Any]]) -> Any:
        if name not in self._made:
            self._made[name] = azure.management_client(
                factory(), self.settings, self.token_credential, self.transport
            )
        return self._made[name]

    @property
    def resources(self) -> Any:
        def make() -> type[Any]:
            from azure.mgmt.resource.resources import ResourceManagementClient

            return ResourceManagementClient

        return self._client("resources", make)

    @property
    def storage(self) -> Any:
        def make() -> type[Any]:
            from azure.mgmt.storage import StorageManagementClient

            return StorageManagementClient

        return self._client("storage", make)

    @property
    def cdn(self) -> Any:
        def make() -> type[Any]:
            from azure.mgmt.cdn import CdnManagementClient

            return CdnManagementClient

        return self._client("cdn", make)

    @property
    def network(self) -> Any:
        def make() -> type[Any]:
            from azure.mgmt.network import NetworkManagementClient

            return NetworkManagementClient

        return self._client("network", make)

    @property
    def compute(self) -> Any:
        def make() -> type[Any]:
            from azure.mgmt.compute import ComputeManagementClient

            return ComputeManagementClient

        return self._client("compute", make)


def ensure_resource_group(
    clients: AzureClients,
    name: str,
    tags: dict[str, str],
    progress: Callable[[str], None],
    *,
    exists: Callable[[], None] = lambda: None,
) -> str:
    """Create or update the site's resource group (idempotent PUT); its id.

    ``exists`` is called once, as soon as the group is known to be the site's (found, or just
    created): the deployer records it there, before anything that can still fail.
    """
    from azure.core.exceptions import ResourceNotFoundError

    groups = clients.resources.resource_groups
    with azure_errors(f"Reading resource group {name}"):
        try:
            existing = groups.get(name)
        except ResourceNotFoundError:
            existing = None
    if existing is not None:
        owner = (existing.tags or {}).get("UserGUID")
        if owner is not None and owner != tags.get("UserGUID"):
            raise DeployError(f"resource group {name} exists but is not this user's site")
        progress(f"Reusing resource group {name}")
        exists()
    with azure_errors(f"Creating resource group {name}"):
        group = groups.create_or_update(
            name,
            {
                "location": existing.location if existing else clients.settings.location,
                "tags": tags,
            },
        )
    if existing is None:
        exists()
        progress(f"Created resource group {name} in {group.location}")
    return str(group.id)
