"""Every function, queue, table, bucket, secret and state machine the code names is in the
template, and every handler the template names is in the code. The functions get every cloud
setting and none of the agent's; the agent hosts get what the agent reads."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tmux_builder.local.cfn_template import Resolver
from tmux_builder.settings import (
    AgentSettings,
    AzureSettings,
    CloudSettings,
    environment_variable,
)

from .conftest import ROOT, of_type

# The settings that name a shared resource, and the resource type they must refer to.
RESOURCE_VARIABLES = {
    "TMUX_BUILDER_TABLE": "AWS::DynamoDB::Table",
    "TMUX_BUILDER_AGENT_QUEUE_URL": "AWS::SQS::Queue",
    "TMUX_BUILDER_EVENTS_QUEUE_URL": "AWS::SQS::Queue",
    "TMUX_BUILDER_CHAT_QUEUE_URL": "AWS::SQS::Queue",
    "TMUX_BUILDER_TEARDOWN_QUEUE_URL": "AWS::SQS::Queue",
    "TMUX_BUILDER_ARTIFACTS_BUCKET": "AWS::S3::Bucket",
    "TMUX_BUILDER_ADMIN_TOKEN_SECRET": "AWS::SecretsManager::Secret",
    "TMUX_BUILDER_SIGNING_KEY_SECRET": "AWS::SecretsManager::Secret",
}
# Read by the agent host (agent/main.py and what it starts), set by the launch template.
AGENT_CLOUD_VARIABLES = (
    "TMUX_BUILDER_TABLE",
    "TMUX_BUILDER_AGENT_QUEUE_URL",
    "TMUX_BUILDER_EVENTS_QUEUE_URL",
    "TMUX_BUILDER_CHAT_QUEUE_URL",
    "TMUX_BUILDER_ARTIFACTS_BUCKET",
    "TMUX_BUILDER_ENVIRONMENT",
)
# The agent's own settings that keep the names they had as cloud settings, and what an AWS
# agent host gets for each (the resolver's stand-in for the stack's boundary policy).
AGENT_SITE_SETTINGS = {
    "edge": "cloudfront",
    "instance_host": "ec2",
    "site_instance_type": "t3.micro",
    "site_instance_ami": "",
    "site_instance_boundary_arn": "physical-SiteInstanceBoundary",
}


def _agent_env_file(aws_resolver: Resolver, resources: dict[str, Any]) -> tuple[str, dict]:
    """The agent host's user-data script, and the variables its agent.env sets."""
    import base64

    data = aws_resolver.resolve(resources["AgentLaunchTemplate"]["Properties"])
    script = base64.b64decode(data["LaunchTemplateData"]["UserData"]).decode()
    env_file = script.split("cat > /etc/tmux-builder/agent.env <<ENV\n", 1)[1].split("\nENV\n")[0]
    return script, dict(line.split("=", 1) for line in env_file.splitlines())


def test_every_cloud_setting_is_set_for_the_functions(global_env: dict[str, Any]) -> None:
    for name in CloudSettings.model_fields:
        variable = environment_variable(CloudSettings, name)
        if variable == "AWS_REGION":  # Lambda sets it
            continue
        assert variable in global_env, f"CloudSettings.{name}: {variable} is not in Globals"


def test_no_function_gets_a_setting_only_the_agent_reads(global_env: dict[str, Any]) -> None:
    agent_only = {environment_variable(AgentSettings, name) for name in AgentSettings.model_fields}
    assert {environment_variable(AgentSettings, name) for name in AGENT_SITE_SETTINGS} == {
        "TMUX_BUILDER_EDGE",
        "TMUX_BUILDER_INSTANCE_HOST",
        "TMUX_BUILDER_SITE_INSTANCE_TYPE",
        "TMUX_BUILDER_SITE_INSTANCE_AMI",
        "TMUX_BUILDER_SITE_INSTANCE_BOUNDARY_ARN",
    }
    assert not agent_only & set(global_env), sorted(agent_only & set(global_env))


def test_every_variable_the_control_plane_reads_is_set(global_env: dict[str, Any]) -> None:
    named = set()
    for path in (ROOT / "control_plane").rglob("*.py"):
        named |= set(re.findall(r"\bTMUX_BUILDER_[A-Z0-9_]+\b", path.read_text()))
    assert named, "no variable names found: the scan is broken"
    assert named <= set(global_env), sorted(named - set(global_env))


def test_resource_variables_refer_to_resources_of_their_kind(
    global_env: dict[str, Any], resources: dict[str, Any]
) -> None:
    for variable, resource_type in RESOURCE_VARIABLES.items():
        value = global_env[variable]
        assert set(value) == {"Ref"}, f"{variable} should be a Ref, is {value}"
        target = resources.get(value["Ref"])
        assert target is not None, f"{variable} refers to a missing {value['Ref']}"
        assert target["Type"] == resource_type, (variable, target["Type"])
        assert "Condition" not in target, f"{variable}: {value['Ref']} must always exist"


