"""One real moto server (threaded, on a free port) for the embedded-stack tests.

moto's backends are process globals, so every test here shares one server; tests use names of
their own and never assume an empty account.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tmux_builder.local import lambda_runtime
from tmux_builder.local.moto_server import MotoServer, aws_client

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"
FAKE_CODE_PACKAGE = f"{__package__}.fake_code" if __package__ else "fake_code"

_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@pytest.fixture(scope="package")
def moto_server() -> Iterator[MotoServer]:
    saved = {key: os.environ.get(key) for key in (*_ENVIRONMENT, "MOTO_PORT")}
    os.environ.update(_ENVIRONMENT)
    server = MotoServer().start()
    lambda_runtime.install({"fake_code/": FAKE_CODE_PACKAGE})
    try:
        yield server
    finally:
        try:
            lambda_runtime.uninstall()
        finally:
            server.stop()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture(scope="package")
def endpoint_url(moto_server: MotoServer) -> str:
    return moto_server.endpoint_url


@pytest.fixture
def aws(endpoint_url: str):  # noqa: ANN201 - returns a client factory
    """``aws("s3")``: a boto3 client against the test moto server."""

    def client(service: str):  # noqa: ANN202
        return aws_client(service, endpoint_url)

    return client
