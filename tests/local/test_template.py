"""template.yaml is valid CloudFormation, and the embedded stack can read every intrinsic in it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tmux_builder.local.cfn_template import (
    NO_VALUE,
    Resolver,
    TemplateError,
    UnresolvableReference,
    dependency_order,
    load_template,
    merge_globals,
    output_values,
    references,
)

from .conftest import TEMPLATE


def _intrinsics_left(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [found for item in value for found in _intrinsics_left(item)]
    if isinstance(value, dict):
        if len(value) == 1 and (set(value) & {"Ref"} or str(next(iter(value))).startswith("Fn::")):
            return [value]
        return [found for item in value.values() for found in _intrinsics_left(item)]
    return []


def _get_att_targets(value: Any, found: set[tuple[str, str]]) -> set[tuple[str, str]]:
    if isinstance(value, list):
        for item in value:
            _get_att_targets(item, found)
    elif isinstance(value, dict):
        if set(value) == {"Fn::GetAtt"}:
            logical_id, attribute = value["Fn::GetAtt"]
            found.add((logical_id, attribute))
        for item in value.values():
            _get_att_targets(item, found)
    return found


def test_cfn_lint_passes() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_short_form_tags_load_as_long_form() -> None:
    template = load_template(TEMPLATE)
    table = template["Resources"]["Table"]["Properties"]
    assert table["TableName"] == {"Fn::Sub": "${AppName}-table"}
    redrive = template["Resources"]["AgentQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["AgentQueueDLQ", "Arn"]}
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["TMUX_BUILDER_TABLE"] == {"Ref": "Table"}


def test_every_intrinsic_in_the_template_resolves() -> None:
    template = load_template(TEMPLATE)
    resolver = Resolver(template=template, parameters={"Environment": "local"})
    wanted = _get_att_targets([template["Resources"], template["Outputs"]], set())
    for logical_id in dependency_order(template["Resources"]):
        attributes = {
            attr: f"{logical_id}.{attr}" for target, attr in wanted if target == logical_id
        }
        resolver.register(logical_id, f"physical-{logical_id}", attributes)

    resolved = resolver.resolve(
        {"Globals": template["Globals"], "Resources": template["Resources"]}
    )

    assert _intrinsics_left(resolved) == []
    globals_env = resolved["Globals"]["Function"]["Environment"]["Variables"]
    assert globals_env["TMUX_BUILDER_ENVIRONMENT"] == "local"
    assert globals_env["TMUX_BUILDER_STATE_MACHINE_ARN"] == (
        "arn:aws:states:us-east-1:123456789012:stateMachine:tmux-builder-pipeline"
    )
    assert globals_env["TMUX_BUILDER_HEALTH_CHECK_BUDGET_SECONDS"] == "120"
    artifacts = resolved["Resources"]["ArtifactsBucket"]["Properties"]["BucketName"]
    assert artifacts == "tmux-builder-artifacts-123456789012-us-east-1"
    # Every output resolves once its resources exist (those of the agent hosts only on AWS).
    outputs = output_values(resolver, template["Outputs"])
    assert outputs["TableName"] == "physical-Table"
    assert set(outputs) == {
        name
        for name, output in template["Outputs"].items()
        if "Condition" not in output or resolver.condition(output["Condition"])
    }


def test_dependency_order_puts_referenced_resources_first() -> None:
    resources = load_template(TEMPLATE)["Resources"]
    order = dependency_order(resources)
    assert order.index("AgentQueueDLQ") < order.index("AgentQueue")
    assert order.index("CreateUserFunction") < order.index("PipelineStateMachine")
    assert order.index("AgentEventsQueue") < order.index("AgentEventsFunction")
    assert order.index("TeardownDLQ") < order.index("TeardownQueue")
    assert order.index("TeardownQueue") < order.index("TeardownFunction")


SMALL_TEMPLATE = """
Parameters:
  Stage: {Type: String, Default: dev}
  Zones: {Type: CommaDelimitedList, Default: "a,b,c"}
  Size: {Type: Number, Default: 3}
