"""Resources are recorded the moment they exist: by the step handler, once per (type, id).

The deploy step runs for real: the aws/static deployer as the user's role (assumed in moto),
and the ResourceCreated events go through the real EventPublisher to a moto SQS queue, which
is what the control plane reads its records from. The deployer hands every resource to
``record`` and returns it as well; the queue must still see each one once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from agent.credentials import forget_user
from agent.deploy import azure_static
from agent.deploy.aws_static import (
    RESOURCE_BUCKET,
    RESOURCE_DISTRIBUTION,
    RESOURCE_ORIGIN_ACCESS_CONTROL,
)
from agent.deploy.azure_arm import AzureClients
from agent.deploy.base import SiteResource
from agent.edge import Edge
from agent.errors import DeployError
from agent.events import EventPublisher, ResourceNotRecorded
from agent.step_handlers import StepContext, StepHandlers
from agent.workspace import Workspace
from tests.fixtures.azure import SUBSCRIPTION, Replay, StaticToken, transport
from tmux_builder import aws as shared_aws
from tmux_builder import azure
from tmux_builder.contracts import (
    AgentEventEnvelope,
    AgentTask,
    PipelineState,
    Provider,
    ResourceCreated,
    SiteSpec,
    SiteType,
)
from tmux_builder.naming import resource_tags
from tmux_builder.pipeline import Step
from tmux_builder.settings import AgentSettings, AzureSettings, CloudSettings

USER_ID = "0123456789abcdef0123456789abcdef"
SESSION_ID = "sess_20250101T000000_abcdef"
BUCKET = "tmux-0123456789ab-bakery-abcdef"
ROLE_ARN = "arn:aws:iam::123456789012:role/tmux-user-0123456789ab"


class FakeEdge(Edge):
    """Answers a fixed URL, or fails: the last step of the deploy, after every resource."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__(site_server="http://edge.test")
        object.__setattr__(self, "fail", fail)

    def url_for(self, distribution_id: str, domain_name: str) -> str:
        if self.fail:  # type: ignore[attr-defined]
            raise DeployError(f"the edge did not register {distribution_id}")
        return f"http://edge.test/{distribution_id}/"


@pytest.fixture
def queue_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto with the user's role (to assume) and the agent events queue."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    shared_aws.reset()
    with mock_aws():
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        boto3.client("iam").create_role(
            RoleName="tmux-user-0123456789ab", AssumeRolePolicyDocument=json.dumps(trust)
        )
        yield boto3.client("sqs").create_queue(QueueName="agent-events")["QueueUrl"]
    forget_user(USER_ID)
    shared_aws.reset()


def _handlers(tmp_path: Path, queue_url: str, edge: Edge) -> StepHandlers:
    unused: Any = None
    context = StepContext(
        settings=AgentSettings(work_dir=tmp_path / "work"),
        cloud=CloudSettings(),
        engine=unused,
        events=EventPublisher(queue_url),
        artifacts=unused,
        edge=edge,
    )
    return StepHandlers(context)


def _deploy_task(tmp_path: Path) -> AgentTask:
    """The deploy step of a static AWS site whose code the AI has written."""
    site = SiteSpec(
        provider=Provider.AWS,
        site_type=SiteType.STATIC,
        slug="bakery-abcdef",
        resource_name=BUCKET,
    )
    code = Workspace(tmp_path / "work", USER_ID).code_dir
    code.mkdir(parents=True)
    (code / "index.html").write_text("<html><head><title>Bakery</title></head></html>")
    state = PipelineState(
        execution_id="0123456789ab_sess_20250101T000000_abcdef",
        user_id=USER_ID,
        session_id=SESSION_ID,
        site=site,
        identity_role_arn=ROLE_ARN,
    )
    return AgentTask(task_token="t", step=Step.DEPLOY, state=state)


def _resource_events(queue_url: str) -> list[ResourceCreated]:
    sqs = boto3.client("sqs")
    events: list[ResourceCreated] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not messages:
            return events
        for message in messages:
            event = AgentEventEnvelope.model_validate_json(message["Body"]).event
            if isinstance(event, ResourceCreated):
                events.append(event)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_each_resource_is_sent_once_though_recorded_and_returned(
    tmp_path: Path, queue_url: str
) -> None:
    result = _handlers(tmp_path, queue_url, FakeEdge()).handle(_deploy_task(tmp_path))

    events = _resource_events(queue_url)
    sent = Counter((e.resource_type, e.resource_id) for e in events)
    assert set(sent.values()) == {1}
    assert {t for t, _ in sent} == {
        RESOURCE_BUCKET,
        RESOURCE_ORIGIN_ACCESS_CONTROL,
        RESOURCE_DISTRIBUTION,
    }
    assert (RESOURCE_DISTRIBUTION, result["distribution_id"]) in sent
    bucket = next(e for e in events if e.resource_type == RESOURCE_BUCKET)
    assert (bucket.resource_id, bucket.metadata) == (BUCKET, {"region": "us-east-1"})
    assert {(e.user_id, e.session_id) for e in events} == {(USER_ID, SESSION_ID)}


