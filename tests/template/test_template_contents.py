"""What template.yaml promises an operator: alarms, pipeline logs, the portal behind CloudFront,
the agent hosts and their role, the per-user boundary."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from typing import Any

import pytest

from tmux_builder.local.cfn_template import Resolver

from .conftest import AWS_PARAMETERS, ROOT, TEMPLATE, of_type, resolver_for

# Values the stand-in resolver gives what iam/*.json leaves as placeholders.
IAM_PLACEHOLDERS = {
    "partition": "aws",
    "account_id": "123456789012",
    "agent_queue_arn": "AgentQueue.Arn",
    "chat_queue_arn": "ChatQueue.Arn",
    "events_queue_arn": "AgentEventsQueue.Arn",
    "artifacts_bucket_arn": "ArtifactsBucket.Arn",
    "table_arn": "Table.Arn",
}


def _render(document: Any) -> Any:
    if isinstance(document, dict):
        return {key: _render(value) for key, value in document.items()}
    if isinstance(document, list):
        return [_render(item) for item in document]
    if isinstance(document, str):

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            assert name in IAM_PLACEHOLDERS, f"unknown placeholder {{{name}}}"
            return IAM_PLACEHOLDERS[name]

        return re.sub(r"\{([a-z_]+)\}", value, document)
    return document


def _normalised(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Scalars and one-item lists mean the same in IAM."""
    result = []
    for statement in statements:
        copy = dict(statement)
        for key in ("Action", "Resource"):
            if isinstance(copy.get(key), str):
                copy[key] = [copy[key]]
        result.append(copy)
    return result


def _user_data(resolver: Resolver, resources: dict[str, Any]) -> str:
    data = resolver.resolve(resources["AgentLaunchTemplate"]["Properties"])
    return base64.b64decode(data["LaunchTemplateData"]["UserData"]).decode()


# ------------------------------------------------------------------------------------- alarms


