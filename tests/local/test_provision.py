"""provision() creates what template.yaml declares, in moto, and is idempotent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tmux_builder.local.cfn_template import Resolver, load_template
from tmux_builder.local.provision import StackOutputs, apply_substitutions, provision

from .conftest import REPO_ROOT, TEMPLATE

PARAMETERS = {"Environment": "local"}


@pytest.fixture(scope="module")
def stack(endpoint_url: str) -> StackOutputs:
    return provision(TEMPLATE, endpoint_url, PARAMETERS)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def _declared_names(template: dict[str, Any], resource_type: str, name_key: str) -> set[str]:
    """The names template.yaml gives resources of one type (resolved independently)."""
    resolver = Resolver(template=template, parameters=PARAMETERS)
    return {
        resolver.resolve_str(resource["Properties"][name_key])
        for resource in template["Resources"].values()
        if resource["Type"] == resource_type
    }


def _inventory(aws: Any) -> dict[str, Any]:
    sfn = aws("stepfunctions")
    return {
        "tables": sorted(aws("dynamodb").list_tables()["TableNames"]),
        "queues": sorted(aws("sqs").list_queues().get("QueueUrls", [])),
        "buckets": sorted(b["Name"] for b in aws("s3").list_buckets()["Buckets"]),
        "functions": sorted(f["FunctionName"] for f in aws("lambda").list_functions()["Functions"]),
        "machines": sorted(m["name"] for m in sfn.list_state_machines()["stateMachines"]),
        "mappings": sorted(
            m["UUID"] for m in aws("lambda").list_event_source_mappings()["EventSourceMappings"]
        ),
        "roles": sorted(r["RoleName"] for r in aws("iam").list_roles()["Roles"]),
    }


def test_every_declared_resource_exists(stack: StackOutputs, template: dict, aws: Any) -> None:
    inventory = _inventory(aws)
    assert _declared_names(template, "AWS::DynamoDB::Table", "TableName") <= set(
        inventory["tables"]
    )
    buckets = _declared_names(template, "AWS::S3::Bucket", "BucketName")
    assert buckets <= set(inventory["buckets"])
    queues = _declared_names(template, "AWS::SQS::Queue", "QueueName")
    assert {url.rsplit("/", 1)[-1] for url in inventory["queues"]} >= queues
    functions = _declared_names(template, "AWS::Serverless::Function", "FunctionName")
    assert functions <= set(inventory["functions"])
    assert {info.name for info in stack.functions.values()} == functions
    machines = _declared_names(template, "AWS::Serverless::StateMachine", "Name")
    assert machines <= set(inventory["machines"])


def test_outputs_and_environment(stack: StackOutputs) -> None:
    assert stack.outputs["TableName"] == "tmux-builder-table"
    assert stack.outputs["AgentQueueUrl"].endswith("/123456789012/tmux-builder-agent-tasks")
    assert stack.outputs["StateMachineArn"] == (
        "arn:aws:states:us-east-1:123456789012:stateMachine:tmux-builder-pipeline"
    )
    assert "ApiUrl" not in stack.outputs  # refers to SAM's implicit API: not created here
    assert stack.environment["TMUX_BUILDER_TABLE"] == "tmux-builder-table"
    assert stack.environment["TMUX_BUILDER_AGENT_QUEUE_URL"] == stack.outputs["AgentQueueUrl"]
    assert stack.environment["TMUX_BUILDER_STATE_MACHINE_ARN"] == stack.outputs["StateMachineArn"]
    assert stack.environment["TMUX_BUILDER_ENVIRONMENT"] == "local"
    create_user = stack.functions["CreateUserFunction"]
    assert create_user.handler == "app.create_user"
    assert create_user.code_uri == "build/lambda/"


def test_resource_configuration(stack: StackOutputs, aws: Any) -> None:
    table = aws("dynamodb").describe_table(TableName=stack.outputs["TableName"])["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["gsi1"]

    sqs = aws("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=stack.outputs["AgentQueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    dlq_arn = sqs.get_queue_attributes(
        QueueUrl=stack.outputs["AgentQueueDlqUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": 5,
    }
    assert attributes["VisibilityTimeout"] == "120"
    assert attributes["ReceiveMessageWaitTimeSeconds"] == "20"

    s3 = aws("s3")
    bucket = stack.outputs["ArtifactsBucket"]
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"

    lambda_ = aws("lambda")
    events = stack.functions["AgentEventsFunction"]
    mappings = lambda_.list_event_source_mappings(FunctionName=events.name)["EventSourceMappings"]
    assert [(m["BatchSize"], m["FunctionArn"]) for m in mappings] == [(10, events.arn)]
    health = lambda_.get_function(FunctionName=stack.functions["HealthCheckFunction"].name)
    configuration = health["Configuration"]
    assert (configuration["Timeout"], configuration["MemorySize"]) == (300, 512)
    assert configuration["Runtime"] == "python3.11"
    assert configuration["Environment"]["Variables"] == stack.environment
    # How sites are reached is the agent's to know (AgentSettings): no function gets it.
    for agent_only in ("TMUX_BUILDER_EDGE", "TMUX_BUILDER_INSTANCE_HOST"):
        assert agent_only not in stack.environment


def test_state_machine_definition_is_the_file_with_substitutions(
    stack: StackOutputs, template: dict, aws: Any
) -> None:
    machine = template["Resources"]["PipelineStateMachine"]["Properties"]
    substitutions = {}
    for name, value in machine["DefinitionSubstitutions"].items():
        if "Fn::GetAtt" in value:
            substitutions[name] = stack.functions[value["Fn::GetAtt"][0]].arn
        else:
            substitutions[name] = stack.resources[value["Ref"]]
    expected = apply_substitutions(
        json.loads((REPO_ROOT / machine["DefinitionUri"]).read_text()), substitutions
    )

    stored = aws("stepfunctions").describe_state_machine(
        stateMachineArn=stack.outputs["StateMachineArn"]
    )

    assert json.loads(stored["definition"]) == expected
    assert "${" not in stored["definition"]
    assert stored["type"] == "STANDARD"
    assert stored["roleArn"].startswith("arn:aws:iam::123456789012:role/")


def test_provision_is_idempotent_and_converges(
    stack: StackOutputs, endpoint_url: str, aws: Any
) -> None:
    before = _inventory(aws)

    again = provision(TEMPLATE, endpoint_url, PARAMETERS)
    assert again == stack
    assert _inventory(aws) == before

    # A changed parameter updates the functions' environment in place: nothing new is created.
    assert stack.environment["TMUX_BUILDER_AUTO_APPROVE"] == "false"
    changed = provision(TEMPLATE, endpoint_url, {**PARAMETERS, "AutoApprove": "true"})
    try:
        assert changed.environment["TMUX_BUILDER_AUTO_APPROVE"] == "true"
        configuration = aws("lambda").get_function_configuration(
            FunctionName=stack.functions["CreateUserFunction"].name
        )
        assert configuration["Environment"]["Variables"]["TMUX_BUILDER_AUTO_APPROVE"] == "true"
        assert _inventory(aws) == before
    finally:
        provision(TEMPLATE, endpoint_url, PARAMETERS)
