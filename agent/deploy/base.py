"""What every deployer takes and returns, and the one table choosing a deployer per site.

A deployer is a function ``deploy(request) -> DeployOutcome`` in its own module. The table
names modules, not functions, so the Azure SDKs (or anything else heavy) load only on a host
that deploys there. Each deployer is idempotent: deploying the same site again reuses its
resources and URL, and the returned resources are all of the site's, not only new ones.

A deployer also hands each resource to ``request.record`` the moment it exists (or is found),
before it does anything that can fail: a deploy that fails half way still leaves every resource
it made recorded for teardown. The caller records each (type, id) once, whichever way it came.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from agent.errors import DeployError
from tmux_builder.contracts import DeployResult, Provider, SiteSpec, SiteType

if TYPE_CHECKING:
    from agent.edge import Edge
    from tmux_builder.settings import AgentSettings, CloudSettings


@dataclass(frozen=True)
class SiteResource:
    """A cloud resource of the site, as the caller records it for teardown."""

    type: str
    id: str
    metadata: dict[str, str] = field(default_factory=dict)


def not_recorded(_resource: SiteResource) -> None:
    """The ``record`` of a deploy whose caller keeps no records (tests, benches)."""


@dataclass(frozen=True)
class DeployOutcome:
    result: DeployResult
    resources: list[SiteResource]


@dataclass(frozen=True)
class DeployRequest:
    """One deploy of one site.

    ``code_dir`` is the AI's working copy of the site (what a dynamic deployer ships);
    ``site_dir`` is what a static host serves (``code_dir/dist`` when the site was built).
    ``aws_session`` is a boto3 session holding the user's own short-lived credentials
    (made lazily: an Azure deploy never assumes an AWS role). ``record`` takes each resource
    as soon as it exists (see the module's docstring).
    """

    site: SiteSpec
    user_id: str
    session_id: str
    execution_id: str
    code_dir: Path
    site_dir: Path
    tags: dict[str, str]
    progress: Callable[[str], None]
    aws_session: Callable[[], Any]
    edge: Edge
    settings: AgentSettings
    cloud: CloudSettings
    code_snapshot_key: str = ""
    record: Callable[[SiteResource], None] = not_recorded


class Deployer(Protocol):
    def __call__(self, request: DeployRequest) -> DeployOutcome: ...


# (provider, site type) -> "module:function"
DEPLOYERS: dict[tuple[Provider, SiteType], str] = {
    (Provider.AWS, SiteType.STATIC): "agent.deploy.aws_static:deploy",
    (Provider.AWS, SiteType.DYNAMIC): "agent.deploy.aws_dynamic:deploy",
    (Provider.AZURE, SiteType.STATIC): "agent.deploy.azure_static:deploy",
    (Provider.AZURE, SiteType.DYNAMIC): "agent.deploy.azure_vm:deploy",
}


class UnsupportedSite(DeployError):
    error_code = "UnsupportedSite"


def deployer_for(site: SiteSpec) -> Deployer:
    target = DEPLOYERS.get((site.provider, site.site_type))
    if target is None:
        raise UnsupportedSite(
            f"this agent cannot deploy {site.provider.value}/{site.site_type.value} sites"
        )
    module_name, _, function = target.partition(":")
    deployer: Deployer = getattr(importlib.import_module(module_name), function)
    return deployer
