"""Per-user IAM: each user's role reaches only ``tmux-{prefix}-*``, proven with moto enforcing IAM.

moto's enforcement is one process-wide switch (``/moto-api/reset-auth``): it is turned on only
inside :func:`enforced_iam` and always turned off again, so the other tests of the shared stack
keep their plain ``testing`` credentials.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError

from agent.credentials import UserCredentials, UserCredentialsError
from control_plane import iam_identity, steps, tracking, users
from tests.moto_iam import enforcement
from tmux_builder import aws, naming, settings
from tmux_builder.contracts import PipelineState
from tmux_builder.local.provision import StackOutputs


@contextmanager
def enforced_iam() -> Iterator[None]:
    """Admin keys in the environment and IAM enforced; both undone whatever happens."""
    endpoint = os.environ["AWS_ENDPOINT_URL"]  # the stack's moto server
    saved = {name: os.environ[name] for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    with enforcement(endpoint, aws.client("iam"), "isolation-admin") as keys:
        os.environ["AWS_ACCESS_KEY_ID"] = keys["aws_access_key_id"]
        os.environ["AWS_SECRET_ACCESS_KEY"] = keys["aws_secret_access_key"]
        aws.reset()
        try:
            yield
        finally:
            os.environ.update(saved)
            aws.reset()


def _status(call: Any) -> int:
    """HTTP status of a refused call (JSON services answer 403 with an XML body in moto)."""
    with pytest.raises(ClientError) as caught:
        call()
    return int(caught.value.response["ResponseMetadata"]["HTTPStatusCode"])


def test_a_users_credentials_reach_only_their_own_resources(stack: StackOutputs) -> None:
    user_a, user_b = naming.new_user_id(), naming.new_user_id()
    own, foreign = f"tmux-{user_a[:12]}-site", f"tmux-{user_b[:12]}-site"
    table = stack.outputs["TableName"]
    with enforced_iam():
        role_a = iam_identity.ensure_identity(user_a)
        iam_identity.ensure_identity(user_b)
        aws.client("s3").create_bucket(Bucket=foreign)

        session = UserCredentials().session_for_user(role_a, user_a)
        identity = session.client("sts").get_caller_identity()["Arn"]
        assert identity.endswith(
            f":assumed-role/tmux-user-{user_a[:12]}/tmux-builder-{user_a[:12]}"
        )
        s3 = session.client("s3")
        s3.create_bucket(Bucket=own)
        s3.put_object(Bucket=own, Key="index.html", Body=b"<title>A</title>")
        assert s3.get_object(Bucket=own, Key="index.html")["Body"].read() == b"<title>A</title>"

        assert _status(lambda: s3.create_bucket(Bucket=f"tmux-{user_b[:12]}-other")) == 403
        assert _status(lambda: s3.put_object(Bucket=foreign, Key="x", Body=b"x")) == 403
        assert _status(lambda: s3.get_object(Bucket=foreign, Key="x")) == 403
        assert _status(s3.list_buckets) == 403
        assert _status(session.client("iam").list_users) == 403
        assert (
            _status(lambda: session.client("iam").get_role(RoleName=f"tmux-user-{user_b[:12]}"))
            == 403
        )
        dynamodb = session.client("dynamodb")
        assert _status(dynamodb.list_tables) == 403
        key = {"pk": {"S": f"USER#{user_a}"}, "sk": {"S": "PROFILE"}}
        assert _status(lambda: dynamodb.get_item(TableName=table, Key=key)) == 403

        with pytest.raises(UserCredentialsError, match="not the role of user"):
            UserCredentials().session_for_user(role_a, user_b)

        assert iam_identity.delete_identity(user_a) is True
        assert iam_identity.delete_identity(user_b) is True


def test_identity_is_idempotent_tagged_bounded_and_recorded(
    stack: StackOutputs, monkeypatch: pytest.MonkeyPatch
) -> None:
    iam = aws.client("iam")
    boundary = iam.create_policy(
        PolicyName=f"tmux-boundary-{os.urandom(3).hex()}",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    monkeypatch.setenv("TMUX_BUILDER_USER_PERMISSIONS_BOUNDARY_ARN", boundary)
    settings.reload()
    try:
        user_id = naming.new_user_id()
        prefix = user_id[:12]
        first = iam_identity.ensure_identity(user_id)
        assert iam_identity.ensure_identity(user_id) == first

        role = iam.get_role(RoleName=f"tmux-user-{prefix}")["Role"]
        assert role["Arn"] == first
        assert role["MaxSessionDuration"] == 3600
        assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
        tags = {t["Key"]: t["Value"] for t in role["Tags"]}
        assert tags == {
            "Project": "tmux-builder",
            "UserGUID": user_id,
            "CreatedBy": "tmux-builder-automation",
        }
        assert iam.list_role_policies(RoleName=f"tmux-user-{prefix}")["PolicyNames"] == [
            f"tmux-policy-{prefix}"
        ]
        document = iam.get_role_policy(
            RoleName=f"tmux-user-{prefix}", PolicyName=f"tmux-policy-{prefix}"
        )["PolicyDocument"]
        text = json.dumps(document)
        assert "{" + "prefix}" not in text and "{" + "account_id}" not in text
        by_sid = {s["Sid"]: s["Resource"] for s in document["Statement"]}
        assert by_sid["OwnSiteBuckets"] == f"arn:aws:s3:::tmux-{prefix}-*"
        assert by_sid["OwnSiteObjects"] == f"arn:aws:s3:::tmux-{prefix}-*/*"
        account = role["Arn"].split(":")[4]
        assert by_sid["OwnSiteRoles"] == f"arn:aws:iam::{account}:role/tmux-{prefix}-*"
        assert by_sid["PassSiteRolesToEc2Only"] == f"arn:aws:iam::{account}:role/tmux-{prefix}-*"

        recorded = [r for r in tracking.resources_of(user_id) if r["resource_type"] == "iam_role"]
        assert [(r["resource_id"], r["session_id"], r["status"]) for r in recorded] == [
            (f"tmux-user-{prefix}", iam_identity.USER_SCOPE, "active")
        ]

        assert iam_identity.delete_identity(user_id) is True
        assert iam_identity.delete_identity(user_id) is False
    finally:
        monkeypatch.delenv("TMUX_BUILDER_USER_PERMISSIONS_BOUNDARY_ARN")
        settings.reload()


def test_a_role_of_that_name_tagged_for_someone_else_is_left_alone(stack: StackOutputs) -> None:
    user_id = naming.new_user_id()
    name = f"tmux-user-{user_id[:12]}"
    aws.client("iam").create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(
            iam_identity.trust_policy(user_id, "arn:aws:iam::123456789012:root")
        ),
        Tags=[{"Key": "UserGUID", "Value": naming.new_user_id()}],
    )
    with pytest.raises(iam_identity.IdentityConflict):
        iam_identity.ensure_identity(user_id)
    with pytest.raises(iam_identity.IdentityConflict):
        iam_identity.delete_identity(user_id)
    aws.client("iam").delete_role(RoleName=name)


def test_create_user_step_puts_the_role_into_the_state(stack: StackOutputs) -> None:
    user = users.find_or_create(f"iam-{os.urandom(3).hex()}@example.com", None)
    session_id = naming.new_session_id()
    state = PipelineState(
        execution_id=naming.execution_id(user.user_id, session_id),
        user_id=user.user_id,
        session_id=session_id,
    )
    after = steps.create_user(state)
    assert after.identity_role_arn == (
        f"arn:aws:iam::{stack_account()}:role/tmux-user-{user.user_id[:12]}"
    )
    assert users.get(user.user_id)["identity_status"] == "ready"
    iam_identity.delete_identity(user.user_id)


def stack_account() -> str:
    return str(aws.client("sts").get_caller_identity()["Account"])


# --- rendering, without the stack ---------------------------------------------------------------


def test_rendering_substitutes_inside_strings_only_once() -> None:
    template = {"A": "{prefix}-{user_id}", "{prefix}": ["x{user_id}"], "n": 1}
    values = {"prefix": "{user_id}", "user_id": "u"}
    assert iam_identity.render(template, values) == {
        "A": "{user_id}-u",
        "{user_id}": ["xu"],
        "n": 1,
    }
    with pytest.raises(iam_identity.PolicyTemplateError, match="unknown placeholder"):
        iam_identity.render({"A": "{nope}"}, values)


def test_rendering_refuses_values_that_are_not_ids() -> None:
    user_id = "0123456789abcdef0123456789abcdef"
    with pytest.raises(ValueError):
        iam_identity.user_policy('x", "Resource": "*', "123456789012", "aws")
    with pytest.raises(iam_identity.IdentityError, match="account id"):
        iam_identity.user_policy(user_id, '1"', "aws")
    with pytest.raises(iam_identity.IdentityError, match="partition"):
        iam_identity.user_policy(user_id, "123456789012", "aws:*")
    with pytest.raises(iam_identity.IdentityError, match="agent principal"):
        iam_identity.trust_policy(user_id, "*")
    trust = iam_identity.trust_policy(user_id, "arn:aws:iam::123456789012:role/agent-host")
    statement = trust["Statement"][0]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::123456789012:role/agent-host"}
    assert statement["Condition"]["StringEquals"]["sts:RoleSessionName"] == (
        "tmux-builder-0123456789ab"
    )


def test_an_assumed_role_caller_is_trusted_as_its_role() -> None:
    assert (
        iam_identity.principal_of(
            "arn:aws:sts::123456789012:assumed-role/tmux-builder-create-user-role/fn-session"
        )
        == "arn:aws:iam::123456789012:role/tmux-builder-create-user-role"
    )
    for caller in ("arn:aws:iam::123456789012:user/moto", "arn:aws:sts::123456789012:user/moto"):
        assert iam_identity.principal_of(caller) == "arn:aws:iam::123456789012:user/moto"
