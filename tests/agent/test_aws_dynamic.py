"""The EC2 deployer for dynamic sites against in-process moto: what it creates, once, and
what it cleans up when the instance it launched does not come up."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from agent.deploy.aws_dynamic import (
    RESOURCE_INSTANCE,
    RESOURCE_INSTANCE_PROFILE,
    RESOURCE_INSTANCE_ROLE,
    RESOURCE_SECURITY_GROUP,
    deploy,
    deploy_dynamic_site,
)
from agent.deploy.aws_static import RESOURCE_BUCKET
from agent.deploy.base import DEPLOYERS, DeployRequest, SiteResource
from agent.edge import Edge, InstanceEndpoints
from agent.errors import DeployError
from tests.tools import in_process_moto
from tmux_builder.contracts import Provider, SiteSpec, SiteType
from tmux_builder.dynamic_site import (
    RELEASE_KEY,
    SITE_CONFIG_PATH,
    InvalidUserData,
    site_config_from_user_data,
)
from tmux_builder.naming import resource_tags
from tmux_builder.settings import AgentSettings, CloudSettings

USER_ID = "0123456789abcdef0123456789abcdef"
OTHER_USER = "fedcba9876543210fedcba9876543210"
SESSION_ID = "sess_20250101T000000_abcdef"
NAME = "tmux-0123456789ab-bakery-abcdef"
TAGS = resource_tags(USER_ID, SESSION_ID, "dynamic")


class FakeEndpoints(InstanceEndpoints):
    """Records what it was asked; answers a fixed URL (or fails, to test the cleanup)."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__(instance_host="http://instances.test")
        object.__setattr__(self, "calls", [])
        object.__setattr__(self, "fail", fail)

    def url_for(self, instance_id: str, public_dns_name: str) -> str:
        self.calls.append(instance_id)  # type: ignore[attr-defined]
        if self.fail:  # type: ignore[attr-defined]
            raise DeployError(f"the app of {instance_id} did not start")
        return f"http://instances.test/{instance_id}/"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    with in_process_moto(monkeypatch):
        yield boto3.Session(region_name="us-east-1")


@pytest.fixture
def app(tmp_path: Path) -> Path:
    code = tmp_path / "code"
    (code / "assets").mkdir(parents=True)
    (code / "node_modules" / "left-pad").mkdir(parents=True)
    (code / "index.html").write_text("<html><head><title>Golden Loaf</title></head></html>")
    (code / "assets" / "styles.css").write_text("body{}")
    (code / "server.js").write_text("require('node:http')")
    (code / "package.json").write_text(json.dumps({"scripts": {"start": "node server.js"}}))
    (code / "node_modules" / "left-pad" / "index.js").write_text("module.exports = 1")
    (code / "host-secret").symlink_to("/etc/hostname")
    return code


def _deploy(session: boto3.Session, code: Path, **kwargs: Any) -> tuple[Any, list[str]]:
    messages: list[str] = []
    options: dict[str, Any] = {
        "name": NAME,
        "tags": TAGS,
        "endpoints": FakeEndpoints(),
        "progress": messages.append,
        "launch_key": "exec-1",
        "poll_interval_s": 0,
        "profile_wait_s": 0,
        **kwargs,
    }
    return deploy_dynamic_site(session, code, **options), messages


def _instances(session: boto3.Session) -> list[dict[str, Any]]:
    reservations = session.client("ec2").describe_instances()["Reservations"]
    return [i for r in reservations for i in r["Instances"]]


def _tags(items: list[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items}


def _refuse(session: boto3.Session, operation: str) -> None:
    """Every ``operation`` ("service.Operation") answers an error at botocore's before-call."""

    def refuse(**_kwargs: object) -> tuple[object, dict[str, object]]:
        http = type("Http", (), {"status_code": 403, "headers": {}})()
        error = {"Code": "UnauthorizedOperation", "Message": "not allowed"}
        return http, {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 403}}

    session.events.register(f"before-call.{operation}", refuse)


def _existing(session: boto3.Session) -> set[tuple[str, str]]:
    """The site's resources as moto has them, instances in any state (what teardown removes)."""
    from botocore.exceptions import ClientError

    iam = session.client("iam")
    found = {
        (RESOURCE_BUCKET, b["Name"])
        for b in session.client("s3").list_buckets()["Buckets"]
        if b["Name"] == NAME
    }
    for kind, read in (
        (RESOURCE_INSTANCE_ROLE, lambda: iam.get_role(RoleName=NAME)),
        (RESOURCE_INSTANCE_PROFILE, lambda: iam.get_instance_profile(InstanceProfileName=NAME)),
    ):
        try:
            read()
        except ClientError:
            continue
        found.add((kind, NAME))
    groups = session.client("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [NAME]}]
    )["SecurityGroups"]
    found |= {(RESOURCE_SECURITY_GROUP, g["GroupId"]) for g in groups}
    found |= {(RESOURCE_INSTANCE, i["InstanceId"]) for i in _instances(session)}
    return found


