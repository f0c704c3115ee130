"""moto's IAM enforcement for tests: one process-wide switch, and an admin to flip it safely.

Enforcement is turned on only inside :func:`enforcement` and always off again, so other tests
sharing the moto server keep their plain ``testing`` credentials.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


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


@contextmanager
def enforcement(endpoint: str, iam: Any, name: str) -> Iterator[dict[str, str]]:
    """An admin user's access key (made while enforcement is off), then enforcement on.

    ``iam`` is a client that works without enforcement. Afterwards enforcement is off again
    and the admin is removed, whatever happened inside.
    """
    admin = f"{name}-{os.urandom(4).hex()}"
    iam.create_user(UserName=admin)
    everything = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    iam.put_user_policy(
        UserName=admin, PolicyName="everything", PolicyDocument=json.dumps(everything)
    )
    key = iam.create_access_key(UserName=admin)["AccessKey"]
    reset_auth(endpoint, "0")
    try:
        yield {
            "aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"],
        }
    finally:
        reset_auth(endpoint, "inf")
        iam.delete_access_key(UserName=admin, AccessKeyId=key["AccessKeyId"])
        iam.delete_user_policy(UserName=admin, PolicyName="everything")
        iam.delete_user(UserName=admin)
