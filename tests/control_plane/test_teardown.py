"""Teardown against the embedded stack: sites built the way the deployer builds them, recorded the
way the pipeline records them, then removed; checked by listing every service afterwards."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from agent.credentials import UserCredentials
from agent.deploy.aws_static import deploy_static_site
from agent.edge import Edge
from control_plane import iam_identity, sessions, store, teardown, tracking, users
from control_plane.errors import SessionNotFound, UserNotFound
from tmux_builder import aws, keys, naming
from tmux_builder.contracts import AgentCommand, Provider, SiteType, parse_agent_message
from tmux_builder.local.provision import StackOutputs


class FakeEdge(Edge):
    """No site server: every distribution is 'served' at a fixed URL."""

    def __init__(self) -> None:
        super().__init__(site_server="http://edge.test")

    def url_for(self, distribution_id: str, domain_name: str) -> str:
        return f"http://edge.test/{distribution_id}/"


def _new_user() -> str:
    """A user with their IAM identity, as create_user leaves them."""
    user_id = users.find_or_create(f"teardown-{os.urandom(4).hex()}@example.com", None).user_id
    iam_identity.ensure_identity(user_id)
    return user_id


def _site(user_id: str, tmp_path: Path, words: str) -> str:
    """A session with a site deployed as the user's role (as the agent does), its resources
    recorded as the agent's events record them."""
    role_arn = f"arn:aws:iam::{_account()}:role/tmux-user-{user_id[:12]}"
    session_id = naming.new_session_id()
    sessions.create(user_id, session_id, Provider.AWS, SiteType.STATIC, words)
    spec = sessions.activate(user_id, session_id)
    site_dir = tmp_path / session_id
    site_dir.mkdir()
    (site_dir / "index.html").write_text(f"<title>{words}</title>")
    (site_dir / "style.css").write_text("body{}")
    outcome = deploy_static_site(
        UserCredentials().session_for_user(role_arn, user_id),
        site_dir,
        bucket=spec.resource_name,
        tags=naming.resource_tags(user_id, session_id, "static"),
        edge=FakeEdge(),
        progress=lambda _message: None,
        poll_interval_s=0.01,
    )
    for resource in outcome.resources:
        tracking.record_resource(
            user_id, session_id, resource.type, resource.id, dict(resource.metadata)
        )
    return session_id


def _account() -> str:
    return str(aws.client("sts").get_caller_identity()["Account"])


def _tags(call: Any, **kwargs: Any) -> dict[str, str]:
    try:
        answer = call(**kwargs)
    except ClientError:
        return {}
    items = answer.get("TagSet") or answer.get("Tags") or []
    if isinstance(items, dict):
        items = items.get("Items", [])
    return {t["Key"]: t["Value"] for t in items}


def leftovers(user_id: str) -> list[str]:
    """Everything in S3, CloudFront and IAM that is named or tagged for the user."""
    prefix = f"tmux-{user_id[:12]}-"
    found: list[str] = []
    s3 = aws.client("s3")
    for bucket in s3.list_buckets()["Buckets"]:
        tags = _tags(s3.get_bucket_tagging, Bucket=bucket["Name"])
        if bucket["Name"].startswith(prefix) or tags.get("UserGUID") == user_id:
            found.append(f"bucket {bucket['Name']}")
    cloudfront = aws.client("cloudfront")
    for page in cloudfront.get_paginator("list_distributions").paginate():
        for item in page["DistributionList"].get("Items", []):
            tags = _tags(cloudfront.list_tags_for_resource, Resource=item["ARN"])
            if tags.get("UserGUID") == user_id or item["Comment"].startswith(prefix):
                found.append(f"distribution {item['Id']}")
    controls = cloudfront.list_origin_access_controls()["OriginAccessControlList"]
    for item in controls.get("Items", []):
        if item["Name"].startswith(prefix):
            found.append(f"origin access control {item['Id']}")
    iam = aws.client("iam")
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            tags = _tags(iam.list_role_tags, RoleName=role["RoleName"])
            if role["RoleName"] == f"tmux-user-{user_id[:12]}" or tags.get("UserGUID") == user_id:
                found.append(f"role {role['RoleName']}")
    return found


def agent_commands(stack: StackOutputs, user_id: str) -> list[AgentCommand]:
    """Teardown commands for the user on the agent queue (taken); other messages put back."""
    sqs = aws.client("sqs")
    queue = stack.outputs["AgentQueueUrl"]
    commands: list[AgentCommand] = []
    others: list[str] = []
    try:
        while True:  # others stay invisible until the end, so every round sees new messages
            answer = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            if not answer.get("Messages"):
                return commands
            for message in answer["Messages"]:
                parsed = parse_agent_message(message["Body"])
                if isinstance(parsed, AgentCommand) and parsed.user_id == user_id:
                    commands.append(parsed)
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                else:
                    others.append(message["ReceiptHandle"])
    finally:
        for receipt in others:
            sqs.change_message_visibility(
                QueueUrl=queue, ReceiptHandle=receipt, VisibilityTimeout=0
            )


def _statuses(user_id: str) -> dict[str, str]:
    return {
        f"{r['resource_type']} {r['resource_id']}": r["status"]
        for r in tracking.resources_of(user_id)
    }