def test_a_deploy_that_fails_at_the_end_has_sent_every_resource(
    tmp_path: Path, queue_url: str
) -> None:
    with pytest.raises(DeployError, match="did not register"):
        _handlers(tmp_path, queue_url, FakeEdge(fail=True)).handle(_deploy_task(tmp_path))

    sent = Counter((e.resource_type, e.resource_id) for e in _resource_events(queue_url))
    assert set(sent.values()) == {1}
    (distribution,) = boto3.client("cloudfront").list_distributions()["DistributionList"]["Items"]
    (control,) = boto3.client("cloudfront").list_origin_access_controls()[
        "OriginAccessControlList"
    ]["Items"]
    assert set(sent) == {
        (RESOURCE_BUCKET, BUCKET),
        (RESOURCE_ORIGIN_ACCESS_CONTROL, control["Id"]),
        (RESOURCE_DISTRIBUTION, distribution["Id"]),
    }


def test_a_resource_that_cannot_be_recorded_fails_the_deploy_for_a_retry(
    tmp_path: Path, queue_url: str
) -> None:
    """Progress may be dropped; a resource record may not (teardown works from the records)."""
    boto3.client("sqs").delete_queue(QueueUrl=queue_url)

    with pytest.raises(ResourceNotRecorded, match=f"could not record .*{BUCKET}") as raised:
        _handlers(tmp_path, queue_url, FakeEdge()).handle(_deploy_task(tmp_path))

    assert raised.value.error_code == "DeployError"  # the state machine retries the deploy


# --- azure/static on Azure: the group is recorded before the storage account is made ----------

GROUP = "tmux-0123456789ab-cafe-abcdef"
ACCOUNT = "tmux0123456789abcafe0000"


def _not_found(path: str) -> dict[str, Any]:
    body = {"error": {"code": "ResourceNotFound", "message": "not found"}}
    return {"request": {"method": "GET", "path": path}, "response": {"status": 404, "body": body}}


def test_azure_static_records_its_resource_group_before_the_storage_account(
    tmp_path: Path,
) -> None:
    tags = resource_tags(USER_ID, SESSION_ID, "static")
    group_path = f"/subscriptions/{SUBSCRIPTION}/resourcegroups/{GROUP}"
    account_path = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}"
        f"/providers/Microsoft.Storage/storageAccounts/{ACCOUNT}"
    )
    group = {
        "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}",
        "name": GROUP,
        "location": "eastus",
        "tags": tags,
        "properties": {"provisioningState": "Succeeded"},
    }
    refused = {"error": {"code": "AuthorizationFailed", "message": "not allowed"}}
    replay = Replay(
        [
            _not_found(group_path),
            {
                "request": {"method": "PUT", "path": group_path},
                "response": {"status": 201, "body": group},
            },
            {
                "request": {"method": "GET", "path": account_path},
                "response": {"status": 403, "body": refused},
            },
        ]
    )
    site = tmp_path / "dist"
    site.mkdir()
    (site / "index.html").write_text("<html><head><title>Cafe</title></head></html>")
    settings = AzureSettings(subscription_id=SUBSCRIPTION, location="eastus")
    clients = AzureClients(settings, credential=StaticToken(), transport=transport(replay))
    recorded: list[tuple[SiteResource, int]] = []

    with pytest.raises(DeployError, match="AuthorizationFailed"):
        azure_static.deploy_to_azure(
            site,
            clients,
            resource_group=GROUP,
            account=ACCOUNT,
            tags=tags,
            progress=lambda _message: None,
            record=lambda resource: recorded.append((resource, len(replay.sent))),
        )

    assert replay.remaining == []
    assert recorded == [
        (
            SiteResource(
                azure.RESOURCE_GROUP,
                GROUP,
                {"subscription_id": SUBSCRIPTION, "location": "eastus", "storage_account": ACCOUNT},
            ),
            2,  # right after the group's PUT, before the storage account's first request
        )
    ]
