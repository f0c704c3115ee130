"""The per-user policy and the boundary on a role, with moto enforcing IAM.

What moto 5.2.5 enforces (checked here, see also shared/FIELD-NOTES.md):

- a role's identity policies on its temporary credentials, with resource ARNs for S3 (and
  SQS, IAM, STS); every other service only by action, against ``*``;
- no ``Condition`` block, and **no permissions boundary**: a boundary is stored on the role
  and returned by GetRole, but never evaluated. :func:`test_moto_ignores_the_boundary` proves
  it; what the boundary takes away is evaluated offline in ``test_policy_scope.py``;
- S3 under moto's own action names: HeadBucket is checked as ``s3:HeadBucket`` (AWS checks
  ``s3:ListBucket``), and PutPublicAccessBlock as ``s3:CreateBucket`` (moto does not match
  the ``publicAccessBlock`` query string). :func:`for_moto` adds the moto name next to the AWS
  one. DeleteObjects is checked as ``s3:DeleteObject`` on the bucket's ARN (AWS: on each
  object's), so the same statement is added for the bucket. Nothing else is changed.
- CloudFront requests without a body (List*, Get*) fail moto's signature check under
  enforcement, so only the POSTs of the deployer are exercised against CloudFront here.
- EC2 and SSM only by action: moto checks them against ``*``, and IAM against ``*`` for an
  instance profile and for a role that does not exist yet (an existing role by its ARN).
  :func:`for_moto` adds a statement allowing those actions on ``*``. So what moto proves for
  the dynamic deployer is that it needs no action beyond the policy's, that IAM calls on an
  existing role that is not the user's site role are refused, and S3 as above; the EC2 tag
  conditions, ``iam:PassRole`` and the ``iam:PermissionsBoundary`` condition of CreateRole are
  evaluated offline (``test_dynamic_scope.py``).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from agent.deploy import aws_dynamic, aws_static
from agent.deploy.site_files import site_files
from agent.edge import InstanceEndpoints
from control_plane import iam_identity
from tests.iam import policy_eval as pe
from tests.iam.conftest import REGION, enforced, plain_session
from tmux_builder import naming

_MOTO_ALIASES = {"s3:ListBucket": "s3:HeadBucket"}
# Checked by moto against "*" (see the module docstring).
_MOTO_UNSCOPED = ("ec2:", "ssm:")
_MOTO_BEFORE_THE_ROLE_EXISTS = {"iam:CreateRole", "iam:GetRole"}


def for_moto(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with moto's names and resources beside AWS's (see the module docstring)."""
    out = copy.deepcopy(document)
    extra = []
    for statement in out["Statement"]:
        actions = pe.as_list(statement["Action"])
        statement["Action"] = actions + [_MOTO_ALIASES[a] for a in actions if a in _MOTO_ALIASES]
        if "s3:DeleteObject" in actions:
            buckets = [r.removesuffix("/*") for r in pe.as_list(statement["Resource"])]
            extra.append({"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": buckets})
        profiles = any(":instance-profile/" in r for r in pe.as_list(statement["Resource"]))
        unscoped = [
            a
            for a in actions
            if a.startswith(_MOTO_UNSCOPED)
            or a in _MOTO_BEFORE_THE_ROLE_EXISTS
            or (profiles and "InstanceProfile" in a)
        ]
        if unscoped and statement["Effect"] == "Allow":
            extra.append({"Effect": "Allow", "Action": unscoped, "Resource": "*"})
    out["Statement"] += extra
    return out


def _status(call: Callable[[], Any]) -> int:
    """HTTP status of a refused call (moto answers JSON services with an XML 403)."""
    with pytest.raises(ClientError) as caught:
        call()
    return int(caught.value.response["ResponseMetadata"]["HTTPStatusCode"])


