"""The Azure Resource Manager stand-in: the real azure/dynamic deployer (azure-mgmt-* SDKs) runs
against it, the VM's app runs on the instance host, a redeploy goes through Run Command, and the
control plane's teardown deletes the group and stops the app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from agent.deploy import azure_vm
from agent.deploy.azure_arm import AzureClients
from agent.errors import DeployError
from tmux_builder import azure, azure_teardown
from tmux_builder.local.azure_arm import AzureArm
from tmux_builder.local.instance_host import InstanceHost
from tmux_builder.local.moto_server import MotoServer
from tmux_builder.naming import resource_tags
from tmux_builder.offline_model.dynamic_app_writer import write_dynamic_site
from tmux_builder.offline_model.site_design import design_site
from tmux_builder.settings import AzureSettings

USER_ID = "0123456789abcdef0123456789abcdef"
NAME = "tmux-0123456789ab-golden-loaf-a1b2c3"
TAGS = resource_tags(USER_ID, "sess_20250101T000000_abcdef", "dynamic")


@pytest.fixture
def arm(moto_server: MotoServer, tmp_path: Path) -> Iterator[AzureArm]:
    with (
        InstanceHost(tmp_path / "instances", moto_server.endpoint_url) as host,
        AzureArm(host) as running,
    ):
        yield running


def _settings(arm: AzureArm) -> AzureSettings:
    names = {k.removeprefix("TMUX_BUILDER_AZURE_").lower(): v for k, v in arm.environment().items()}
    return AzureSettings.model_validate(names)


def _code(root: Path, requirements: str) -> Path:
    for relative, content in write_dynamic_site(design_site(requirements)).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root / "code"


def _deploy(arm: AzureArm, code: Path, messages: list[str]) -> azure_vm.DeployOutcome:
    return azure_vm.deploy_vm_site(
        code, AzureClients(_settings(arm)), name=NAME, tags=TAGS, progress=messages.append
    )


def test_a_vm_site_goes_live_is_redeployed_and_stops_with_its_group(
    arm: AzureArm, tmp_path: Path
) -> None:
    code = _code(tmp_path, "A bakery named Golden Loaf in Lisbon")
    messages: list[str] = []

    outcome = _deploy(arm, code, messages)

    url = outcome.result.url
    assert url.startswith("http://127.0.0.1:")
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "Golden Loaf" in page.text
    assert requests.get(url + "healthz", timeout=5).status_code == 200
    assert [(r.type, r.id) for r in outcome.resources] == [(azure.RESOURCE_GROUP, NAME)]
    assert any("VM " + NAME + " is running" in m for m in messages)

    # A redeploy reaches the same VM through Run Command: same URL, the new release.
    (code / "index.html").write_text(
        (code / "index.html").read_text().replace("Golden Loaf", "Silver Crust")
    )
    again = _deploy(arm, code, messages)
    assert again.result.url == url
    assert "Silver Crust" in requests.get(url, timeout=10).text
    assert any("restarted the site with the new release" in m for m in messages)

    # The control plane's teardown signs in and deletes the group; the app stops with it.
    assert azure_teardown.remove_resource_group(_settings(arm), NAME, USER_ID) is True
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)
    assert azure_teardown.remove_resource_group(_settings(arm), NAME, USER_ID) is False


def test_a_release_that_does_not_start_fails_the_vm_creation(arm: AzureArm, tmp_path: Path) -> None:
    code = _code(tmp_path, "A bakery named Golden Loaf")
    (code / "package.json").write_text('{"scripts": {"start": "node -e process.exit(3)"}}')
    with pytest.raises(DeployError, match="Creating VM .* did not start"):
        _deploy(arm, code, [])


def test_calls_without_the_token_api_version_or_group_are_refused(arm: AzureArm) -> None:
    group = f"{arm.url}/subscriptions/{arm.subscription}/resourcegroups/{NAME}"
    token = {"Authorization": f"Bearer {azure.LOCAL_ARM_TOKEN}"}
    version = {"api-version": "2021-04-01"}

    assert requests.get(group, params=version, timeout=5).status_code == 401
    missing = requests.get(group, headers=token, timeout=5)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "MissingApiVersionParameter"
    nic = requests.put(
        f"{group}/providers/Microsoft.Network/networkInterfaces/{NAME}-nic",
        params=version,
        headers=token,
        json={"location": "eastus"},
        timeout=5,
    )
    assert nic.status_code == 404 and nic.json()["error"]["code"] == "ResourceGroupNotFound"
    no_location = requests.put(group, params=version, headers=token, json={}, timeout=5)
    assert no_location.status_code == 400 and "location" in no_location.json()["error"]["message"]

    signed_in = requests.post(
        f"{arm.url}/{azure.LOCAL_TENANT}/oauth2/v2.0/token",
        data={"client_id": azure.LOCAL_CLIENT_ID, "client_secret": "wrong"},
        timeout=5,
    )
    assert signed_in.status_code == 401
