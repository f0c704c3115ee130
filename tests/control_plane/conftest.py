"""The control plane against the embedded AWS: moto in server mode, provisioned from
template.yaml, with the real handlers running in-process for Step Functions' Lambda tasks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tmux_builder import aws, settings
from tmux_builder.local import lambda_runtime
from tmux_builder.local.moto_server import MotoServer
from tmux_builder.local.provision import StackOutputs, provision

ROOT = Path(__file__).resolve().parents[2]
_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@pytest.fixture(scope="package")
def stack() -> Iterator[StackOutputs]:
    saved = dict(os.environ)
    os.environ.update(_ENVIRONMENT)
    server = MotoServer().start()
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint_url
    lambda_runtime.install({"build/lambda/": "control_plane"})
    try:
        outputs = provision(
            ROOT / "template.yaml",
            server.endpoint_url,
            {
                "Environment": "local",
                "SiteEdge": "http://127.0.0.1:9",
                "HealthCheckBudgetSeconds": "5",
            },
        )
        os.environ.update(outputs.environment)
        settings.reload()
        aws.reset()
        yield outputs
    finally:
        lambda_runtime.uninstall()
        server.stop()
        os.environ.clear()
        os.environ.update(saved)
        settings.reload()
        aws.reset()


@pytest.fixture(scope="package")
def admin_token(stack: StackOutputs) -> str:
    secret = aws.client("secretsmanager").get_secret_value(
        SecretId=stack.outputs["AdminTokenSecretArn"]
    )
    return str(secret["SecretString"])


@pytest.fixture
def admin(admin_token: str) -> dict[str, str]:
    """Headers of the admin credential."""
    return {"Authorization": f"Bearer {admin_token}"}


@pytest.fixture
def client(stack: StackOutputs) -> Iterator[Any]:
    from chalice.test import Client

    from control_plane.app import app

    with Client(app) as test_client:
        yield test_client
