"""The table choosing a deployer for each (provider, site type)."""

from __future__ import annotations

import pytest

from agent.deploy import aws_static
from agent.deploy.base import DEPLOYERS, UnsupportedSite, deployer_for
from tmux_builder.contracts import Provider, SiteSpec, SiteType


def _site(provider: Provider, site_type: SiteType) -> SiteSpec:
    return SiteSpec(provider=provider, site_type=site_type, slug="tea", resource_name="tmux-x-tea")


def test_aws_static_sites_go_to_the_s3_cloudfront_deployer() -> None:
    assert deployer_for(_site(Provider.AWS, SiteType.STATIC)) is aws_static.deploy


def test_a_pair_without_a_deployer_is_a_clear_deploy_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(DEPLOYERS, (Provider.AWS, SiteType.STATIC))
    with pytest.raises(UnsupportedSite, match="cannot deploy aws/static sites") as raised:
        deployer_for(_site(Provider.AWS, SiteType.STATIC))
    assert raised.value.error_code == "UnsupportedSite"


def test_every_provider_and_site_type_the_api_accepts_has_a_deployer() -> None:
    # The API accepts any Provider x SiteType (the enums are its validation): each must deploy.
    for provider in Provider:
        for site_type in SiteType:
            assert callable(deployer_for(_site(provider, site_type))), (provider, site_type)
