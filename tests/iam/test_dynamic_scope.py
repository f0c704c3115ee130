"""The dynamic (EC2) deployer's permissions, evaluated offline (conditions and boundaries too).

As for the static deployer (``test_policy_scope.py``): its calls are recorded while it deploys,
redeploys a running instance (reboot, an extra ingress rule revoked) and redeploys a stopped
one (start) on in-process moto; each call becomes the IAM requests AWS authorizes for it
(service authorization reference: RunInstances is checked on the instance, volume, security
group, subnet, network interface and image, tag-on-create as ec2:CreateTags with
ec2:CreateAction, the instance profile as iam:PassRole); and every request must be allowed by
the user's policy within the user boundary, and refused to another user. Then what the
documents must refuse, and the site-instance boundary every site role is created with.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from agent.deploy import aws_dynamic
from agent.edge import InstanceEndpoints
from tests.iam import policy_eval as pe
from tests.iam.policy_eval import Request, allowed
from tests.iam.test_policy_scope import Recorder
from tests.iam.test_policy_scope import iam_requests as s3_requests
from tmux_builder import naming
from tmux_builder.dynamic_site import RELEASE_KEY

SESSION = "sess_20250101T000000_abcdef"
PREFIX_A, PREFIX_B = pe.USER_A[:12], pe.USER_B[:12]
SITE_A = f"tmux-{PREFIX_A}-bakery-abcdef"
SITE_B = f"tmux-{PREFIX_B}-bakery-abcdef"
SITE_BOUNDARY = f"arn:aws:iam::{pe.ACCOUNT}:policy/tmux-builder/tmux-builder-site-instance-boundary"
EC2_PASS = {"iam:PassedToService": ["ec2.amazonaws.com"]}


def _ec2(kind: str, resource_id: str = "x") -> str:
    region = "" if kind == "image" else pe.REGION
    account = "" if kind == "image" else pe.ACCOUNT
    return f"arn:aws:ec2:{region}:{account}:{kind}/{resource_id}"


def _iam(kind: str, name: str) -> str:
    return f"arn:aws:iam::{pe.ACCOUNT}:{kind}/{name}"


def _creating(tags: dict[str, str], **extra: list[str]) -> dict[str, list[str]]:
    context = {f"aws:RequestTag/{k}": [v] for k, v in tags.items()}
    context["aws:TagKeys"] = sorted(tags)
    return {**context, **extra}


def _owned_by(user_id: str | None) -> dict[str, list[str]]:
    return {} if user_id is None else {"aws:ResourceTag/UserGUID": [user_id]}


def _tags(param: list[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in param}


_DESCRIBE = {
    "DescribeVpcs": "ec2:DescribeVpcs",
    "DescribeSecurityGroups": "ec2:DescribeSecurityGroups",
    "DescribeInstances": "ec2:DescribeInstances",
}
_INSTANCE_ACTIONS = {
    "StartInstances": "ec2:StartInstances",
    "RebootInstances": "ec2:RebootInstances",
    "TerminateInstances": "ec2:TerminateInstances",
}
_GROUP_RULES = {
    "AuthorizeSecurityGroupIngress": "ec2:AuthorizeSecurityGroupIngress",
    "RevokeSecurityGroupIngress": "ec2:RevokeSecurityGroupIngress",
}


def _ec2_requests(operation: str, params: dict[str, Any], owner: str) -> list[Request]:
    if operation in _DESCRIBE:
        return [Request(_DESCRIBE[operation], "*")]
    if operation in _INSTANCE_ACTIONS:
        action = _INSTANCE_ACTIONS[operation]
        return [
            Request(action, _ec2("instance", i), _owned_by(owner)) for i in params["InstanceIds"]
        ]
    if operation in _GROUP_RULES:
        return [Request(_GROUP_RULES[operation], _ec2("security-group"), _owned_by(owner))]
    if operation == "CreateSecurityGroup":
        (spec,) = params["TagSpecifications"]
        tags = _tags(spec["Tags"])
        return [
            Request("ec2:CreateSecurityGroup", _ec2("security-group"), _creating(tags)),
            Request("ec2:CreateSecurityGroup", _ec2("vpc", params["VpcId"])),
            Request(
                "ec2:CreateTags",
                _ec2("security-group"),
                _creating(tags, **{"ec2:CreateAction": ["CreateSecurityGroup"]}),
            ),
        ]
    if operation == "RunInstances":
        by_kind = {s["ResourceType"]: _tags(s["Tags"]) for s in params["TagSpecifications"]}
        tokens = params["MetadataOptions"]["HttpTokens"]
        requests = [
            Request(
                "ec2:RunInstances",
                _ec2("instance"),
                _creating(by_kind["instance"], **{"ec2:MetadataHttpTokens": [tokens]}),
            ),
            Request("ec2:RunInstances", _ec2("volume"), _creating(by_kind["volume"])),
            Request("ec2:RunInstances", _ec2("image", params["ImageId"])),
            Request("ec2:RunInstances", _ec2("subnet")),
            Request("ec2:RunInstances", _ec2("network-interface")),
            Request("iam:PassRole", _iam("role", params["IamInstanceProfile"]["Name"]), EC2_PASS),
        ]
        requests += [
            Request("ec2:RunInstances", _ec2("security-group", g), _owned_by(owner))
            for g in params["SecurityGroupIds"]
        ]
        requests += [
            Request(
                "ec2:CreateTags",
                _ec2(kind),
                _creating(tags, **{"ec2:CreateAction": ["RunInstances"]}),
            )
            for kind, tags in by_kind.items()
        ]
        return requests
    raise AssertionError(f"the deployer calls ec2:{operation}: add its IAM actions here")


def _iam_requests(operation: str, params: dict[str, Any]) -> list[Request]:
    role = _iam("role", params.get("RoleName", ""))
    profile = _iam("instance-profile", params.get("InstanceProfileName", ""))
    if operation in ("GetRole", "PutRolePolicy"):
        return [Request(f"iam:{operation}", role)]
    if operation == "GetInstanceProfile":
        return [Request("iam:GetInstanceProfile", profile)]
    if operation == "CreateRole":
        tags = _tags(params.get("Tags", []))
        boundary = params.get("PermissionsBoundary")
        extra = {"iam:PermissionsBoundary": [boundary]} if boundary else {}
        return [
            Request("iam:CreateRole", role, _creating(tags, **extra)),
            Request("iam:TagRole", role, _creating(tags)),
        ]
    if operation == "CreateInstanceProfile":
        tags = _tags(params.get("Tags", []))
        return [
            Request("iam:CreateInstanceProfile", profile, _creating(tags)),
            Request("iam:TagInstanceProfile", profile, _creating(tags)),
        ]
    if operation == "AddRoleToInstanceProfile":
        return [
            Request("iam:AddRoleToInstanceProfile", profile),
            Request("iam:PassRole", role, EC2_PASS),
        ]
    raise AssertionError(f"the deployer calls iam:{operation}: add its IAM actions here")


def requests_of(service: str, operation: str, params: dict[str, Any], owner: str) -> list[Request]:
    if service == "ec2":
        return _ec2_requests(operation, params, owner)
    if service == "iam":
        return _iam_requests(operation, params)
    if service == "ssm" and operation == "GetParameter":
        return [Request("ssm:GetParameter", f"arn:aws:ssm:{pe.REGION}::parameter{params['Name']}")]
    return s3_requests(service, operation, params, owner)


@pytest.fixture(scope="module")
def app_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        code = Path(folder) / "code"
        (code / "assets").mkdir(parents=True)
        (code / "index.html").write_text("<html><head><title>Bakery</title></head></html>")
        (code / "assets" / "styles.css").write_text("body{}")
        (code / "server.js").write_text("require('node:http')")
        (code / "package.json").write_text('{"scripts": {"start": "node server.js"}}')
        yield code


@pytest.fixture(scope="module")
def dynamic_requests(app_dir: Path) -> list[Request]:
    """Every authorization of a first deploy and of redeploys to a running and a stopped site."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", pe.REGION)
        with mock_aws():
            session = boto3.Session(region_name=pe.REGION)
            recorder = Recorder(session)
            outside = boto3.Session(region_name=pe.REGION).client("ec2")  # not recorded
            tags = naming.resource_tags(pe.USER_A, SESSION, "dynamic")

            def deploy() -> str:
                outcome = aws_dynamic.deploy_dynamic_site(
                    session,
                    app_dir,
                    name=SITE_A,
                    tags=tags,
                    endpoints=InstanceEndpoints(),
                    progress=lambda _m: None,
                    launch_key="exec-1",
                    role_boundary=SITE_BOUNDARY,
                    poll_interval_s=0,
                )
                return outcome.resources[0].id

            instance_id = deploy()  # first deploy, the image from SSM
            group_id = outside.describe_instances(InstanceIds=[instance_id])["Reservations"][0][
                "Instances"
            ][0]["SecurityGroups"][0]["GroupId"]
            outside.authorize_security_group_ingress(
                GroupId=group_id,
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 22,
                        "ToPort": 22,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                    }
                ],
            )
            deploy()  # running: reboot, and the extra rule is revoked
            outside.stop_instances(InstanceIds=[instance_id])
            deploy()  # stopped: start
    operations = {(service, operation) for service, operation, _ in recorder.calls}
    for needed in (
        "RunInstances",
        "RebootInstances",
        "StartInstances",
        "RevokeSecurityGroupIngress",
    ):
        assert ("ec2", needed) in operations, needed
    assert ("iam", "CreateRole") in operations and ("ssm", "GetParameter") in operations
    requests = []
    for service, operation, params in recorder.calls:
        requests += requests_of(service, operation, params, owner=pe.USER_A)
    return requests