def test_teardown_removes_everything_of_the_user_and_nothing_else(
    stack: StackOutputs, tmp_path: Path
) -> None:
    user_id, neighbour = _new_user(), _new_user()
    first = _site(user_id, tmp_path, "Sunny bakery")
    second = _site(user_id, tmp_path, "Photo portfolio")
    _site(neighbour, tmp_path, "Neighbour shop")
    assert len(leftovers(user_id)) == 7  # 2 x (bucket, distribution, OAC) + role
    neighbours = leftovers(neighbour)

    report = teardown.teardown_session(user_id, first)
    assert report.failed == []
    assert sorted(kind for kind, _ in report.removed) == [
        "cloudfront_distribution",
        "cloudfront_oac",
        "s3_bucket",
    ]
    assert len(leftovers(user_id)) == 4
    assert sessions.get(user_id, first)["status"] == "deleted"
    assert sessions.get(user_id, second)["status"] == "active"
    assert agent_commands(stack, user_id) == []  # the user still has a live site

    report = teardown.teardown_user(user_id)
    assert report.failed == []
    assert sorted(kind for kind, _ in report.removed) == [
        "cloudfront_distribution",
        "cloudfront_oac",
        "iam_role",
        "s3_bucket",
    ]
    assert leftovers(user_id) == []
    assert leftovers(neighbour) == neighbours
    assert set(_statuses(user_id).values()) == {"deleted"}
    assert sessions.get(user_id, second)["status"] == "deleted"
    assert users.get(user_id)["status"] == "deleted"
    assert agent_commands(stack, user_id) == [AgentCommand(user_id=user_id)]

    again = teardown.teardown_user(user_id)
    assert (again.removed, again.failed) == ([], [])
    assert teardown.teardown_session(user_id, first).removed == []
    assert len(agent_commands(stack, user_id)) == 2  # repeated, harmless for the agent


def test_records_that_are_not_the_users_are_reported_never_acted_on(
    stack: StackOutputs, tmp_path: Path
) -> None:
    user_id, neighbour = _new_user(), _new_user()
    session_id = _site(user_id, tmp_path, "Tea room")
    neighbour_session = _site(neighbour, tmp_path, "Coffee bar")
    neighbour_bucket = sessions.get(neighbour, neighbour_session)["resource_name"]
    neighbour_distribution = next(
        r["resource_id"]
        for r in tracking.resources_of(neighbour)
        if r["resource_type"] == "cloudfront_distribution"
    )
    tracking.record_resource(user_id, session_id, "s3_bucket", neighbour_bucket)
    tracking.record_resource(user_id, session_id, "cloudfront_distribution", neighbour_distribution)
    tracking.record_resource(user_id, session_id, "gce_instance", "i-0123456789abcdef0")

    report = teardown.teardown_user(user_id)

    reasons = {(kind, rid): reason for kind, rid, reason in report.failed}
    assert "not named for this user" in reasons[("s3_bucket", neighbour_bucket)]
    assert (
        "not tagged for this user" in reasons[("cloudfront_distribution", neighbour_distribution)]
    )
    assert (
        "cannot remove resources of type 'gce_instance'"
        in reasons[("gce_instance", "i-0123456789abcdef0")]
    )
    assert len(report.failed) == 3
    assert leftovers(user_id) == []  # the user's own site went
    assert len(leftovers(neighbour)) == 4  # the neighbour's site and role stayed
    assert _statuses(user_id)[f"s3_bucket {neighbour_bucket}"] == "delete_failed"
    assert sessions.get(user_id, session_id)["status"] == "delete_failed"
    assert users.get(user_id)["status"] == "delete_failed"
    record = store.get(keys.resource(user_id, "gce_instance", "i-0123456789abcdef0"))
    assert record is not None and "gce_instance" in record["delete_error"]
    assert agent_commands(stack, user_id) == [AgentCommand(user_id=user_id)]


def test_a_bucket_already_gone_counts_as_removed(stack: StackOutputs, tmp_path: Path) -> None:
    user_id = _new_user()
    session_id = _site(user_id, tmp_path, "Gone soon")
    bucket = sessions.get(user_id, session_id)["resource_name"]
    s3 = aws.client("s3")
    for key in ("index.html", "style.css"):
        s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)

    report = teardown.teardown_session(user_id, session_id)
    assert report.failed == []
    assert ("s3_bucket", bucket) in report.removed
    assert leftovers(user_id) == [f"role tmux-user-{user_id[:12]}"]  # the user stays
    agent_commands(stack, user_id)


def test_unknown_users_and_sessions(stack: StackOutputs) -> None:
    with pytest.raises(UserNotFound):
        teardown.teardown_user(naming.new_user_id())
    with pytest.raises(SessionNotFound):
        teardown.teardown_session(_new_user(), naming.new_session_id())
    with pytest.raises(ValueError):
        teardown.teardown_user("../../etc")


def test_the_admin_deletes_a_user_through_the_api(client: Any, admin: dict[str, str]) -> None:
    import json as _json

    created = client.http.post(
        "/api/admin/sessions",
        headers={"Content-Type": "application/json", **admin},
        body=_json.dumps(
            {"email": "leaving@example.com", "host_provider": "aws", "site_type": "static"}
        ),
    )
    assert created.status_code == 201, created.body
    user_id = _json.loads(created.body)["user_id"]
    from control_plane import iam_identity

    iam_identity.ensure_identity(user_id)  # what the first build's create_user step does
    assert client.http.delete(f"/api/admin/users/{user_id}").status_code == 401
    token = _json.loads(created.body)["client_token"]
    assert (
        client.http.delete(
            f"/api/admin/users/{user_id}", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 403
    )
    response = client.http.delete(f"/api/admin/users/{user_id}", headers=admin)
    assert response.status_code == 200, response.body
    body = _json.loads(response.body)
    assert body["status"] == "deleted"
    assert ("iam_role", f"tmux-user-{user_id[:12]}") in {
        (r["resource_type"], r["resource_id"]) for r in body["removed"]
    }
    assert client.http.delete(f"/api/admin/users/{user_id}", headers=admin).status_code == 200
    assert client.http.delete("/api/admin/users/" + "0" * 32, headers=admin).status_code == 404