def test_every_dead_letter_queue_has_a_depth_alarm(resources: dict[str, Any]) -> None:
    dead_letter_queues = {
        queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for queue in of_type(resources, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in queue["Properties"]
    }
    assert dead_letter_queues == {"AgentQueueDLQ", "ChatDLQ", "AgentEventsDLQ", "TeardownDLQ"}
    watched = {}
    for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props["MetricName"] != "ApproximateNumberOfMessagesVisible":
            continue
        assert (props["Namespace"], props["ComparisonOperator"], props["Threshold"]) == (
            "AWS/SQS",
            "GreaterThanThreshold",
            0,
        )
        (dimension,) = props["Dimensions"]
        watched[dimension["Value"]["Fn::GetAtt"][0]] = props["AlarmActions"]
    assert set(watched) == dead_letter_queues
    for actions in watched.values():
        assert {"Fn::If": ["HasAlarmEmail", {"Ref": "AlarmTopic"}, {"Ref": "AWS::NoValue"}]} in (
            actions
        )


def test_alarm_notifications_are_optional(template: dict[str, Any]) -> None:
    quiet = resolver_for(template, {})
    told = resolver_for(template, {"AlarmEmail": "ops@example.com"})
    alarm = template["Resources"]["ChatDLQAlarm"]["Properties"]
    assert quiet.resolve(alarm)["AlarmActions"] == []
    assert told.resolve(alarm)["AlarmActions"] == ["physical-AlarmTopic"]
    assert template["Resources"]["AlarmTopic"]["Condition"] == "HasAlarmEmail"


# ----------------------------------------------------------------------------------- pipeline


def test_the_pipeline_logs_and_traces(resources: dict[str, Any]) -> None:
    machine = resources["PipelineStateMachine"]["Properties"]
    assert machine["Tracing"] == {"Enabled": True}
    logging = machine["Logging"]
    assert logging["Level"] == {"Ref": "PipelineLogLevel"}
    (destination,) = logging["Destinations"]
    assert destination["CloudWatchLogsLogGroup"]["LogGroupArn"] == {
        "Fn::GetAtt": ["PipelineLogGroup", "Arn"]
    }
    group = resources["PipelineLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


# ------------------------------------------------------------------------------------- portal


def test_the_portal_is_private_behind_cloudfront(
    resources: dict[str, Any], aws_resolver: Resolver
) -> None:
    config = aws_resolver.resolve(resources["PortalDistribution"]["Properties"])[
        "DistributionConfig"
    ]
    assert config["DefaultRootObject"] == "index.html"
    origins = {origin["Id"]: origin for origin in config["Origins"]}
    portal = origins[config["DefaultCacheBehavior"]["TargetOriginId"]]
    assert portal["DomainName"] == "PortalBucket.RegionalDomainName"
    assert portal["OriginAccessControlId"] == "PortalOriginAccessControl.Id"
    (rewrite,) = config["DefaultCacheBehavior"]["FunctionAssociations"]
    assert rewrite == {"EventType": "viewer-request", "FunctionARN": "PortalSpaRewrite.FunctionARN"}
    # The API is same-origin under /api/, uncached.
    (api,) = config["CacheBehaviors"]
    assert api["PathPattern"] == "/api/*"
    assert origins[api["TargetOriginId"]]["DomainName"].startswith("physical-RestApi.execute-api.")
    assert origins[api["TargetOriginId"]]["OriginPath"] == "/Prod"
    # The SPA fallback may not hide the API's own 403/404 answers.
    assert "CustomErrorResponses" not in config

    policy = aws_resolver.resolve(resources["PortalBucketPolicy"]["Properties"])
    assert policy["Bucket"] == "physical-PortalBucket"
    (allow,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    distribution = "arn:aws:cloudfront::123456789012:distribution/physical-PortalDistribution"
    assert allow["Condition"] == {"StringEquals": {"AWS:SourceArn": distribution}}
    block = resources["PortalBucket"]["Properties"]["PublicAccessBlockConfiguration"]
    assert all(block.values())


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_the_spa_rewrite_keeps_files_and_sends_routes_to_the_shell(
    resources: dict[str, Any],
) -> None:
    code = resources["PortalSpaRewrite"]["Properties"]["FunctionCode"]
    cases = {
        "/": "/index.html",
        "/client": "/index.html",
        "/admin/requests/": "/index.html",
        "/requests/v1.2/x": "/index.html",
        "/index.html": "/index.html",
        "/assets/index-3f2a.js": "/assets/index-3f2a.js",
        "/favicon.ico": "/favicon.ico",
    }
    script = (
        code
        + f"\nconst cases = {json.dumps(cases)};\n"
        + "for (const [uri, wanted] of Object.entries(cases)) {\n"
        + "  const got = handler({request: {uri}}).uri;\n"
        + "  if (got !== wanted) { console.log(uri + ' -> ' + got); process.exit(1); }\n"
        + "}\n"
    )
    result = subprocess.run(
        ["node", "-e", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -------------------------------------------------------------------------------- agent hosts


def test_agent_hosts_only_with_a_network_on_aws(template: dict[str, Any]) -> None:
    hosts = ("AgentSecurityGroup", "AgentLaunchTemplate", "AgentAutoScalingGroup")
    for parameters, expected in (
        (AWS_PARAMETERS, True),
        ({"Environment": "aws"}, False),
        ({**AWS_PARAMETERS, "Environment": "local"}, False),
    ):
        resolver = Resolver(template=template, parameters=parameters)
        for logical_id in hosts:
            condition = template["Resources"][logical_id]["Condition"]
            assert resolver.condition(condition) is expected, (logical_id, parameters)
    resolver = Resolver(template=template, parameters={"Environment": "local"})
    assert resolver.condition(template["Resources"]["AgentInstanceRole"]["Condition"]) is False


def test_the_auto_scaling_group_takes_its_size_from_parameters(
    resources: dict[str, Any], aws_resolver: Resolver
) -> None:
    group = aws_resolver.resolve(resources["AgentAutoScalingGroup"]["Properties"])
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == ("1", "2", "1")
    assert group["VPCZoneIdentifier"] == AWS_PARAMETERS["AgentSubnetIds"].split(",")
    template_data = resources["AgentLaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert "KeyName" not in template_data  # access through Session Manager only
    assert template_data["MetadataOptions"]["HttpTokens"] == "required"
    assert resources["AgentLaunchTemplate"]["Properties"]["LaunchTemplateData"]["ImageId"] == {
        "Ref": "AgentAmiId"
    }


def test_the_user_data_is_valid_bash_and_installs_the_agent(
    resources: dict[str, Any], aws_resolver: Resolver, tmp_path: Any
) -> None:
    script = _user_data(aws_resolver, resources)
    path = tmp_path / "user-data.sh"
    path.write_text(script)
    result = subprocess.run(
        ["bash", "-n", str(path)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    for package in ("tmux", "git", "chromium", "python3.11", "nodejs"):
        assert re.search(rf"apt-get install [^\n]*(\\\n[^\n]*)*\b{package}\b", script), package
    assert "useradd --create-home --shell /bin/bash tmux-agent" in script
    assert "s3://physical-ArtifactsBucket/releases/tmux-builder.tar.gz" in script
    for heredoc in ("PY", "ENV", "SH", "UNIT"):
        assert f"\n{heredoc}\n" in script, f"heredoc {heredoc} is not closed at column 0"


def test_the_agent_role_is_iam_agent_host_policy(
    resources: dict[str, Any], aws_resolver: Resolver
) -> None:
    role = aws_resolver.resolve(resources["AgentInstanceRole"]["Properties"])
    policies = {policy["PolicyName"]: policy["PolicyDocument"] for policy in role["Policies"]}
    document = json.loads((ROOT / "iam" / "agent-host-policy.json").read_text())
    assert _normalised(policies["agent"]["Statement"]) == _normalised(
        _render(document)["Statement"]
    )
    # The host's own needs: its package (read only), the model key, its load metric, Session
    # Manager.
    host = {statement["Sid"]: statement for statement in policies["agent-host"]["Statement"]}
    assert set(host) == {
        "ReadAgentPackages",
        "PublishHostLoad",
        "SessionManagerRegistration",
        "SessionManagerChannels",
    }
    assert host["ReadAgentPackages"]["Action"] == "s3:GetObject"
    assert host["PublishHostLoad"] == {
        "Sid": "PublishHostLoad",
        "Effect": "Allow",
        "Action": "cloudwatch:PutMetricData",
        "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": "tmux-builder"}},
    }
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com"
    }
    assert "ManagedPolicyArns" not in role


def test_the_model_key_secret_is_readable_only_when_given(template: dict[str, Any]) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:anthropic-AbCdEf"
    resolver = resolver_for(template, {**AWS_PARAMETERS, "ModelApiKeySecretArn": arn})
    role = resolver.resolve(template["Resources"]["AgentInstanceRole"]["Properties"])
    (host,) = [p["PolicyDocument"] for p in role["Policies"] if p["PolicyName"] == "agent-host"]
    (read,) = [s for s in host["Statement"] if s["Sid"] == "ReadModelApiKey"]
    assert (read["Action"], read["Resource"]) == ("secretsmanager:GetSecretValue", arn)
    assert f"MODEL_API_KEY_SECRET_ARN={arn}" in _user_data(resolver, template["Resources"])


def test_the_per_user_roles_trust_the_agent_role(
    global_env: dict[str, Any], template: dict[str, Any]
) -> None:
    on_aws = resolver_for(template, {"Environment": "aws"})
    local = resolver_for(template, {"Environment": "local"})
    given = resolver_for(template, {"AgentPrincipalArn": "arn:aws:iam::123456789012:role/x"})
    variable = global_env["TMUX_BUILDER_AGENT_PRINCIPAL_ARN"]
    assert on_aws.resolve(variable) == "AgentInstanceRole.Arn"
    assert local.resolve(variable) == ""
    assert given.resolve(variable) == "arn:aws:iam::123456789012:role/x"


def test_the_boundary_is_iam_user_permissions_boundary(
    template: dict[str, Any], global_env: dict[str, Any], aws_resolver: Resolver
) -> None:
    policy = aws_resolver.resolve(template["Resources"]["UserPermissionsBoundary"]["Properties"])
    document = json.loads((ROOT / "iam" / "user-permissions-boundary.json").read_text())
    assert _normalised(policy["PolicyDocument"]["Statement"]) == _normalised(
        _render(document)["Statement"]
    )
    variable = global_env["TMUX_BUILDER_USER_PERMISSIONS_BOUNDARY_ARN"]
    assert aws_resolver.resolve(variable) == "physical-UserPermissionsBoundary"
    local = resolver_for(template, {"Environment": "local"})
    assert local.resolve(variable) == ""
    # create_user may create a role only with that boundary.
    statements = aws_resolver.resolve(
        template["Resources"]["CreateUserFunction"]["Properties"]["Policies"]
    )[1]["Statement"]
    (create,) = [s for s in statements if "iam:CreateRole" in s["Action"]]
    assert create["Condition"] == {
        "StringEquals": {"iam:PermissionsBoundary": "physical-UserPermissionsBoundary"}
    }


def test_no_function_shares_a_role_or_has_a_wildcard_action(resources: dict[str, Any]) -> None:
    for logical_id, function in of_type(resources, "AWS::Serverless::Function").items():
        props = function["Properties"]
        assert "Role" not in props, f"{logical_id}: one role per function (SAM makes it)"
        for policy in props["Policies"]:
            if not (isinstance(policy, dict) and "Statement" in policy):
                continue
            for statement in _either_branch(policy["Statement"]):
                actions = statement["Action"]
                actions = [actions] if isinstance(actions, str) else actions
                assert all(a != "*" and not a.endswith(":*") for a in actions), logical_id
                if (logical_id, statement.get("Sid")) in _registered_resource_wildcards():
                    continue  # no resource-level permissions; iam/wildcards.yaml says why
                assert statement.get("Resource") != "*", f"{logical_id}: {statement['Sid']}"


def _either_branch(statements: list[Any]) -> list[dict[str, Any]]:
    """The statements, with a conditional one (``Fn::If``) counted in both of its branches."""
    found: list[dict[str, Any]] = []
    for statement in statements:
        if isinstance(statement, dict) and "Fn::If" in statement:
            _condition, *branches = statement["Fn::If"]
            found.extend(_either_branch([b for b in branches if b != {"Ref": "AWS::NoValue"}]))
        else:
            found.append(statement)
    return found


def _registered_resource_wildcards() -> set[tuple[str, str]]:
    """(LogicalId, Sid) of the template statements registered in iam/wildcards.yaml."""
    import yaml

    register = yaml.safe_load((ROOT / "iam" / "wildcards.yaml").read_text(encoding="utf-8"))
    return {
        (str(entry["where"]).removeprefix("template.yaml#"), str(entry["sid"]))
        for entry in register.get("resource_wildcards") or []
        if str(entry["where"]).startswith("template.yaml#")
    }


def test_the_template_names_no_account() -> None:
    text = TEMPLATE.read_text()
    assert not re.search(r"(?<![0-9])[0-9]{12}(?![0-9])", text), "an account id in template.yaml"


# ------------------------------------------------------------------------------------- teardown

# The API's statements a later teardown pass needs (the first pass runs in the API).
TEARDOWN_STATEMENTS = {
    "TeardownUserRoles",
    "TeardownSiteBuckets",
    "TeardownDistributions",
    "TeardownOriginAccessControls",
    "TeardownSiteInstances",
    "TeardownSiteSecurityGroups",
    "DescribeSiteInstancesAndSecurityGroups",
    "TeardownSiteInstanceProfiles",
    "TeardownSiteInstanceRoles",
    "StopExecutionsOfTornDownSessions",
}


def _statements(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        statement["Sid"]: statement
        for policy in properties["Policies"]
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
    }


def test_later_teardown_passes_run_from_their_queue_with_only_the_teardown_permissions(
    resources: dict[str, Any], aws_resolver: Resolver
) -> None:
    function = aws_resolver.resolve(resources["TeardownFunction"]["Properties"])
    api = aws_resolver.resolve(resources["ApiFunction"]["Properties"])
    assert function["Handler"] == "app.continue_teardown"
    (event,) = function["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == "TeardownQueue.Arn"
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = aws_resolver.resolve(resources["TeardownQueue"]["Properties"])
    assert int(queue["VisibilityTimeout"]) >= 6 * int(function["Timeout"])
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == "TeardownDLQ.Arn"

    statements, api_statements = _statements(function), _statements(api)
    assert set(statements) == TEARDOWN_STATEMENTS
    for sid, statement in statements.items():
        assert statement == api_statements[sid], sid
    assert [p for p in function["Policies"] if "Statement" not in p] == [
        {"DynamoDBCrudPolicy": {"TableName": "physical-Table"}},
        {"SQSSendMessagePolicy": {"QueueName": "TeardownQueue.QueueName"}},
    ]
    # The first pass runs in the API: it queues the second, and tells every agent host.
    assert {"SQSSendMessagePolicy": {"QueueName": "TeardownQueue.QueueName"}} in api["Policies"]
    assert api_statements["SendChatToAgentHostQueues"]["Resource"] == "AgentQueue.Arn-host-*"
