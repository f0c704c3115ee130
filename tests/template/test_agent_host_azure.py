"""The agent hosts get the operator's Azure settings from the template, and never its secret.

The stack's parameters become TMUX_BUILDER_AZURE_* lines of the hosts' agent.env, which
pydantic reads back as :class:`tmux_builder.settings.AzureSettings`. The service principal's
secret is no parameter: its Secrets Manager ARN is, and the agent reads the secret itself.
"""

from __future__ import annotations

import base64
import os
import re
from typing import Any

import pytest

from tmux_builder.settings import AzureSettings

from .conftest import AWS_PARAMETERS, resolver_for

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tmux-builder/azure-AbCdEf"
SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
AZURE_PARAMETERS = {
    "AzureSubscriptionId": SUBSCRIPTION,
    "AzureCredentialsSecretArn": SECRET_ARN,
    "AzureTenantId": "contoso.onmicrosoft.com",
    "AzureClientId": "55555555-6666-7777-8888-999999999999",
    "AzureLocation": "westeurope",
    "AzureCdn": "false",
    "AzureVmSize": "Standard_B2s",
}
# Set by the embedded stack or a test double only; an agent host on AWS never sets them.
LOCAL_ONLY = {"blob_endpoint", "local_arm", "management_endpoint", "authority_host"}
ENV_FILE = "/etc/tmux-builder/agent.env"


def _script(template: dict[str, Any], parameters: dict[str, str]) -> str:
    resolver = resolver_for(template, {**AWS_PARAMETERS, **parameters})
    data = resolver.resolve(template["Resources"]["AgentLaunchTemplate"]["Properties"])
    return base64.b64decode(data["LaunchTemplateData"]["UserData"]).decode()


def _env_file(script: str) -> dict[str, str]:
    match = re.search(rf"^cat > {re.escape(ENV_FILE)} <<ENV\n(.*?)^ENV$", script, re.M | re.S)
    assert match, f"no heredoc writes {ENV_FILE}"
    return dict(line.split("=", 1) for line in match.group(1).splitlines())


def _azure_settings_from(env_file: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """AzureSettings as the agent reads them from exactly this environment file."""
    for variable in list(os.environ):
        if variable.startswith("TMUX_BUILDER_AZURE_"):
            monkeypatch.delenv(variable)
    for variable, value in env_file.items():
        if variable.startswith("TMUX_BUILDER_AZURE_"):
            monkeypatch.setenv(variable, value)
    return AzureSettings()


def _host_statements(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    resolver = resolver_for(template, {**AWS_PARAMETERS, **parameters})
    role = resolver.resolve(template["Resources"]["AgentInstanceRole"]["Properties"])
    (host,) = [p["PolicyDocument"] for p in role["Policies"] if p["PolicyName"] == "agent-host"]
    return {statement["Sid"]: statement for statement in host["Statement"]}


def test_the_agent_reads_the_operators_azure_settings(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = _env_file(_script(template, AZURE_PARAMETERS))

    settings = _azure_settings_from(env_file, monkeypatch)

    assert settings.subscription_id == SUBSCRIPTION
    assert settings.credentials_secret_arn == SECRET_ARN
    assert (settings.tenant_id, settings.client_id) == (
        "contoso.onmicrosoft.com",
        "55555555-6666-7777-8888-999999999999",
    )
    assert (settings.location, settings.cdn, settings.vm_size) == (
        "westeurope",
        False,
        "Standard_B2s",
    )
    assert not settings.is_local and not settings.local_arm


def test_every_setting_an_operator_gives_is_passed_and_nothing_local(
    template: dict[str, Any],
) -> None:
    env_file = _env_file(_script(template, AZURE_PARAMETERS))
    prefix = AzureSettings.model_config["env_prefix"]
    passed = {v.removeprefix(prefix).lower() for v in env_file if v.startswith(prefix)}
    assert passed == set(AzureSettings.model_fields) - LOCAL_ONLY - {"client_secret"}


def test_without_azure_parameters_the_agent_gets_the_defaults(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An operator without Azure leaves every Azure parameter alone; the agent must still start
    # (an empty TMUX_BUILDER_AZURE_CDN or _LOCATION would not be the default, or not parse).
    env_file = _env_file(_script(template, {}))

    settings = _azure_settings_from(env_file, monkeypatch)

    for variable in list(os.environ):
        if variable.startswith("TMUX_BUILDER_AZURE_"):
            monkeypatch.delenv(variable)
    assert settings == AzureSettings()
    assert settings.subscription_id == "" and settings.credentials_secret_arn == ""


def test_the_azure_secret_is_no_parameter_and_is_written_nowhere(
    template: dict[str, Any],
) -> None:
    for name in template["Parameters"]:
        if "secret" in name.lower():
            assert name.endswith("SecretArn"), f"{name}: secrets come from Secrets Manager"
    script = _script(template, AZURE_PARAMETERS)
    env_file = _env_file(script)
    assert "TMUX_BUILDER_AZURE_CLIENT_SECRET" not in script
    assert "client_secret" not in script
    assert env_file["TMUX_BUILDER_AZURE_CREDENTIALS_SECRET_ARN"] == SECRET_ARN
    # The file holds the operator's subscription and principal: systemd (root) reads it, the
    # AI user (who can list /etc) cannot.
    after = script.split("\nENV\n", 1)[1]
    assert f"chown root:root {ENV_FILE}" in after
    assert re.findall(rf"^chmod (\d+) {re.escape(ENV_FILE)}$", after, re.M) == ["0600"]
    assert f"EnvironmentFile={ENV_FILE}" in script


def test_the_azure_secret_is_readable_by_the_hosts_only_when_given(
    template: dict[str, Any],
) -> None:
    assert "ReadAzureCredentials" not in _host_statements(template, {})
    read = _host_statements(template, AZURE_PARAMETERS)["ReadAzureCredentials"]
    assert (read["Effect"], read["Action"], read["Resource"]) == (
        "Allow",
        "secretsmanager:GetSecretValue",
        SECRET_ARN,
    )


@pytest.mark.parametrize(
    ("parameter", "good", "bad"),
    [
        ("AzureSubscriptionId", SUBSCRIPTION, "my-subscription"),
        ("AzureClientId", "55555555-6666-7777-8888-999999999999", "app; rm -rf /"),
        ("AzureCredentialsSecretArn", SECRET_ARN, "tmux-builder/azure"),
        ("AzureLocation", "westeurope", "West Europe"),
        ("AzureVmSize", "Standard_B2s", "Standard_B2s\nEVIL=1"),
    ],
)
def test_azure_parameters_refuse_what_would_break_the_env_file(
    template: dict[str, Any], parameter: str, good: str, bad: str
) -> None:
    pattern = template["Parameters"][parameter]["AllowedPattern"]
    assert re.fullmatch(pattern, good)
    assert re.fullmatch(pattern, "") or template["Parameters"][parameter]["Default"]
    assert not re.fullmatch(pattern, bad)


def test_the_hosts_env_file_sets_each_variable_once(template: dict[str, Any]) -> None:
    script = _script(template, AZURE_PARAMETERS)
    match = re.search(rf"^cat > {re.escape(ENV_FILE)} <<ENV\n(.*?)^ENV$", script, re.M | re.S)
    assert match
    variables = [line.split("=", 1)[0] for line in match.group(1).splitlines()]
    assert len(variables) == len(set(variables))
