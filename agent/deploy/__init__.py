"""Deployers: each puts a built site live on one kind of hosting and says where it is.

:mod:`agent.deploy.base` holds what a deployer takes (:class:`DeployRequest`) and returns
(:class:`DeployOutcome`: a :class:`~tmux_builder.contracts.DeployResult` plus every cloud
resource of the site, for teardown), and the table choosing the deployer of each
(provider, site type). Redeploying reuses the same resources and URL.
"""

from __future__ import annotations

from agent.deploy.base import DeployOutcome, DeployRequest, SiteResource, deployer_for

__all__ = ["DeployOutcome", "DeployRequest", "SiteResource", "deployer_for"]
