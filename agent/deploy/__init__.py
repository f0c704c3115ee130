"""Deployers: each puts a built site live on one kind of hosting and says where it is.

A deployer takes the site folder, the resource name and tags from ``tmux_builder.naming``,
and returns a :class:`~tmux_builder.contracts.DeployResult` plus every cloud resource it uses,
so the caller can record them for teardown. Redeploying reuses the same resources and URL.
"""

from __future__ import annotations

from agent.deploy.aws_static import DeployOutcome, SiteResource, deploy_static_site

__all__ = ["DeployOutcome", "SiteResource", "deploy_static_site"]