def test_the_user_policy_within_the_boundary_allows_every_call_of_the_dynamic_deployer(
    dynamic_requests: list[Request],
) -> None:
    policy, boundary = pe.user_policy(pe.USER_A), pe.boundary()
    refused = [str(r) for r in dynamic_requests if not allowed(policy, r, boundary)]
    assert not refused, "the dynamic deployer would be refused:\n" + "\n".join(refused)


def test_the_dynamic_deployer_calls_are_refused_to_another_user(
    dynamic_requests: list[Request],
) -> None:
    """User B's role can make none of user A's calls, except the account-wide ones."""
    account_wide = {"*", _ec2("subnet"), _ec2("network-interface")}
    policy_b, boundary = pe.user_policy(pe.USER_B), pe.boundary()
    for request in dynamic_requests:
        if request.resource in account_wide or request.resource.startswith(
            ("arn:aws:ec2:::image/", "arn:aws:ssm:", "arn:aws:ec2:us-east-1:123456789012:vpc/")
        ):
            continue
        assert not allowed(policy_b, request, boundary), str(request)


# --- what the user policy and the boundary refuse ------------------------------------------------

TAGS_A = naming.resource_tags(pe.USER_A, SESSION, "dynamic")
TAGS_B = naming.resource_tags(pe.USER_B, SESSION, "dynamic")


