"""Test helpers for teardown's later passes against the embedded stack.

moto runs in this process, so the tests can do what only time or AWS would do: hold a
CloudFront distribution in ``InProgress`` (it is being disabled), end the delay of a message on
the teardown queue (as SQS does after DelaySeconds), and make one API call answer an AWS error
(an instance still shutting down). Everything else is the real code on the real stack: the
teardown queue's messages go to ``TeardownFunction`` through the Lambda API, as its SQS event
source would deliver them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.awsrequest import AWSResponse

from tmux_builder import aws
from tmux_builder.contracts import TeardownFollowUp
from tmux_builder.local.provision import StackOutputs
from tmux_builder.settings import cloud

ACCOUNT = "123456789012"
REGION = "us-east-1"


def _queue_name() -> str:
    return cloud().teardown_queue_url.rsplit("/", 1)[-1]


def _moto_queue() -> Any:
    from moto.sqs.models import sqs_backends

    return sqs_backends[ACCOUNT][REGION].get_queue(_queue_name())


def queued_follow_ups() -> list[tuple[float, TeardownFollowUp]]:
    """The later passes on the teardown queue, each with the seconds left of its delay.

    Read from moto's queue: SQS shows no message before its delay is over.
    """
    from moto.core.utils import unix_time_millis

    now = unix_time_millis()
    return [
        (max(0.0, (message.delayed_until - now) / 1000), TeardownFollowUp.model_validate_json(body))
        for message in list(_moto_queue()._messages)
        if (body := message.body)
    ]


def run_follow_ups(stack: StackOutputs) -> list[dict[str, Any]]:
    """Deliver every queued pass as if its delay were over: each message to TeardownFunction
    (one per batch, as the event source's BatchSize), deleted when it did not fail.

    Returns the function's answers (partial batch responses).
    """
    for message in list(_moto_queue()._messages):
        message.delayed_until = 0.0
    sqs = aws.client("sqs")
    queue_url = cloud().teardown_queue_url
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    answers: list[dict[str, Any]] = []
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    for message in received.get("Messages", []):
        event = {
            "Records": [
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": message["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": REGION,
                }
            ]
        }
        response = aws.client("lambda").invoke(
            FunctionName=stack.functions["TeardownFunction"].name, Payload=json.dumps(event)
        )
        assert "FunctionError" not in response, response["Payload"].read()
        answer = json.loads(response["Payload"].read())
        answers.append(answer)
        if not answer.get("batchItemFailures"):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return answers


def drop_follow_ups() -> None:
    """Forget every queued pass (a test that leaves some must not hand them to the next)."""
    _moto_queue()._messages.clear()


@contextmanager
def distribution_disabling(distribution_id: str) -> Iterator[None]:
    """The distribution stays ``InProgress`` (its disabling is not deployed) until the end."""
    from moto.cloudfront.models import cloudfront_backends
    from moto.moto_api import state_manager

    state_manager.set_transition(
        "cloudfront::distribution", {"progression": "manual", "times": 10**9}
    )
    distribution = cloudfront_backends[ACCOUNT]["aws"].distributions[distribution_id]
    distribution.status = "InProgress"
    try:
        yield
    finally:
        state_manager.unset_transition("cloudfront::distribution")


@contextmanager
def refusing(
    service: str, operation: str, code: str, regions: tuple[str | None, ...] = (None, REGION)
) -> Iterator[list[dict[str, Any]]]:
    """Every ``operation`` call of the shared clients answers the AWS error ``code`` (HTTP 400)
    until the end; yields the refused calls' requests (botocore's request dicts)."""
    refused: list[dict[str, Any]] = []

    def refuse(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        refused.append(params)
        error = {"Code": code, "Message": f"{operation} refused by the test"}
        return AWSResponse("https://refused.test", 400, {}, None), {
            "Error": error,
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }

    handler_id = f"refuse-{uuid.uuid4().hex}"
    event = f"before-call.{service}.{operation}"
    clients = [aws.client(service, region) for region in regions]
    for client in clients:
        client.meta.events.register(event, refuse, unique_id=handler_id)
    try:
        yield refused
    finally:
        for client in clients:
            client.meta.events.unregister(event, unique_id=handler_id)