class Account:
    """Creates roles, policies and buckets as the admin; removes them all at the end."""

    def __init__(self, endpoint: str, admin: boto3.Session) -> None:
        self.endpoint = endpoint
        self.admin = admin
        self.iam = admin.client("iam", endpoint_url=endpoint)
        self.admin_arn = admin.client("sts", endpoint_url=endpoint).get_caller_identity()["Arn"]
        self._roles: list[str] = []
        self._policies: list[str] = []
        self._buckets: list[tuple[boto3.Session, str]] = []
        self._controls: list[str] = []
        self._instances: list[str] = []
        self._site_identities: list[str] = []

    def client(self, session: boto3.Session, service: str) -> Any:
        return session.client(service, endpoint_url=self.endpoint, region_name=REGION)

    def boundary(self) -> str:
        arn = self.iam.create_policy(
            PolicyName=f"tmux-user-boundary-{os.urandom(3).hex()}",
            PolicyDocument=json.dumps(for_moto(pe.boundary())),
        )["Policy"]["Arn"]
        self._policies.append(arn)
        return str(arn)

    def site_instance_boundary(self) -> str:
        """The stack's site-instance boundary, at the path the user policy requires."""
        arn = self.iam.create_policy(
            PolicyName=f"tmux-builder-{os.urandom(3).hex()}-site-instance-boundary",
            Path="/tmux-builder/",
            PolicyDocument=json.dumps(pe.site_instance_boundary()),
        )["Policy"]["Arn"]
        self._policies.append(arn)
        return str(arn)

    def site_role(self, name: str, user_id: str) -> str:
        """Another user's existing site role, made by the admin."""
        self.iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
            Tags=[{"Key": "UserGUID", "Value": user_id}],
        )
        self._roles.append(name)
        return name

    def user_role(self, user_id: str, policy: dict[str, Any], boundary: str) -> str:
        """A role as the control plane makes it: name, trust, tags, inline policy, boundary."""
        name = iam_identity.role_name(user_id)
        arn = self.iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(
                iam_identity.trust_policy(user_id, iam_identity.principal_of(self.admin_arn))
            ),
            MaxSessionDuration=3600,
            PermissionsBoundary=boundary,
            Tags=[{"Key": "UserGUID", "Value": user_id}],
        )["Role"]["Arn"]
        self.iam.put_role_policy(
            RoleName=name,
            PolicyName=iam_identity.policy_name(user_id),
            PolicyDocument=json.dumps(policy),
        )
        self._roles.append(name)
        return str(arn)

    def assume(self, role_arn: str, user_id: str) -> boto3.Session:
        answer = self.client(self.admin, "sts").assume_role(
            RoleArn=role_arn, RoleSessionName=iam_identity.role_session_name(user_id)
        )["Credentials"]
        return boto3.Session(
            aws_access_key_id=answer["AccessKeyId"],
            aws_secret_access_key=answer["SecretAccessKey"],
            aws_session_token=answer["SessionToken"],
            region_name=REGION,
        )

    def bucket(self, name: str, key: str = "index.html") -> str:
        s3 = self.client(self.admin, "s3")
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key=key, Body=b"<title>not yours</title>")
        self._buckets.append((self.admin, name))
        return name

    def forget_later(
        self, bucket: str | None = None, control: str | None = None, instance: str | None = None
    ) -> None:
        if bucket:
            self._buckets.append((self.admin, bucket))
        if control:
            self._controls.append(control)
        if instance:
            self._instances.append(instance)

    def forget_site_identity(self, name: str) -> None:
        """A dynamic site's role and instance profile (and its security group) of this name."""
        self._site_identities.append(name)

    def clean(self) -> None:
        """Remove everything (enforcement is off by then: plain keys)."""
        session = plain_session()
        s3 = self.client(session, "s3")
        for _, bucket in self._buckets:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for item in page.get("Contents", []):
                    s3.delete_object(Bucket=bucket, Key=item["Key"])
            s3.delete_bucket(Bucket=bucket)
        iam = self.client(session, "iam")
        ec2 = self.client(session, "ec2")
        if self._instances:
            ec2.terminate_instances(InstanceIds=self._instances)
        for name in self._site_identities:
            for group in ec2.describe_security_groups(
                Filters=[{"Name": "group-name", "Values": [name]}]
            )["SecurityGroups"]:
                ec2.delete_security_group(GroupId=group["GroupId"])
            iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=name)
            iam.delete_instance_profile(InstanceProfileName=name)
            self._roles.append(name)
        for role in self._roles:
            for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
                iam.delete_role_policy(RoleName=role, PolicyName=name)
            iam.delete_role(RoleName=role)
        for arn in self._policies:
            iam.delete_policy(PolicyArn=arn)
        cloudfront = self.client(session, "cloudfront")
        for control in self._controls:
            etag = cloudfront.get_origin_access_control(Id=control)["ETag"]
            cloudfront.delete_origin_access_control(Id=control, IfMatch=etag)


@pytest.fixture
def account(moto_endpoint: str) -> Iterator[Account]:
    created: Account | None = None
    try:
        with enforced(moto_endpoint) as admin:
            created = Account(moto_endpoint, admin)
            yield created
    finally:
        if created is not None:
            created.clean()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<html><head><title>Bakery</title></head></html>")
    (root / "assets" / "index-Dx3k9aQ1.css").write_text("body{}")
    return root


def _new_user() -> tuple[str, str]:
    user_id = naming.new_user_id()
    return user_id, f"tmux-{naming.user_prefix(user_id)}-site-{os.urandom(3).hex()}"