def test_first_deploy_creates_a_tagged_instance_behind_a_web_only_group(
    aws: boto3.Session, app: Path
) -> None:
    endpoints = FakeEndpoints()
    recorded: list[SiteResource] = []
    outcome, messages = _deploy(aws, app, endpoints=endpoints, record=recorded.append)
    assert recorded == outcome.resources[::-1]  # as each came to exist; returned newest first

    (instance,) = _instances(aws)
    assert instance["State"]["Name"] == "running"
    assert _tags(instance["Tags"]) == {**TAGS, "Name": NAME}
    assert instance["IamInstanceProfile"]["Arn"].endswith(f"instance-profile/{NAME}")
    assert outcome.result.url == f"http://instances.test/{instance['InstanceId']}/"
    assert endpoints.calls == [instance["InstanceId"]]  # type: ignore[attr-defined]
    assert outcome.result.title == "Golden Loaf" and outcome.result.bucket == NAME

    ec2 = aws.client("ec2")
    (group,) = ec2.describe_security_groups(GroupNames=[NAME])["SecurityGroups"]
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [group["GroupId"]]
    assert _tags(group["Tags"]) == {**TAGS, "Name": NAME}
    rules = {
        (p["IpProtocol"], p["FromPort"], p["ToPort"], r.get("CidrIp") or r.get("CidrIpv6"))
        for p in group["IpPermissions"]
        for r in [*p.get("IpRanges", []), *p.get("Ipv6Ranges", [])]
    }
    assert rules == {
        ("tcp", port, port, cidr) for port in (80, 443) for cidr in ("0.0.0.0/0", "::/0")
    }

    iam = aws.client("iam")
    role = iam.get_role(RoleName=NAME)["Role"]
    assert _tags(role["Tags"]) == TAGS
    trust = role["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    (policy_name,) = iam.list_role_policies(RoleName=NAME)["PolicyNames"]
    policy = iam.get_role_policy(RoleName=NAME, PolicyName=policy_name)["PolicyDocument"]
    assert policy["Statement"] == [
        {
            "Sid": "ReadOwnRelease",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{NAME}/{RELEASE_KEY}",
        }
    ]
    assert {(r.type, r.id) for r in outcome.resources} == {
        (RESOURCE_INSTANCE, instance["InstanceId"]),
        (RESOURCE_SECURITY_GROUP, group["GroupId"]),
        (RESOURCE_INSTANCE_PROFILE, NAME),
        (RESOURCE_INSTANCE_ROLE, NAME),
        (RESOURCE_BUCKET, NAME),
    }
    assert any("Launched instance" in m for m in messages)
    assert any("is running" in m for m in messages)


def test_the_user_data_fetches_the_release_with_no_secret_in_it(
    aws: boto3.Session, app: Path
) -> None:
    _deploy(aws, app)
    (instance,) = _instances(aws)
    answer = aws.client("ec2").describe_instance_attribute(
        InstanceId=instance["InstanceId"], Attribute="userData"
    )
    user_data = base64.b64decode(answer["UserData"]["Value"]).decode()
    assert user_data.startswith("#cloud-config\n")
    config = site_config_from_user_data(user_data)
    assert (config.bucket, config.key, config.port) == (NAME, RELEASE_KEY, 80)
    assert SITE_CONFIG_PATH in user_data
    assert "aws s3 cp" in user_data and "ExecStart=/usr/bin/npm start" in user_data
    assert "systemctl" in user_data and "Environment=PORT=80" in user_data
    for secret_word in ("testing", "AWS_SECRET", "aws_access_key", "Token"):
        assert secret_word not in user_data
    with pytest.raises(InvalidUserData):
        site_config_from_user_data("#!/bin/bash\necho hi\n")


def test_the_release_is_the_code_without_dependencies_or_links_out(
    aws: boto3.Session, app: Path
) -> None:
    outcome, _ = _deploy(aws, app)
    body = aws.client("s3").get_object(Bucket=NAME, Key=RELEASE_KEY)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        names = sorted(archive.getnames())
    assert names == ["assets/styles.css", "index.html", "package.json", "server.js"]
    assert outcome.result.files == 4
    block = aws.client("s3").get_public_access_block(Bucket=NAME)
    assert all(block["PublicAccessBlockConfiguration"].values())


def test_a_redeploy_reuses_everything_and_reboots_into_the_new_release(
    aws: boto3.Session, app: Path
) -> None:
    first, _ = _deploy(aws, app)
    ec2 = aws.client("ec2")
    group_id = ec2.describe_security_groups(GroupNames=[NAME])["SecurityGroups"][0]["GroupId"]
    # Someone opened SSH by hand: the redeploy closes it again.
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            }
        ],
    )
    (app / "index.html").write_text("<html><head><title>Golden Loaf 2</title></head></html>")

    second, messages = _deploy(aws, app, launch_key="exec-2")

    assert len(_instances(aws)) == 1
    assert second.result.url == first.result.url
    assert second.result.title == "Golden Loaf 2"
    assert {(r.type, r.id) for r in second.resources} == {(r.type, r.id) for r in first.resources}
    assert any("Rebooting instance" in m for m in messages)
    assert not any("Created" in m or "Launched" in m for m in messages)
    ports = {
        p["FromPort"]
        for p in ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0][
            "IpPermissions"
        ]
    }
    assert ports == {80, 443}
    body = aws.client("s3").get_object(Bucket=NAME, Key=RELEASE_KEY)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        index = archive.extractfile("index.html")
        assert index is not None and b"Golden Loaf 2" in index.read()