Mappings:
  Sizes:
    dev: {Memory: 256}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  NotProd: !Not [!Condition IsProd]
  Both: !And [!Condition NotProd, !Equals [!Ref Size, "3"]]
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Join ["-", [app, !Ref Stage, !Select [1, !Ref Zones]]]
      Tags:
        - Key: literal
          Value: !Sub "${!NotAVariable}-${Stage}"
        - Key: mapped
          Value: !Sub ["${Prefix}/${Queue.Arn}", {Prefix: !FindInMap [Sizes, !Ref Stage, Memory]}]
        - !If [IsProd, {Key: prod, Value: "yes"}, !Ref AWS::NoValue]
        - Key: both
          Value: !If [Both, enabled, disabled]
  Consumer:
    Type: AWS::Serverless::Function
    DependsOn: Queue
    Properties:
      Handler: app.main
      Environment:
        Variables:
          PARTS: !Join [",", !Split ["/", "x/y"]]
          AZ: !Select [0, !GetAZs ""]
          ENCODED: !Base64 hi
          HOST: !Sub "s3.${AWS::URLSuffix}/${AWS::Partition}/${AWS::StackName}"
"""


@pytest.fixture
def small(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "template.yaml"
    path.write_text(SMALL_TEMPLATE)
    return load_template(path)


def test_intrinsic_functions(small: dict[str, Any]) -> None:
    resolver = Resolver(template=small, stack_name="unit")
    resolver.register("Queue", "https://queue", {"Arn": "arn:queue"})

    queue = resolver.resolve(small["Resources"]["Queue"]["Properties"])
    assert queue["QueueName"] == "app-dev-b"
    tags = {tag["Key"]: tag["Value"] for tag in queue["Tags"]}
    assert tags == {"literal": "${NotAVariable}-dev", "mapped": "256/arn:queue", "both": "enabled"}

    variables = resolver.resolve(small["Resources"]["Consumer"]["Properties"])["Environment"]
    assert variables["Variables"] == {
        "PARTS": "x,y",
        "AZ": "us-east-1a",
        "ENCODED": "aGk=",
        "HOST": "s3.amazonaws.com/aws/unit",
    }


def test_parameters_override_defaults_and_unknown_ones_are_refused(small: dict[str, Any]) -> None:
    resolver = Resolver(template=small, parameters={"Stage": "prod"})
    assert resolver.condition("IsProd") is True
    assert resolver.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE
    with pytest.raises(TemplateError, match="unknown parameters: Nope"):
        Resolver(template=small, parameters={"Nope": "1"})


def test_unresolvable_reference_names_its_target(small: dict[str, Any]) -> None:
    resolver = Resolver(template=small)
    with pytest.raises(UnresolvableReference) as raised:
        resolver.resolve({"Fn::GetAtt": ["Queue", "Arn"]})
    assert raised.value.target == "Queue.Arn"
    assert references(small["Resources"]["Queue"]) == {"Stage", "Zones", "Queue"}


def test_circular_dependencies_are_reported() -> None:
    resources = {
        "A": {"Type": "X", "Properties": {"P": {"Ref": "B"}}},
        "B": {"Type": "X", "Properties": {"P": {"Fn::Sub": "${A.Arn}"}}},
    }
    with pytest.raises(TemplateError, match="circular"):
        dependency_order(resources)


def test_globals_merge_maps_and_resource_wins() -> None:
    merged = merge_globals(
        {"Timeout": 300, "Environment": {"Variables": {"B": "2"}}},
        {"Timeout": 60, "Runtime": "python3.11", "Environment": {"Variables": {"A": "1"}}},
    )
    assert merged == {
        "Timeout": 300,
        "Runtime": "python3.11",
        "Environment": {"Variables": {"A": "1", "B": "2"}},
    }
