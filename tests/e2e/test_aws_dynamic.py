"""An aws/dynamic site end to end on one machine: `tmux-builder up`, a build through the API
with the real Claude Code CLI on the offline model, all nine steps, a live Node.js app (run by
the stack's instance host for the moto instance the deployer launched), a redeploy that keeps
the URL, and teardown stopping the app."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
import requests

from tests.e2e.launcher import eventually, finished_build
from tmux_builder.api_client import ApiClient

pytestmark = [pytest.mark.e2e, pytest.mark.tmux, pytest.mark.claude, pytest.mark.browser]
REQUIREMENTS = "A bakery named Golden Loaf in Lisbon, with its breads and opening hours"


@pytest.fixture(scope="module")
def stack(shared_stack: dict[str, Any]) -> dict[str, Any]:
    return shared_stack


def _ec2(info: dict[str, Any]) -> Any:
    return boto3.client(
        "ec2",
        endpoint_url=info["aws_endpoint"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_a_dynamic_site_is_built_redeployed_and_torn_down(stack: dict[str, Any]) -> None:
    api = ApiClient(stack["api_url"], token=stack["admin_token"])
    started = api.create_user(
        email="golden-loaf@example.com",
        requirements=REQUIREMENTS,
        provider="aws",
        site_type="dynamic",
    )
    status = finished_build(api, started["execution_id"], stack)
    assert [s["status"] for s in status["steps"]] == ["succeeded"] * 9
    assert status["e2e"]["ok"] is True
    # The generated tests include the API ones (health, JSON, API-driven content).
    assert status["e2e"]["passed"] >= 10

    url = status["deployed_url"]
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "Golden Loaf" in page.text
    assert 'data-api="/api/' in page.text
    route = page.text.split('data-api="', 1)[1].split('"', 1)[0]
    api_answer = requests.get(url.rstrip("/") + route, timeout=10)
    assert api_answer.status_code == 200
    assert api_answer.headers["content-type"].startswith("application/json")
    assert api_answer.json()["items"]
    assert requests.get(url.rstrip("/") + "/healthz", timeout=10).json() == {"status": "ok"}
    assert requests.get(url.rstrip("/") + "/server.js", timeout=10).status_code == 404

    ec2 = _ec2(stack)
    user_prefix = status["user_id"][:12]
    reservations = ec2.describe_instances(
        Filters=[{"Name": "tag:UserGUID", "Values": [status["user_id"]]}]
    )["Reservations"]
    (instance,) = [i for r in reservations for i in r["Instances"]]
    assert instance["State"]["Name"] == "running"
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags["Project"] == "tmux-builder" and tags["SiteType"] == "dynamic"
    assert tags["Name"].startswith(f"tmux-{user_prefix}-")

    redeploy = requests.post(
        f"{stack['api_url']}/api/redeploy/{started['execution_id']}",
        headers={"Authorization": f"Bearer {stack['admin_token']}"},
        json={"from_step": "deploy"},
        timeout=30,
    )
    assert redeploy.status_code == 202, redeploy.text
    again = finished_build(api, redeploy.json()["execution_id"], stack)
    assert again["deployed_url"] == url
    assert requests.get(url, timeout=10).status_code == 200
    reservations = ec2.describe_instances(
        Filters=[{"Name": "tag:UserGUID", "Values": [status["user_id"]]}]
    )["Reservations"]
    assert [i["InstanceId"] for r in reservations for i in r["Instances"]] == [
        instance["InstanceId"]
    ]

    deleted = requests.delete(
        f"{stack['api_url']}/api/admin/users/{status['user_id']}",
        headers={"Authorization": f"Bearer {stack['admin_token']}"},
        timeout=60,
    )
    assert deleted.status_code == 200, deleted.text
    removed = {r["resource_type"] for r in deleted.json()["removed"]}
    assert {
        "ec2_instance",
        "ec2_security_group",
        "iam_instance_profile",
        "iam_instance_role",
        "s3_bucket",
    } <= removed, deleted.text

    def app_stopped() -> bool:
        try:
            requests.get(url, timeout=1)
        except requests.ConnectionError:
            return True
        return False

    assert eventually(app_stopped), "the app still answers after its instance was terminated"