def test_a_stopped_instance_is_started_again(aws: boto3.Session, app: Path) -> None:
    _deploy(aws, app)
    (instance,) = _instances(aws)
    aws.client("ec2").stop_instances(InstanceIds=[instance["InstanceId"]])
    _, messages = _deploy(aws, app, launch_key="exec-2")
    assert any("Starting instance" in m for m in messages)
    assert _instances(aws)[0]["State"]["Name"] == "running"


def test_failure_after_launch_terminates_what_this_call_launched(
    aws: boto3.Session, app: Path
) -> None:
    failed: list[SiteResource] = []
    with pytest.raises(DeployError, match="did not start"):
        _deploy(aws, app, endpoints=FakeEndpoints(fail=True), record=failed.append)
    (instance,) = _instances(aws)
    assert instance["State"]["Name"] == "terminated"
    # Terminating was best effort: the instance was recorded before, for teardown to make sure.
    assert {(r.type, r.id) for r in failed} == _existing(aws)
    assert (RESOURCE_INSTANCE, instance["InstanceId"]) in {(r.type, r.id) for r in failed}

    outcome, _ = _deploy(aws, app)  # the retry launches anew and reuses the rest
    live = [i for i in _instances(aws) if i["State"]["Name"] == "running"]
    assert [i["InstanceId"] for i in live] == [
        r.id for r in outcome.resources if r.type == RESOURCE_INSTANCE
    ]
    assert len(aws.client("ec2").describe_security_groups(GroupNames=[NAME])["SecurityGroups"]) == 1


@pytest.mark.parametrize(
    ("operation", "made"),
    [
        ("s3.PutObject", {RESOURCE_BUCKET}),
        ("iam.PutRolePolicy", {RESOURCE_BUCKET, RESOURCE_INSTANCE_ROLE}),
        (
            "iam.AddRoleToInstanceProfile",
            {RESOURCE_BUCKET, RESOURCE_INSTANCE_ROLE, RESOURCE_INSTANCE_PROFILE},
        ),
        (
            "ec2.AuthorizeSecurityGroupIngress",
            {
                RESOURCE_BUCKET,
                RESOURCE_INSTANCE_ROLE,
                RESOURCE_INSTANCE_PROFILE,
                RESOURCE_SECURITY_GROUP,
            },
        ),
        (
            "ec2.RunInstances",
            {
                RESOURCE_BUCKET,
                RESOURCE_INSTANCE_ROLE,
                RESOURCE_INSTANCE_PROFILE,
                RESOURCE_SECURITY_GROUP,
            },
        ),
    ],
)
def test_a_failed_first_deploy_has_recorded_everything_it_made(
    aws: boto3.Session, app: Path, operation: str, made: set[str]
) -> None:
    _refuse(aws, operation)
    recorded: list[SiteResource] = []

    with pytest.raises(DeployError, match="UnauthorizedOperation"):
        _deploy(aws, app, record=recorded.append)

    assert {r.type for r in recorded} == made
    assert {(r.type, r.id) for r in recorded} == _existing(aws)
    assert len(recorded) == len(made)  # each once
    metadata = {r.type: r.metadata for r in recorded}
    assert metadata[RESOURCE_BUCKET] == {"region": "us-east-1"}
    iam, ec2 = aws.client("iam"), aws.client("ec2")
    if RESOURCE_INSTANCE_ROLE in made:
        role = iam.get_role(RoleName=NAME)["Role"]
        assert metadata[RESOURCE_INSTANCE_ROLE] == {"arn": role["Arn"]}
    if RESOURCE_INSTANCE_PROFILE in made:
        profile = iam.get_instance_profile(InstanceProfileName=NAME)["InstanceProfile"]
        assert metadata[RESOURCE_INSTANCE_PROFILE] == {"arn": profile["Arn"]}
    if RESOURCE_SECURITY_GROUP in made:
        (vpc,) = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
        assert metadata[RESOURCE_SECURITY_GROUP] == {
            "region": "us-east-1",
            "name": NAME,
            "vpc_id": vpc["VpcId"],
        }