def test_state_machine_arn_names_the_state_machine(
    global_env: dict[str, Any], resources: dict[str, Any], aws_resolver: Resolver
) -> None:
    machines = of_type(resources, "AWS::Serverless::StateMachine")
    assert list(machines) == ["PipelineStateMachine"]
    name = aws_resolver.resolve_str(machines["PipelineStateMachine"]["Properties"]["Name"])
    arn = aws_resolver.resolve_str(global_env["TMUX_BUILDER_STATE_MACHINE_ARN"])
    assert arn == f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}"


def test_every_handler_in_the_template_is_in_the_code(resources: dict[str, Any]) -> None:
    import chalice

    import control_plane.app as code

    functions = of_type(resources, "AWS::Serverless::Function")
    assert functions
    for logical_id, function in functions.items():
        handler = function["Properties"]["Handler"]
        module, _, attribute = handler.partition(".")
        assert module == "app", f"{logical_id}: {handler} is not in app.py"
        assert callable(getattr(code, attribute, None)), f"{logical_id}: app.{attribute} missing"
        # One bundle for all: the code comes from the Globals' CodeUri.
        assert "CodeUri" not in function["Properties"], logical_id
    assert isinstance(code.app, chalice.Chalice)
    # API Gateway's one /api/{proxy+} resource: the entry routes events to Chalice's routes.
    assert functions["ApiFunction"]["Properties"]["Handler"] == "app.api_handler"


def test_every_lambda_function_of_the_app_is_deployed(resources: dict[str, Any]) -> None:
    from control_plane.app import app

    deployed = {
        function["Properties"]["Handler"]
        for function in of_type(resources, "AWS::Serverless::Function").values()
    }
    declared = {function.handler_string for function in app.pure_lambda_functions}
    assert declared <= deployed, sorted(declared - deployed)


def test_the_embedded_stack_maps_the_code_uri_to_the_handlers_package(
    template: dict[str, Any],
) -> None:
    code_uri = template["Globals"]["Function"]["CodeUri"]
    wanted = f'lambda_runtime.install({{"{code_uri}": "control_plane"}})'
    for path in ("tmux_builder/local/stack.py", "tests/control_plane/conftest.py"):
        assert wanted in (ROOT / path).read_text(), f"{path} does not map {code_uri}"


def test_the_definition_and_its_substitutions_match(resources: dict[str, Any]) -> None:
    machine = resources["PipelineStateMachine"]["Properties"]
    definition = (ROOT / machine["DefinitionUri"]).read_text()
    placeholders = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", definition))
    substitutions = machine["DefinitionSubstitutions"]
    assert placeholders == set(substitutions)
    json.loads(definition)

    invoked = {
        policy["LambdaInvokePolicy"]["FunctionName"]["Ref"]
        for policy in machine["Policies"]
        if isinstance(policy, dict) and "LambdaInvokePolicy" in policy
    }
    for name, value in substitutions.items():
        if name.endswith("FunctionArn"):
            logical_id, attribute = value["Fn::GetAtt"]
            assert resources[logical_id]["Type"] == "AWS::Serverless::Function"
            assert attribute == "Arn"
            assert logical_id in invoked, f"the state machine may not invoke {logical_id}"
    assert substitutions["AgentQueueUrl"] == {"Ref": "AgentQueue"}
    sends = [
        policy["SQSSendMessagePolicy"]["QueueName"]
        for policy in machine["Policies"]
        if isinstance(policy, dict) and "SQSSendMessagePolicy" in policy
    ]
    assert sends == [{"Fn::GetAtt": ["AgentQueue", "QueueName"]}]


def test_the_agent_hosts_get_what_the_agent_reads(
    resources: dict[str, Any], aws_resolver: Resolver
) -> None:
    script, settings = _agent_env_file(aws_resolver, resources)
    for variable in AGENT_CLOUD_VARIABLES:
        assert settings.get(variable, "").startswith(("physical-", "aws")), variable
    assert settings["TMUX_BUILDER_AGENT_QUEUE_URL"] == "physical-AgentQueue"
    assert settings["TMUX_BUILDER_TABLE"] == "physical-Table"
    known = {
        environment_variable(settings_class, name)
        for settings_class in (AgentSettings, CloudSettings, AzureSettings)
        for name in settings_class.model_fields
    }
    for variable in settings:
        if variable.startswith("TMUX_BUILDER_"):
            assert variable in known, f"{variable} is not a setting the agent reads"
    assert "ExecStart=/opt/tmux-builder/bin/agent-start" in script
    assert "exec /opt/tmux-builder/venv/bin/tmux-builder agent" in script
    assert "User=tmux-agent" in script


def test_the_agent_reads_its_site_settings_from_the_agent_hosts_env_file(
    resources: dict[str, Any], aws_resolver: Resolver, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, env_file = _agent_env_file(aws_resolver, resources)
    for name in AGENT_SITE_SETTINGS:
        variable = environment_variable(AgentSettings, name)
        assert variable in env_file, f"AgentSettings.{name}: agent.env does not set {variable}"
    for variable, value in env_file.items():
        monkeypatch.setenv(variable, value)

    settings = AgentSettings()

    assert {name: getattr(settings, name) for name in AGENT_SITE_SETTINGS} == AGENT_SITE_SETTINGS
