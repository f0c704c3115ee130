"""A moto server of its own for the IAM enforcement tests, and the enforcement switch.

moto's enforcement is one process-wide counter (``/moto-api/reset-auth``): :func:`enforced`
turns it on and always turns it off again. moto's backends are process globals too, so the
tests name everything uniquely and remove what they create.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest

from tmux_builder.local.moto_server import MotoServer

REGION = "us-east-1"
_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    saved = dict(os.environ)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(_ENVIRONMENT)
    server = MotoServer().start()
    try:
        yield server.endpoint_url
    finally:
        server.stop()
        os.environ.clear()
        os.environ.update(saved)


def reset_auth(endpoint: str, count: str) -> None:
    """``"0"``: every request is authorized from now on; ``"inf"``: none is."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=count.encode(),
        headers={"Content-Type": "text/plain"},  # a form type would hide the body from moto
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass


def plain_session() -> boto3.Session:
    """The unauthenticated keys moto accepts while enforcement is off."""
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


@contextmanager
def enforced(endpoint: str) -> Iterator[boto3.Session]:
    """IAM enforced, with a session of an admin user (created first, removed afterwards)."""
    iam = plain_session().client("iam", endpoint_url=endpoint)
    admin = f"iam-tests-admin-{os.urandom(4).hex()}"
    iam.create_user(UserName=admin)
    iam.put_user_policy(
        UserName=admin,
        PolicyName="everything",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName=admin)["AccessKey"]
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=REGION,
    )
    reset_auth(endpoint, "0")
    try:
        yield session
    finally:
        reset_auth(endpoint, "inf")
        iam.delete_access_key(UserName=admin, AccessKeyId=key["AccessKeyId"])
        iam.delete_user_policy(UserName=admin, PolicyName="everything")
        iam.delete_user(UserName=admin)
