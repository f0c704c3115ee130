"""Lambda functions in moto run their real handlers in-process, on every invoke path.

The functions come from a small template provisioned like template.yaml; their code is the
``fake_code`` package next to this file (CodeUri ``fake_code/``).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tmux_builder.local import lambda_runtime
from tmux_builder.local.provision import StackOutputs, provision

from .conftest import FAKE_CODE_PACKAGE
from .fake_code import app as fake_app

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    CodeUri: fake_code/
    Timeout: 30
    MemorySize: 256
Resources:
  Inbox:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: runtime-test-inbox
  Flaky:
    Type: AWS::Serverless::Function
    Properties: {FunctionName: runtime-test-flaky, Handler: app.flaky}
  Broken:
    Type: AWS::Serverless::Function
    Properties: {FunctionName: runtime-test-broken, Handler: app.broken}
  WhoAmI:
    Type: AWS::Serverless::Function
    Properties: {FunctionName: runtime-test-whoami, Handler: app.whoami}
  Unserializable:
    Type: AWS::Serverless::Function
    Properties: {FunctionName: runtime-test-unserializable, Handler: app.unserializable}
  Consumer:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: runtime-test-consumer
      Handler: app.consume
      Events:
        Inbox:
          Type: SQS
          Properties: {Queue: !GetAtt Inbox.Arn, BatchSize: 1}
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Name: runtime-test-machine
      DefinitionUri: machine.asl.json
      DefinitionSubstitutions:
        FlakyArn: !GetAtt Flaky.Arn
        BrokenArn: !GetAtt Broken.Arn
"""

LAMBDA_RETRY = {
    "ErrorEquals": ["Lambda.ServiceException", "Lambda.TooManyRequestsException"],
    "IntervalSeconds": 1,
    "MaxAttempts": 3,
}

# The shape of stepfunctions/pipeline.asl.json: lambda:invoke, OutputPath $.Payload, Retry on
# the handler's own error type, one Catch by name and a States.ALL catch-all.
MACHINE = {
    "StartAt": "flaky",
    "States": {
        "flaky": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {
                "FunctionName": "${FlakyArn}",
                "Payload": {"key.$": "$.key", "attempt.$": "$$.State.RetryCount"},
            },
            "OutputPath": "$.Payload",
            "Retry": [
                LAMBDA_RETRY,
                {"ErrorEquals": ["SiteNotReady"], "IntervalSeconds": 1, "MaxAttempts": 2},
            ],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failed", "Next": "failed"}],
            "Next": "broken",
        },
        "broken": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${BrokenArn}", "Payload": {"state.$": "$"}},
            "OutputPath": "$.Payload",
            "Retry": [LAMBDA_RETRY, {"ErrorEquals": ["SiteNotReady"], "MaxAttempts": 3}],
            "Catch": [
                {"ErrorEquals": ["DeployError"], "ResultPath": "$.caught", "Next": "recovered"},
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failed", "Next": "failed"},
            ],
            "Next": "failed",
        },
        "recovered": {"Type": "Pass", "End": True},
        "failed": {"Type": "Fail", "Error": "Unexpected"},
    },
}


@pytest.fixture(scope="module")
def stack(endpoint_url: str, tmp_path_factory: pytest.TempPathFactory) -> StackOutputs:
    folder: Path = tmp_path_factory.mktemp("runtime-stack")
    (folder / "template.yaml").write_text(TEMPLATE)
    (folder / "machine.asl.json").write_text(json.dumps(MACHINE, indent=2))
    return provision(folder / "template.yaml", endpoint_url, {})


def _invoke(aws: Any, name: str, payload: Any) -> tuple[dict[str, Any], str | None]:
    response = aws("lambda").invoke(FunctionName=name, Payload=json.dumps(payload))
    return json.loads(response["Payload"].read()), response.get("FunctionError")


def _wait_for(aws: Any, execution_arn: str, timeout: float = 15.0) -> dict[str, Any]:
    sfn = aws("stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            return dict(execution)
        time.sleep(0.05)
    raise AssertionError(f"{execution_arn} still running after {timeout}s")


def test_invoke_api_runs_the_handler_with_a_lambda_context(stack: StackOutputs, aws: Any) -> None:
    result, error = _invoke(aws, "runtime-test-whoami", {"hello": "world"})

    assert error is None
    assert result["event"] == {"hello": "world"}
    assert result["function_name"] == "runtime-test-whoami"
    assert result["function_version"] == "$LATEST"
    assert result["invoked_function_arn"] == stack.functions["WhoAmI"].arn
    assert result["memory_limit_in_mb"] == 256
    assert result["log_group_name"] == "/aws/lambda/runtime-test-whoami"
    assert 0 < result["remaining_ms"] <= 30_000
    uuid.UUID(result["aws_request_id"])


def test_a_raised_exception_is_reported_by_its_class_name(stack: StackOutputs, aws: Any) -> None:
    result, error = _invoke(aws, "runtime-test-flaky", {"key": "direct", "attempt": 0})

    assert error  # moto says "Handled" where AWS says "Unhandled"
    assert result["errorType"] == "SiteNotReady"
    assert result["errorMessage"] == "not yet (attempt 0)"
    assert any("fake_code/app.py" in line for line in result["stackTrace"])

    unserializable, error = _invoke(aws, "runtime-test-unserializable", {})
    assert error and unserializable["errorType"] == "TypeError"


def test_step_functions_retry_and_catch_match_the_handler_error_type(
    stack: StackOutputs, aws: Any
) -> None:
    key = uuid.uuid4().hex
    execution = aws("stepfunctions").start_execution(
        stateMachineArn=stack.outputs.get("Machine") or stack.resources["Machine"],
        name=f"runtime-{key}",
        input=json.dumps({"key": key}),
    )

    done = _wait_for(aws, execution["executionArn"])

    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    # Retry on SiteNotReady: the first attempt failed, the second (RetryCount 1) succeeded.
    assert output["key"] == key and output["attempts"] == 2
    assert fake_app.calls[f"flaky:{key}"] == 2
    # Catch on DeployError by name; its Retry on SiteNotReady did not match: one call.
    assert output["caught"]["Error"] == "DeployError"
    assert json.loads(output["caught"]["Cause"])["errorMessage"] == "the bucket refused the upload"
    assert fake_app.calls[f"broken:{key}"] == 1


def test_sqs_event_source_mapping_invokes_the_handler(stack: StackOutputs, aws: Any) -> None:
    body = json.dumps({"event": uuid.uuid4().hex})

    aws("sqs").send_message(QueueUrl=stack.resources["Inbox"], MessageBody=body)

    # moto delivers to the mapped function synchronously, inside SendMessage.
    assert body in [record["body"] for record in fake_app.received]


def test_a_code_uri_without_a_package_is_an_import_error(stack: StackOutputs, aws: Any) -> None:
    lambda_runtime.install({"other/": "nowhere"})
    try:
        result, error = _invoke(aws, "runtime-test-whoami", {})
    finally:
        lambda_runtime.install({"fake_code/": FAKE_CODE_PACKAGE})

    assert error
    assert result["errorType"] == "Runtime.ImportModuleError"
    assert "fake_code" in result["errorMessage"]
