"""A moto server of its own for the IAM enforcement tests, and the enforcement switch.

moto's enforcement is one process-wide counter (``/moto-api/reset-auth``): :func:`enforced`
turns it on and always turns it off again. moto's backends are process globals too, so the
tests name everything uniquely and remove what they create.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest

from tests.moto_iam import enforcement
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


def plain_session() -> boto3.Session:
    """The unauthenticated keys moto accepts while enforcement is off."""
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


@contextmanager
def enforced(endpoint: str) -> Iterator[boto3.Session]:
    """IAM enforced, with a session of an admin user (created first, removed afterwards)."""
    iam = plain_session().client("iam", endpoint_url=endpoint)
    with enforcement(endpoint, iam, "iam-tests-admin") as keys:
        yield boto3.Session(**keys, region_name=REGION)