def test_a_failed_redeploy_never_terminates_the_running_site(aws: boto3.Session, app: Path) -> None:
    _deploy(aws, app)
    with pytest.raises(DeployError):
        _deploy(aws, app, endpoints=FakeEndpoints(fail=True), launch_key="exec-2")
    assert [i["State"]["Name"] for i in _instances(aws)] == ["running"]


def test_resources_of_another_user_are_never_taken_over(aws: boto3.Session, app: Path) -> None:
    _deploy(aws, app, tags=resource_tags(OTHER_USER, SESSION_ID, "dynamic"))
    with pytest.raises(DeployError, match="not this user's"):
        _deploy(aws, app)
    assert len(_instances(aws)) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda code: (code / "package.json").unlink(), "no package.json"),
        (lambda code: (code / "package.json").write_text("{"), "not valid JSON"),
        (lambda code: (code / "package.json").write_text('{"scripts": {}}'), "scripts.start"),
        (lambda code: (code / "index.html").unlink(), "no index.html"),
    ],
)
def test_an_app_without_the_contract_is_refused_before_anything_is_created(
    aws: boto3.Session, app: Path, change: Any, message: str
) -> None:
    change(app)
    with pytest.raises(DeployError, match=message):
        _deploy(aws, app)
    assert _instances(aws) == []
    assert aws.client("s3").list_buckets()["Buckets"] == []


def test_aws_dynamic_is_in_the_deployer_table() -> None:
    assert DEPLOYERS[(Provider.AWS, SiteType.DYNAMIC)] == "agent.deploy.aws_dynamic:deploy"


def test_instance_endpoints_settings() -> None:
    assert InstanceEndpoints.from_settings("ec2").is_ec2
    assert InstanceEndpoints.from_settings("").url_for("i-1", "ec2-1.example") == (
        "http://ec2-1.example/"
    )
    local = InstanceEndpoints.from_settings("http://127.0.0.1:9999/")
    assert local.instance_host == "http://127.0.0.1:9999"
    with pytest.raises(ValueError, match="instance host"):
        InstanceEndpoints.from_settings("ftp://nope")
    with pytest.raises(DeployError, match="no public DNS"):
        InstanceEndpoints().url_for("i-1", "")


@pytest.fixture
def instance_host() -> Iterator[tuple[str, list[str]]]:
    """A local instance host (its base URL, the paths it was asked for): like the embedded
    stack's, POST /instances/<id> answers the URL of that instance's app."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            asked.append(self.path)
            instance_id = self.path.rsplit("/", 1)[1]
            body = json.dumps({"url": f"http://apps.test/{instance_id}/"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def test_the_deployer_takes_the_instance_and_its_host_from_the_agents_settings(
    aws: boto3.Session,
    app: Path,
    instance_host: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base_url, asked = instance_host
    (image, *_) = aws.client("ec2").describe_images(Owners=["amazon"])["Images"]
    boundary = "arn:aws:iam::123456789012:policy/tmux-builder/tmux-builder-site-instance-boundary"
    # The agent host's variables (agent.env on AWS): the names they had as cloud settings.
    monkeypatch.setenv("TMUX_BUILDER_INSTANCE_HOST", base_url + "/")
    monkeypatch.setenv("TMUX_BUILDER_SITE_INSTANCE_TYPE", "t3.small")
    monkeypatch.setenv("TMUX_BUILDER_SITE_INSTANCE_AMI", image["ImageId"])
    monkeypatch.setenv("TMUX_BUILDER_SITE_INSTANCE_BOUNDARY_ARN", boundary)
    site = SiteSpec(
        provider=Provider.AWS, site_type=SiteType.DYNAMIC, slug="bakery-abcdef", resource_name=NAME
    )
    request = DeployRequest(
        site=site,
        user_id=USER_ID,
        session_id=SESSION_ID,
        execution_id="exec-settings",
        code_dir=app,
        site_dir=app,
        tags=TAGS,
        progress=lambda _message: None,
        aws_session=lambda: aws,
        edge=Edge(),
        settings=AgentSettings(),
        cloud=CloudSettings(),
    )

    outcome = deploy(request)

    (instance,) = _instances(aws)
    assert (instance["InstanceType"], instance["ImageId"]) == ("t3.small", image["ImageId"])
    role = aws.client("iam").get_role(RoleName=NAME)["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    assert asked == [f"/instances/{instance['InstanceId']}"]
    assert outcome.result.url == f"http://apps.test/{instance['InstanceId']}/"