def test_a_role_with_the_user_policy_and_the_boundary_deploys_only_its_own_site(
    account: Account, site: Path
) -> None:
    user_id, own = _new_user()
    other_user, foreign = _new_user()
    foreign = account.bucket(foreign)
    artifacts = account.bucket(f"tmux-builder-artifacts-{os.urandom(3).hex()}", "users/x/a.md")
    boundary = account.boundary()
    policy = for_moto(iam_identity.user_policy(user_id, pe.ACCOUNT, pe.PARTITION))
    role = account.user_role(user_id, policy, boundary)
    other_role = account.user_role(
        other_user,
        for_moto(iam_identity.user_policy(other_user, pe.ACCOUNT, pe.PARTITION)),
        boundary,
    )
    session = account.assume(role, user_id)
    s3 = account.client(session, "s3")
    tags = naming.resource_tags(user_id, naming.new_session_id(), "static")
    progress: list[str] = []
    account.forget_later(bucket=own)

    # The deployer's own S3 steps, as the user's role: create (then reuse) a private bucket,
    # upload, prune, and let only the distribution read it.
    aws_static.ensure_bucket(s3, own, REGION, tags, progress.append)
    aws_static.ensure_bucket(s3, own, REGION, tags, progress.append)
    assert progress[:2] == [f"Created bucket {own}", f"Reusing bucket {own}"]
    s3.put_object(Bucket=own, Key="old.html", Body=b"old")
    aws_static.upload_files(s3, own, site_files(site), progress.append)
    assert aws_static.remove_stale_objects(
        s3, own, {"index.html", "assets/index-Dx3k9aQ1.css"}, progress.append
    ) == ["old.html"]
    distribution = f"arn:aws:cloudfront::{pe.ACCOUNT}:distribution/E2EXAMPLE"
    aws_static.allow_distribution_reads(s3, own, distribution)
    written = account.client(account.admin, "s3").get_bucket_policy(Bucket=own)["Policy"]
    assert json.loads(written)["Statement"][0]["Condition"]["StringEquals"] == {
        "AWS:SourceArn": distribution
    }
    assert s3.get_object(Bucket=own, Key="index.html")["Body"].read().startswith(b"<html>")
    cloudfront = account.client(session, "cloudfront")
    control = cloudfront.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": own,
            "SigningProtocol": "sigv4",
            "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3",
        }
    )["OriginAccessControl"]["Id"]
    account.forget_later(control=control)

    # Everything else: 403.
    refused: dict[str, Callable[[], Any]] = {
        "another user's new bucket": lambda: s3.create_bucket(Bucket=f"{foreign}-2"),
        "another user's object (write)": lambda: s3.put_object(Bucket=foreign, Key="x", Body=b"x"),
        "another user's object (read)": lambda: s3.get_object(Bucket=foreign, Key="index.html"),
        "another user's bucket policy": lambda: s3.put_bucket_policy(
            Bucket=foreign, Policy=json.dumps({"Version": "2012-10-17", "Statement": []})
        ),
        "another user's public access block": lambda: s3.put_public_access_block(
            Bucket=foreign,
            PublicAccessBlockConfiguration={"BlockPublicAcls": False},
        ),
        "another user's listing": lambda: s3.list_objects_v2(Bucket=foreign),
        "the artifacts bucket": lambda: s3.get_object(Bucket=artifacts, Key="users/x/a.md"),
        "a bucket outside tmux-*": lambda: s3.create_bucket(
            Bucket=f"outside-{os.urandom(3).hex()}"
        ),
        "listing all buckets": s3.list_buckets,
        "IAM": account.client(session, "iam").list_roles,
        "widening its own policy": lambda: account.client(session, "iam").put_role_policy(
            RoleName=iam_identity.role_name(user_id),
            PolicyName="more",
            PolicyDocument=json.dumps(pe.everything()),
        ),
        "another user's role": lambda: account.client(session, "sts").assume_role(
            RoleArn=other_role, RoleSessionName=iam_identity.role_session_name(other_user)
        ),
        "DynamoDB": account.client(session, "dynamodb").list_tables,
        "SQS": account.client(session, "sqs").list_queues,
        "changing a distribution": lambda: cloudfront.update_distribution(
            Id="E2EXAMPLE",
            IfMatch="etag",
            DistributionConfig=aws_static.distribution_config(
                own, f"{own}.s3.amazonaws.com", control
            ),
        ),
        "CloudFront functions": lambda: cloudfront.create_function(
            Name=f"f{os.urandom(3).hex()}",
            FunctionConfig={"Comment": "", "Runtime": "cloudfront-js-2.0"},
            FunctionCode=b"function handler(e) { return e.request; }",
        ),
    }
    statuses = {what: _status(call) for what, call in refused.items()}
    assert statuses == {what: 403 for what in refused}


