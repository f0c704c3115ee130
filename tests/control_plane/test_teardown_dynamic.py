"""Teardown of a dynamic site against the embedded stack: the instance, its security group,
instance profile, role and release bucket go; another user's recorded by mistake stay. A
security group whose instance is still shutting down is deleted by a later pass."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agent.credentials import UserCredentials
from agent.deploy.aws_dynamic import deploy_dynamic_site
from agent.edge import InstanceEndpoints
from control_plane import iam_identity, sessions, teardown, tracking, users
from tmux_builder import aws, naming
from tmux_builder.contracts import Provider, SiteType, TeardownFollowUp
from tmux_builder.local.provision import StackOutputs

from .followups import drop_follow_ups, queued_follow_ups, refusing, run_follow_ups

DYNAMIC_TYPES = [
    "ec2_instance",
    "ec2_security_group",
    "iam_instance_profile",
    "iam_instance_role",
    "s3_bucket",
]


class FixedEndpoints(InstanceEndpoints):
    def __init__(self) -> None:
        super().__init__(instance_host="http://instances.test")

    def url_for(self, instance_id: str, public_dns_name: str) -> str:
        return f"http://instances.test/{instance_id}/"


def _dynamic_site(user_id: str, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """A dynamic site deployed as the user's role, its resources recorded (type -> id)."""
    iam_identity.ensure_identity(user_id)
    account = aws.client("sts").get_caller_identity()["Account"]
    role_arn = f"arn:aws:iam::{account}:role/tmux-user-{user_id[:12]}"
    session_id = naming.new_session_id()
    sessions.create(user_id, session_id, Provider.AWS, SiteType.DYNAMIC, "Bread shop")
    spec = sessions.activate(user_id, session_id)
    code = tmp_path / session_id
    code.mkdir()
    (code / "index.html").write_text("<title>Bread shop</title>")
    (code / "package.json").write_text('{"scripts": {"start": "node server.js"}}')
    outcome = deploy_dynamic_site(
        UserCredentials().session_for_user(role_arn, user_id),
        code,
        name=spec.resource_name,
        tags=naming.resource_tags(user_id, session_id, "dynamic"),
        endpoints=FixedEndpoints(),
        progress=lambda _message: None,
        launch_key=f"exec-{session_id}",
        poll_interval_s=0,
        profile_wait_s=0,
    )
    for resource in outcome.resources:
        tracking.record_resource(
            user_id, session_id, resource.type, resource.id, dict(resource.metadata)
        )
    return session_id, {r.type: r.id for r in outcome.resources}


def _state(instance_id: str) -> str:
    reservations = aws.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]
    return str(reservations[0]["Instances"][0]["State"]["Name"])


def _exists(call: Any, **kwargs: Any) -> bool:
    from botocore.exceptions import ClientError

    try:
        call(**kwargs)
    except ClientError:
        return False
    return True


def test_teardown_removes_a_dynamic_site_and_only_the_users(
    stack: StackOutputs, tmp_path: Path
) -> None:
    owner = users.find_or_create(f"dyn-{os.urandom(4).hex()}@example.com", None).user_id
    neighbour = users.find_or_create(f"dyn-{os.urandom(4).hex()}@example.com", None).user_id
    session_id, ids = _dynamic_site(owner, tmp_path)
    neighbour_session, neighbour_ids = _dynamic_site(neighbour, tmp_path)
    # A wrong record: the neighbour's security group, as if reported for this user's site.
    tracking.record_resource(
        owner, session_id, "ec2_security_group", neighbour_ids["ec2_security_group"]
    )

    report = teardown.teardown_session(owner, session_id)

    assert sorted(kind for kind, _ in report.removed) == DYNAMIC_TYPES
    ((kind, resource_id, reason),) = report.failed
    assert (kind, resource_id) == ("ec2_security_group", neighbour_ids["ec2_security_group"])
    assert "not named for this user" in reason
    assert _state(ids["ec2_instance"]) == "terminated"
    ec2, iam, s3 = aws.client("ec2"), aws.client("iam"), aws.client("s3")
    assert not _exists(ec2.describe_security_groups, GroupIds=[ids["ec2_security_group"]])
    assert not _exists(iam.get_instance_profile, InstanceProfileName=ids["iam_instance_profile"])
    assert not _exists(iam.get_role, RoleName=ids["iam_instance_role"])
    assert not _exists(s3.head_bucket, Bucket=ids["s3_bucket"])

    assert _state(neighbour_ids["ec2_instance"]) == "running"
    assert _exists(ec2.describe_security_groups, GroupIds=[neighbour_ids["ec2_security_group"]])
    assert _exists(iam.get_role, RoleName=neighbour_ids["iam_instance_role"])

    again = teardown.teardown_session(owner, session_id)  # idempotent: only the wrong record
    assert again.removed == [] and len(again.failed) == 1
    assert teardown.teardown_session(neighbour, neighbour_session).failed == []


def test_a_security_group_still_in_use_is_deleted_by_a_later_pass(
    stack: StackOutputs, tmp_path: Path
) -> None:
    drop_follow_ups()
    owner = users.find_or_create(f"dyn-{os.urandom(4).hex()}@example.com", None).user_id
    session_id, ids = _dynamic_site(owner, tmp_path)
    group = ids["ec2_security_group"]

    # AWS keeps the group in use until the terminated instance is gone (minutes).
    with refusing("ec2", "DeleteSecurityGroup", "DependencyViolation") as refused:
        report = teardown.teardown_session(owner, session_id)

    assert [request["body"]["GroupId"] for request in refused] == [group]
    ((kind, resource_id, reason),) = report.failed
    assert (kind, resource_id) == ("ec2_security_group", group) and "still in use" in reason
    assert report.waiting == report.failed
    assert report.follow_up == TeardownFollowUp(user_id=owner, session_id=session_id, attempt=2)
    assert [f for _, f in queued_follow_ups()] == [report.follow_up]
    assert _state(ids["ec2_instance"]) == "terminated"
    statuses = {r["resource_id"]: r["status"] for r in tracking.resources_of(owner)}
    assert statuses[group] == "deleting"
    assert sessions.get(owner, session_id)["status"] == "deleting"

    assert run_follow_ups(stack) == [{"batchItemFailures": []}]

    ec2 = aws.client("ec2")
    assert not _exists(ec2.describe_security_groups, GroupIds=[group])
    statuses = {
        r["resource_type"]: r["status"]
        for r in tracking.resources_of(owner)
        if r["session_id"] == session_id
    }
    assert statuses == dict.fromkeys(DYNAMIC_TYPES, "deleted")
    assert sessions.get(owner, session_id)["status"] == "deleted"
    assert queued_follow_ups() == []