def _refused_requests() -> list[tuple[str, Request]]:
    role_a, profile_a = _iam("role", SITE_A), _iam("instance-profile", SITE_A)
    with_boundary = {"iam:PermissionsBoundary": [SITE_BOUNDARY]}
    return [
        ("a site role without a boundary", Request("iam:CreateRole", role_a, _creating(TAGS_A))),
        (
            "a site role with a broader boundary",
            Request(
                "iam:CreateRole",
                role_a,
                _creating(
                    TAGS_A, **{"iam:PermissionsBoundary": [_iam("policy", "AdministratorAccess")]}
                ),
            ),
        ),
        (
            "a role named for the user's identity",
            Request(
                "iam:CreateRole",
                _iam("role", f"tmux-user-{PREFIX_A}"),
                _creating(TAGS_A, **with_boundary),
            ),
        ),
        (
            "another user's site role",
            Request("iam:CreateRole", _iam("role", SITE_B), _creating(TAGS_A, **with_boundary)),
        ),
        (
            "a site role tagged for another user",
            Request("iam:CreateRole", role_a, _creating(TAGS_B, **with_boundary)),
        ),
        (
            "widening its own role",
            Request("iam:PutRolePolicy", _iam("role", f"tmux-user-{PREFIX_A}")),
        ),
        ("another user's site role policy", Request("iam:PutRolePolicy", _iam("role", SITE_B))),
        ("its own boundary away", Request("iam:DeleteRolePermissionsBoundary", role_a)),
        ("a managed policy on a site role", Request("iam:AttachRolePolicy", role_a)),
        ("deleting a site role (teardown's job)", Request("iam:DeleteRole", role_a)),
        (
            "another user's profile",
            Request("iam:AddRoleToInstanceProfile", _iam("instance-profile", SITE_B)),
        ),
        (
            "a site role to Lambda",
            Request("iam:PassRole", role_a, {"iam:PassedToService": ["lambda.amazonaws.com"]}),
        ),
        (
            "the user's own role to EC2",
            Request("iam:PassRole", _iam("role", f"tmux-user-{PREFIX_A}"), EC2_PASS),
        ),
        (
            "another user's site role to EC2",
            Request("iam:PassRole", _iam("role", SITE_B), EC2_PASS),
        ),
        (
            "a profile tagged for another user",
            Request("iam:CreateInstanceProfile", profile_a, _creating(TAGS_B)),
        ),
        (
            "an untagged instance",
            Request("ec2:RunInstances", _ec2("instance"), {"ec2:MetadataHttpTokens": ["required"]}),
        ),
        (
            "an instance tagged for another user",
            Request(
                "ec2:RunInstances",
                _ec2("instance"),
                _creating(TAGS_B, **{"ec2:MetadataHttpTokens": ["required"]}),
            ),
        ),
        (
            "an instance with IMDSv1",
            Request(
                "ec2:RunInstances",
                _ec2("instance"),
                _creating(TAGS_A, **{"ec2:MetadataHttpTokens": ["optional"]}),
            ),
        ),
        (
            "another user's security group",
            Request("ec2:RunInstances", _ec2("security-group", "sg-b"), _owned_by(pe.USER_B)),
        ),
        (
            "an untagged (e.g. the agents') security group",
            Request("ec2:RunInstances", _ec2("security-group", "sg-x")),
        ),
        (
            "claiming an instance by tagging it",
            Request("ec2:CreateTags", _ec2("instance", "i-b"), _creating(TAGS_A)),
        ),
        (
            "tags for another user while creating",
            Request(
                "ec2:CreateTags",
                _ec2("instance"),
                _creating(TAGS_B, **{"ec2:CreateAction": ["RunInstances"]}),
            ),
        ),
        (
            "removing the owner tag",
            Request("ec2:DeleteTags", _ec2("instance", "i-a"), _owned_by(pe.USER_A)),
        ),
        (
            "terminating another user's instance",
            Request("ec2:TerminateInstances", _ec2("instance", "i-b"), _owned_by(pe.USER_B)),
        ),
        (
            "rebooting an untagged instance",
            Request("ec2:RebootInstances", _ec2("instance", "i-agent")),
        ),
        (
            "opening another user's group",
            Request(
                "ec2:AuthorizeSecurityGroupIngress",
                _ec2("security-group", "sg-b"),
                _owned_by(pe.USER_B),
            ),
        ),
        (
            "changing an instance's attributes",
            Request("ec2:ModifyInstanceAttribute", _ec2("instance", "i-a"), _owned_by(pe.USER_A)),
        ),
        (
            "deleting a security group (teardown's job)",
            Request(
                "ec2:DeleteSecurityGroup", _ec2("security-group", "sg-a"), _owned_by(pe.USER_A)
            ),
        ),
        ("a VPC", Request("ec2:CreateVpc", _ec2("vpc"))),
        (
            "any SSM parameter",
            Request(
                "ssm:GetParameter",
                f"arn:aws:ssm:{pe.REGION}:{pe.ACCOUNT}:parameter/tmux-builder/secret",
            ),
        ),
    ]