def test_moto_ignores_the_boundary(account: Account) -> None:
    """A role with s3:* on * and the boundary still creates any bucket in moto.

    On AWS the boundary refuses it; :func:`tests.iam.policy_eval.allowed` says the same
    offline, which is where the boundary is tested (``test_policy_scope.py``). If this test
    starts failing, moto has begun to enforce boundaries: turn it into a 403 assertion.
    """
    user_id, _ = _new_user()
    broader = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Broader", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    boundary = account.boundary()
    role = account.user_role(user_id, broader, boundary)
    stored = account.iam.get_role(RoleName=iam_identity.role_name(user_id))["Role"]
    assert stored["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary

    outside = f"outside-the-boundary-{os.urandom(3).hex()}"
    s3 = account.client(account.assume(role, user_id), "s3")
    s3.create_bucket(Bucket=outside)  # moto: allowed (the boundary is not evaluated)
    account.forget_later(bucket=outside)

    request = pe.Request("s3:CreateBucket", f"arn:aws:s3:::{outside}")
    assert pe.allowed(broader, request)
    assert not pe.allowed(broader, request, pe.boundary())


def test_a_role_with_the_user_policy_deploys_its_own_dynamic_site_and_nothing_else(
    account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The EC2 deployer end to end as the user's role (moto checks IAM and S3 resources;
    EC2 and SSM only by action: their tag conditions are evaluated in test_dynamic_scope.py)."""
    user_id, own = _new_user()
    other_user, foreign = _new_user()
    foreign = account.bucket(foreign, "release/app.tar.gz")
    policy = for_moto(iam_identity.user_policy(user_id, pe.ACCOUNT, pe.PARTITION))
    role = account.user_role(user_id, policy, account.boundary())
    site_boundary = account.site_instance_boundary()
    session = account.assume(role, user_id)
    code = tmp_path / "code"
    (code / "assets").mkdir(parents=True)
    (code / "index.html").write_text("<html><head><title>Bakery</title></head></html>")
    (code / "package.json").write_text('{"scripts": {"start": "node server.js"}}')
    (code / "server.js").write_text("require('node:http')")
    account.forget_later(bucket=own)
    account.forget_site_identity(own)
    monkeypatch.setenv("AWS_ENDPOINT_URL", account.endpoint)
    image = account.client(account.admin, "ec2").describe_images(Owners=["amazon"])["Images"][0]

    def deploy() -> Any:
        return aws_dynamic.deploy_dynamic_site(
            session,
            code,
            name=own,
            tags=naming.resource_tags(user_id, naming.new_session_id(), "dynamic"),
            endpoints=InstanceEndpoints(),
            progress=lambda _m: None,
            launch_key="exec-1",
            image_id=image["ImageId"],
            role_boundary=site_boundary,
            poll_interval_s=0,
        )

    first = deploy()
    instance_id = first.resources[0].id
    account.forget_later(instance=instance_id)
    again = deploy()  # the redeploy: reuse everything, reboot the instance
    assert again.resources[0].id == instance_id
    stored = account.iam.get_role(RoleName=own)["Role"]
    assert stored["PermissionsBoundary"]["PermissionsBoundaryArn"] == site_boundary

    iam = account.client(session, "iam")
    other_site = account.site_role(f"tmux-{naming.user_prefix(other_user)}-site-x", other_user)
    refused: dict[str, Callable[[], Any]] = {
        "another user's site role policy": lambda: iam.put_role_policy(
            RoleName=other_site,
            PolicyName=aws_dynamic.ROLE_POLICY_NAME,
            PolicyDocument=json.dumps(pe.everything()),
        ),
        "its own role's policy": lambda: iam.put_role_policy(
            RoleName=iam_identity.role_name(user_id),
            PolicyName="more",
            PolicyDocument=json.dumps(pe.everything()),
        ),
        "deleting its site role": lambda: iam.delete_role(RoleName=own),
        "a managed policy on its site role": lambda: iam.attach_role_policy(
            RoleName=own, PolicyArn=site_boundary
        ),
        "listing roles": iam.list_roles,
        "another user's release": lambda: account.client(session, "s3").get_object(
            Bucket=foreign, Key="release/app.tar.gz"
        ),
        "an EC2 call the deployer never makes": lambda: account.client(
            session, "ec2"
        ).modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": True}),
        "a VPC": lambda: account.client(session, "ec2").create_vpc(CidrBlock="10.9.0.0/16"),
        "deleting a security group": lambda: account.client(session, "ec2").delete_security_group(
            GroupId=first.resources[1].id
        ),
    }
    statuses = {what: _status(call) for what, call in refused.items()}
    assert statuses == {what: 403 for what in refused}
