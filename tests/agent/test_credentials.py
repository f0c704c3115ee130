"""The user's role credentials: assumed with the agent's own, kept in memory per role, refreshed
before they expire, and never handed to a role of another user."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from agent.credentials import (
    UserCredentials,
    UserCredentialsError,
    check_role_arn,
    role_session_name,
)
from agent.errors import DeployError
from agent.step_handlers import InvalidTask, StepContext, StepHandlers
from tmux_builder.contracts import AgentTask, PipelineState, Provider, SiteSpec, SiteType
from tmux_builder.pipeline import Step

USER_ID = "0123456789abcdef0123456789abcdef"
OTHER_ID = "fedcba9876543210fedcba9876543210"
ROLE_ARN = "arn:aws:iam::123456789012:role/tmux-user-0123456789ab"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        boto3.client("iam").create_role(
            RoleName="tmux-user-0123456789ab",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )
        yield


class CountingSts:
    """The real (moto) STS client, counting AssumeRole calls; optionally short-lived answers."""

    def __init__(self, lifetime: timedelta | None = None) -> None:
        self.client = boto3.client("sts")
        self.calls: list[dict[str, Any]] = []
        self.lifetime = lifetime

    def __call__(self) -> CountingSts:
        return self

    def assume_role(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        answer: dict[str, Any] = self.client.assume_role(**kwargs)
        if self.lifetime is not None:
            answer["Credentials"]["Expiration"] = datetime.now(UTC) + self.lifetime
        return answer


def test_the_session_acts_as_the_users_role_and_is_kept_per_role(aws: None) -> None:
    sts = CountingSts()
    credentials = UserCredentials(sts=sts, duration_seconds=900)
    session = credentials.session_for_user(ROLE_ARN, USER_ID)

    caller = session.client("sts").get_caller_identity()["Arn"]
    assert caller == (
        "arn:aws:sts::123456789012:assumed-role/tmux-user-0123456789ab/tmux-builder-0123456789ab"
    )
    session.client("s3").create_bucket(Bucket="tmux-0123456789ab-site")
    assert sts.calls == [
        {
            "RoleArn": ROLE_ARN,
            "RoleSessionName": "tmux-builder-0123456789ab",
            "DurationSeconds": 900,
        }
    ]

    again = credentials.session_for_user(ROLE_ARN, USER_ID)
    again.client("s3").list_objects_v2(Bucket="tmux-0123456789ab-site")
    assert len(sts.calls) == 1
    assert credentials.cached_roles() == [ROLE_ARN]

    credentials.forget_user(USER_ID)
    assert credentials.cached_roles() == []
    credentials.session_for_user(ROLE_ARN, USER_ID).client("sts").get_caller_identity()
    assert len(sts.calls) == 2


def test_credentials_close_to_expiry_are_refreshed(aws: None) -> None:
    sts = CountingSts(lifetime=timedelta(minutes=2))  # inside the mandatory refresh window
    credentials = UserCredentials(sts=sts)
    session = credentials.session_for_user(ROLE_ARN, USER_ID)
    first = session.get_credentials().get_frozen_credentials()
    assert len(sts.calls) == 2  # botocore refreshed on first use
    sts.lifetime = timedelta(hours=1)
    second = session.get_credentials().get_frozen_credentials()
    assert second.access_key != first.access_key
    session.get_credentials().get_frozen_credentials()
    assert len(sts.calls) == 3


def test_secrets_stay_in_memory(aws: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    session = UserCredentials(sts=CountingSts()).session_for_user(ROLE_ARN, USER_ID)
    frozen = session.get_credentials().get_frozen_credentials()
    session.client("s3").create_bucket(Bucket="tmux-0123456789ab-logs")
    assert "CreateBucket" in caplog.text  # botocore's debug logging was on
    assert frozen.secret_key not in caplog.text and frozen.token not in caplog.text
    for value in os.environ.values():
        assert frozen.secret_key not in value and frozen.token not in value
    assert frozen.secret_key not in repr(session) + repr(session.get_credentials())
    assert "AWS_SESSION_TOKEN" not in os.environ  # the agent's own stay the default


def test_a_role_of_another_user_or_a_malformed_arn_is_refused() -> None:
    assert check_role_arn(ROLE_ARN, USER_ID) == ROLE_ARN
    assert role_session_name(USER_ID) == "tmux-builder-0123456789ab"
    credentials = UserCredentials(sts=lambda: pytest.fail("STS must not be called"))
    for arn, user_id in [
        (ROLE_ARN, OTHER_ID),
        ("arn:aws:iam::123456789012:role/admin", USER_ID),
        ("arn:aws:iam::123456789012:role/tmux-user-0123456789ab/x", USER_ID),
        ("", USER_ID),
    ]:
        with pytest.raises(UserCredentialsError):
            credentials.session_for_user(arn, user_id)
    with pytest.raises(ValueError):
        UserCredentials(duration_seconds=60)


def test_an_sts_refusal_is_a_deploy_error_without_secrets() -> None:
    class Refusing:
        def assume_role(self, **_kwargs: Any) -> dict[str, Any]:
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "AssumeRole"
            )

    credentials = UserCredentials(sts=Refusing)
    with pytest.raises(DeployError, match="AccessDenied: not authorized") as caught:
        credentials.session_for_user(ROLE_ARN, USER_ID)
    assert caught.value.error_code == "DeployError"
    assert credentials.cached_roles() == []


def test_deploy_requires_the_users_role() -> None:
    site = SiteSpec(
        provider=Provider.AWS,
        site_type=SiteType.STATIC,
        slug="bakery-abcdef",
        resource_name="tmux-0123456789ab-bakery-abcdef",
    )
    state = PipelineState(
        execution_id="0123456789ab_sess_20250101T000000_abcdef",
        user_id=USER_ID,
        session_id="sess_20250101T000000_abcdef",
        site=site,
    )
    task = AgentTask(task_token="t", step=Step.DEPLOY, state=state)
    unused: Any = None
    handlers = StepHandlers(StepContext(unused, unused, unused, unused, unused, unused))
    with pytest.raises(InvalidTask, match="identity_role_arn"):
        handlers.handle(task)
