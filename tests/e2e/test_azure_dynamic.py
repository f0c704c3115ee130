"""An azure/dynamic site end to end on one machine: `tmux-builder up`, a build through the API
with the real Claude Code CLI on the offline model, all nine steps, the real azure-mgmt deployer
against the stack's Resource Manager stand-in, a live Node.js app (the VM's cloud-init release,
run by the instance host), and teardown deleting the resource group and stopping the app."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.e2e.launcher import eventually, finished_build
from tmux_builder import azure
from tmux_builder.api_client import ApiClient

pytestmark = [pytest.mark.e2e, pytest.mark.tmux, pytest.mark.claude, pytest.mark.browser]
REQUIREMENTS = "A bakery named Copper Oven in Porto, with its breads and opening hours"


@pytest.fixture(scope="module")
def stack(shared_stack: dict[str, Any]) -> dict[str, Any]:
    return shared_stack


def _resource_group(stack: dict[str, Any], name: str) -> requests.Response:
    return requests.get(
        f"{stack['azure_management_endpoint']}/subscriptions/{azure.LOCAL_SUBSCRIPTION}"
        f"/resourcegroups/{name}",
        params={"api-version": "2021-04-01"},
        headers={"Authorization": f"Bearer {azure.LOCAL_ARM_TOKEN}"},
        timeout=10,
    )


def test_an_azure_vm_site_is_built_and_torn_down(stack: dict[str, Any]) -> None:
    api = ApiClient(stack["api_url"], token=stack["admin_token"])
    started = api.create_user(
        email="copper-oven@example.com",
        requirements=REQUIREMENTS,
        provider="azure",
        site_type="dynamic",
    )
    status = finished_build(api, started["execution_id"], stack)
    assert [s["status"] for s in status["steps"]] == ["succeeded"] * 9
    assert status["e2e"]["ok"] is True

    url = status["deployed_url"]
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "Copper Oven" in page.text
    route = page.text.split('data-api="', 1)[1].split('"', 1)[0]
    api_answer = requests.get(url.rstrip("/") + route, timeout=10)
    assert api_answer.status_code == 200
    assert api_answer.headers["content-type"].startswith("application/json")
    assert api_answer.json()["items"]

    # Teardown deletes the site's one resource group (named like the user's other resources).
    deleted = requests.delete(
        f"{stack['api_url']}/api/admin/users/{status['user_id']}",
        headers={"Authorization": f"Bearer {stack['admin_token']}"},
        timeout=60,
    )
    assert deleted.status_code == 200, deleted.text
    (group,) = [
        r["resource_id"]
        for r in deleted.json()["removed"]
        if r["resource_type"] == azure.RESOURCE_GROUP
    ]
    assert group.startswith(f"tmux-{status['user_id'][:12]}-")
    assert _resource_group(stack, group).status_code == 404

    def app_stopped() -> bool:
        try:
            requests.get(url, timeout=1)
        except requests.ConnectionError:
            return True
        return False

    assert eventually(app_stopped), "the app still answers after its resource group was deleted"
