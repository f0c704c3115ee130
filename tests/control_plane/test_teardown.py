"""Teardown against the embedded stack: sites built the way the deployer builds them, recorded the
way the pipeline records them, then removed; checked by listing every service afterwards.
What only waits for AWS is finished by later passes from the teardown queue, and the agent
command reaches every live agent host."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from agent.credentials import UserCredentials
from agent.deploy.aws_static import deploy_static_site
from agent.edge import Edge
from agent.leases import AgentRegistry, SessionLeases, own_queue_names
from control_plane import (
    iam_identity,
    routing,
    sessions,
    store,
    teardown,
    teardown_followup,
    tracking,
    users,
)
from control_plane.errors import SessionNotFound, UserNotFound
from tmux_builder import aws, keys, naming
from tmux_builder.contracts import (
    AgentCommand,
    Provider,
    SiteType,
    TeardownFollowUp,
    parse_agent_message,
)
from tmux_builder.local.provision import StackOutputs

from .followups import (
    distribution_disabling,
    drop_follow_ups,
    queued_follow_ups,
    refusing,
    run_follow_ups,
)


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


# --------------------------------------------------------------------------- later passes


def _distribution_of(user_id: str, session_id: str) -> str:
    return next(
        r["resource_id"]
        for r in tracking.resources_of(user_id)
        if r["resource_type"] == "cloudfront_distribution" and r["session_id"] == session_id
    )


@pytest.fixture
def follow_ups(stack: StackOutputs) -> Iterator[None]:
    """No later pass of another test is on the teardown queue, and none of this one is left."""
    drop_follow_ups()
    yield
    drop_follow_ups()


def test_a_distribution_still_disabling_is_deleted_by_a_later_pass(
    stack: StackOutputs, tmp_path: Path, follow_ups: None, client: Any, admin: dict[str, str]
) -> None:
    user_id = _new_user()
    session_id = _site(user_id, tmp_path, "Slow edge")
    distribution = _distribution_of(user_id, session_id)

    with distribution_disabling(distribution):
        report = teardown.teardown_session(user_id, session_id)

        assert [(kind, rid) for kind, rid, _ in report.failed] == [
            ("cloudfront_distribution", distribution)
        ]
        assert report.waiting == report.failed
        assert "is being disabled" in report.failed[0][2]
        assert report.follow_up == TeardownFollowUp(
            user_id=user_id, session_id=session_id, attempt=2
        )
        ((delay, queued),) = queued_follow_ups()
        assert queued == report.follow_up
        assert 50 < delay <= teardown_followup.FIRST_DELAY_SECONDS
        statuses = _statuses(user_id)
        assert statuses[f"cloudfront_distribution {distribution}"] == "deleting"
        assert {s for k, s in statuses.items() if not k.startswith("cloudfront_dist")} == {
            "deleted",
            "active",  # the user's role: only a user teardown removes it
        }
        assert sessions.get(user_id, session_id)["status"] == "deleting"
        # The admin's view says the same; the agent was told once (the user's last site).
        shown = client.http.get(f"/api/admin/sessions/{session_id}", headers=admin)
        assert shown.status_code == 200, shown.body
        detail = json.loads(shown.body)
        assert detail["status"] == "deleting"
        assert {r["resource_id"]: r["status"] for r in detail["resources"]}[distribution] == (
            "deleting"
        )
        assert agent_commands(stack, user_id) == [AgentCommand(user_id=user_id)]

    answers = run_follow_ups(stack)  # the delay is over, and so is the disabling

    assert answers == [{"batchItemFailures": []}]
    assert queued_follow_ups() == []
    assert leftovers(user_id) == [f"role tmux-user-{user_id[:12]}"]
    assert _statuses(user_id)[f"cloudfront_distribution {distribution}"] == "deleted"
    assert sessions.get(user_id, session_id)["status"] == "deleted"
    assert agent_commands(stack, user_id) == []  # a later pass does not tell the agent again


def test_a_user_delete_answers_deleting_and_later_passes_wait_longer_each_time(
    stack: StackOutputs, tmp_path: Path, follow_ups: None, client: Any, admin: dict[str, str]
) -> None:
    user_id = _new_user()
    session_id = _site(user_id, tmp_path, "Patient shop")
    distribution = _distribution_of(user_id, session_id)

    with distribution_disabling(distribution):
        response = client.http.delete(f"/api/admin/users/{user_id}", headers=admin)
        assert response.status_code == 200, response.body
        body = json.loads(response.body)
        assert body["status"] == "deleting"
        assert ("iam_role", f"tmux-user-{user_id[:12]}") in {
            (r["resource_type"], r["resource_id"]) for r in body["removed"]
        }
        assert users.get(user_id)["status"] == "deleting"
        assert sessions.get(user_id, session_id)["status"] == "deleting"
        assert [f for _, f in queued_follow_ups()] == [TeardownFollowUp(user_id=user_id, attempt=2)]

        assert run_follow_ups(stack) == [{"batchItemFailures": []}]  # still disabling

        ((delay, queued),) = queued_follow_ups()
        assert queued == TeardownFollowUp(user_id=user_id, attempt=3)
        assert teardown_followup.FIRST_DELAY_SECONDS < delay <= teardown_followup.delay_for(3)
        assert users.get(user_id)["status"] == "deleting"

    assert run_follow_ups(stack) == [{"batchItemFailures": []}]
    assert queued_follow_ups() == []
    assert leftovers(user_id) == []
    assert set(_statuses(user_id).values()) == {"deleted"}
    assert sessions.get(user_id, session_id)["status"] == "deleted"
    assert users.get(user_id)["status"] == "deleted"
    assert agent_commands(stack, user_id) == [AgentCommand(user_id=user_id)]  # once


def test_the_later_passes_are_bounded(
    stack: StackOutputs, tmp_path: Path, follow_ups: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert all(
        teardown_followup.delay_for(attempt) <= 900
        for attempt in range(1, teardown_followup.MAX_ATTEMPTS + 1)
    )
    user_id = _new_user()
    session_id = _site(user_id, tmp_path, "Never deployed")
    distribution = _distribution_of(user_id, session_id)
    last = teardown_followup.MAX_ATTEMPTS
    capsys.readouterr()

    with distribution_disabling(distribution):
        report = teardown.teardown_session(user_id, session_id, attempt=last)

    assert report.follow_up is None and len(report.waiting) == 1
    assert queued_follow_ups() == []
    record = store.get(keys.resource(user_id, "cloudfront_distribution", distribution))
    assert record is not None and record["status"] == "delete_failed"
    assert "is being disabled" in record["delete_error"]
    assert sessions.get(user_id, session_id)["status"] == "delete_failed"
    errors = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and '"ERROR"' in line
    ]
    assert [e["message"] for e in errors] == [
        "teardown gave up waiting: still not removed after the last attempt"
    ]
    assert errors[0]["attempt"] == last and distribution in errors[0]["waiting"][0]
    agent_commands(stack, user_id)


def test_real_errors_are_not_retried_automatically(
    stack: StackOutputs, tmp_path: Path, follow_ups: None, client: Any, admin: dict[str, str]
) -> None:
    user_id, neighbour = _new_user(), _new_user()
    session_id = _site(user_id, tmp_path, "Mixed bag")
    neighbour_session = _site(neighbour, tmp_path, "Next door")
    neighbour_bucket = sessions.get(neighbour, neighbour_session)["resource_name"]
    tracking.record_resource(user_id, session_id, "s3_bucket", neighbour_bucket)
    distribution = _distribution_of(user_id, session_id)

    with distribution_disabling(distribution):
        response = client.http.delete(f"/api/admin/sessions/{session_id}", headers=admin)

    assert response.status_code == 503, response.body
    problems = {p["field"] for p in json.loads(response.body)["fields"]}
    assert problems == {
        f"s3_bucket/{neighbour_bucket}",
        f"cloudfront_distribution/{distribution}",
    }
    assert queued_follow_ups() == []
    statuses = _statuses(user_id)
    assert statuses[f"s3_bucket {neighbour_bucket}"] == "delete_failed"
    # Nothing would finish it but a person: it does not claim to be on its way.
    assert statuses[f"cloudfront_distribution {distribution}"] == "delete_failed"
    assert sessions.get(user_id, session_id)["status"] == "delete_failed"
    assert len(leftovers(neighbour)) == 4
    agent_commands(stack, user_id)


def test_an_origin_access_control_still_in_use_waits_too(
    stack: StackOutputs, tmp_path: Path, follow_ups: None
) -> None:
    """AWS refuses to delete an OAC while a distribution (even a disabled one) uses it."""
    user_id = _new_user()
    session_id = _site(user_id, tmp_path, "Shared signer")
    distribution = _distribution_of(user_id, session_id)

    with (
        distribution_disabling(distribution),
        refusing("cloudfront", "DeleteOriginAccessControl", "OriginAccessControlInUse"),
    ):
        report = teardown.teardown_session(user_id, session_id)

    assert sorted(kind for kind, _, _ in report.waiting) == [
        "cloudfront_distribution",
        "cloudfront_oac",
    ]
    assert report.waiting == report.failed
    assert [f for _, f in queued_follow_ups()] == [report.follow_up]
    assert run_follow_ups(stack) == [{"batchItemFailures": []}]
    assert leftovers(user_id) == [f"role tmux-user-{user_id[:12]}"]
    assert sessions.get(user_id, session_id)["status"] == "deleted"
    agent_commands(stack, user_id)


def test_a_pass_for_a_user_that_is_gone_is_dropped(stack: StackOutputs, follow_ups: None) -> None:
    gone = TeardownFollowUp(user_id=naming.new_user_id(), attempt=2)
    assert teardown_followup.run(gone.model_dump_json()) is None
    assert queued_follow_ups() == []


# --------------------------------------------------------------------------- the agent hosts


@pytest.fixture
def agent_hosts(stack: StackOutputs) -> Iterator[Callable[..., str]]:
    """Registers agent hosts as :class:`agent.leases.AgentRegistry` does, each with its own
    task queue; registrations and queues are removed afterwards."""
    sqs = aws.client("sqs")
    shared = stack.outputs["AgentQueueUrl"]
    registries: list[tuple[AgentRegistry, bool]] = []

    def register(agent_id: str, seconds_left: float, *, queue: bool = True) -> str:
        name = own_queue_names(shared, agent_id)[0]
        url = (
            sqs.create_queue(QueueName=name)["QueueUrl"]
            if queue
            else f"{shared.rsplit('/', 1)[0]}/{name}"
        )
        registry = AgentRegistry(
            stack.outputs["TableName"], agent_id, url, "", lease_seconds=seconds_left
        )
        registry.register()
        registries.append((registry, queue))
        return url

    yield register
    for registry, queue in registries:
        registry.deregister()
        if queue:
            sqs.delete_queue(QueueUrl=registry.queue_url)


def _commands_on(queue_url: str) -> list[AgentCommand]:
    sqs = aws.client("sqs")
    found = []
    while messages := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    ).get("Messages", []):
        for message in messages:
            parsed = parse_agent_message(message["Body"])
            assert isinstance(parsed, AgentCommand)
            found.append(parsed)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_the_agent_command_goes_to_the_own_queue_of_every_live_host(
    stack: StackOutputs, agent_hosts: Callable[..., str]
) -> None:
    first = agent_hosts("teardown-host-a", 60)
    second = agent_hosts("teardown-host-b", 60)
    expired = agent_hosts("teardown-host-c", -60)
    agent_hosts("teardown-host-d", 60, queue=False)  # left after it registered
    user_id = _new_user()

    report = teardown.teardown_user(user_id)

    assert report.failed == []
    assert _commands_on(first) == [AgentCommand(user_id=user_id)]
    assert _commands_on(second) == [AgentCommand(user_id=user_id)]
    assert _commands_on(expired) == []
    assert agent_commands(stack, user_id) == []  # not the shared queue: any host could take it


def test_without_a_live_host_the_agent_command_goes_to_the_shared_queue(
    stack: StackOutputs, agent_hosts: Callable[..., str]
) -> None:
    expired = agent_hosts("teardown-host-e", -60)
    agent_hosts("teardown-host-f", 60, queue=False)
    user_id = _new_user()

    assert teardown.teardown_user(user_id).failed == []

    assert _commands_on(expired) == []
    assert agent_commands(stack, user_id) == [AgentCommand(user_id=user_id)]


def test_a_deleted_site_s_lease_ends_and_its_host_forgets_it(
    stack: StackOutputs, agent_hosts: Callable[..., str]
) -> None:
    """Nothing more is routed to the host that held a deleted site, even when the user keeps
    other sites (their tmux session stays, so the agent is not told)."""
    queue = agent_hosts("teardown-host-g", 60)
    user_id = _new_user()
    deleted = naming.new_session_id()
    kept = naming.new_session_id()
    for session_id in (deleted, kept):
        sessions.create(user_id, session_id, Provider.AWS, SiteType.STATIC, "a tea shop")
    host = SessionLeases(stack.outputs["TableName"], "teardown-host-g", queue, "", 60)
    host.acquire(deleted, user_id)
    host.acquire(kept, user_id)

    assert teardown.teardown_session(user_id, deleted).failed == []

    assert routing.live_lease(deleted) is None
    assert routing.task_route(deleted).queue_url == stack.outputs["AgentQueueUrl"]
    assert host.renew_all() == [deleted]
    assert set(host.held()) == {kept}
    assert routing.task_route(kept).queue_url == queue