@pytest.mark.parametrize(
    ("what", "request_"), _refused_requests(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_the_user_policy_refuses_it(what: str, request_: Request) -> None:
    assert not allowed(pe.user_policy(pe.USER_A), request_), what


# What the shared boundary still allows (some user's own), narrowed by the per-user policy.
_SOME_USERS = {
    "another user's site role",
    "a site role tagged for another user",
    "another user's site role policy",
    "another user's profile",
    "another user's site role to EC2",
    "a profile tagged for another user",
    "an instance tagged for another user",
    "another user's security group",
    "tags for another user while creating",
    "terminating another user's instance",
    "opening another user's group",
}


@pytest.mark.parametrize(
    ("what", "request_"),
    [(what, r) for what, r in _refused_requests() if what not in _SOME_USERS],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_the_boundary_refuses_it_to_any_policy(what: str, request_: Request) -> None:
    assert not allowed(pe.everything(), request_, pe.boundary()), what


def test_the_boundary_allows_what_it_leaves_to_the_per_user_policy() -> None:
    """The boundary is shared: the requests it leaves to the per-user policy are allowed by it."""
    left = [(what, r) for what, r in _refused_requests() if what in _SOME_USERS]
    assert len(left) == len(_SOME_USERS)
    for what, request in left:
        assert allowed(pe.everything(), request, pe.boundary()), what


def test_the_boundary_never_covers_the_per_user_roles() -> None:
    """``tmux-????????????-*`` misses ``tmux-user-{prefix}``: no role may change its own."""
    for role in (f"tmux-user-{PREFIX_A}", f"tmux-user-{PREFIX_B}", "tmux-builder-api-role"):
        for action in ("iam:PutRolePolicy", "iam:GetRole", "iam:PassRole"):
            request = Request(action, _iam("role", role), EC2_PASS)
            assert not allowed(pe.everything(), request, pe.boundary()), (action, role)


# --- the site-instance boundary -----------------------------------------------------------------


def test_the_site_instance_boundary_caps_a_site_role_at_reading_a_release() -> None:
    boundary = pe.site_instance_boundary()
    policy = json.loads(aws_dynamic.release_read_policy(SITE_A, "aws"))
    release = f"arn:aws:s3:::{SITE_A}/{RELEASE_KEY}"
    assert allowed(policy, Request("s3:GetObject", release), boundary)
    for request in (
        Request("s3:GetObject", f"arn:aws:s3:::{SITE_A}/other.txt"),
        Request("s3:PutObject", release),
        Request("s3:GetObject", f"arn:aws:s3:::{pe.ARTIFACTS_BUCKET}/{RELEASE_KEY}"),
        Request("s3:ListBucket", f"arn:aws:s3:::{SITE_A}"),
        Request("iam:PassRole", _iam("role", SITE_A)),
        Request("ec2:RunInstances", _ec2("instance")),
        Request("sts:AssumeRole", _iam("role", f"tmux-user-{PREFIX_A}")),
        Request("dynamodb:GetItem", pe.TABLE_ARN),
    ):
        assert not allowed(pe.everything(), request, boundary), str(request)


def test_the_template_names_the_site_boundary_the_user_policy_requires() -> None:
    """The template's SiteInstanceBoundary ARN matches the user policy's CreateRole condition."""
    from tests.iam.test_policy_documents import template

    resource = template()["Resources"]["SiteInstanceBoundary"]["Properties"]
    name = resource["ManagedPolicyName"]["Fn::Sub"].replace("${AppName}", pe.APP)
    arn = _iam("policy", resource["Path"].strip("/") + "/" + name)
    assert arn == SITE_BOUNDARY
    create = Request(
        "iam:CreateRole",
        _iam("role", SITE_A),
        _creating(TAGS_A, **{"iam:PermissionsBoundary": [arn]}),
    )
    assert allowed(pe.user_policy(pe.USER_A), create, pe.boundary())
