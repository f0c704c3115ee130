"""Where each setting is read from: the agent's site settings keep the variable names they had
as cloud settings, only the agent reads them, and the embedded stack hands them to its agents."""

from __future__ import annotations

import pytest

from agent.edge import Edge, InstanceEndpoints
from tmux_builder.local.stack import agent_site_settings
from tmux_builder.settings import AgentSettings, CloudSettings, environment_variable

SITE_SETTINGS = {
    "edge": "TMUX_BUILDER_EDGE",
    "instance_host": "TMUX_BUILDER_INSTANCE_HOST",
    "site_instance_type": "TMUX_BUILDER_SITE_INSTANCE_TYPE",
    "site_instance_ami": "TMUX_BUILDER_SITE_INSTANCE_AMI",
    "site_instance_boundary_arn": "TMUX_BUILDER_SITE_INSTANCE_BOUNDARY_ARN",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No site setting from the machine running the tests, in either spelling."""
    for name, variable in SITE_SETTINGS.items():
        monkeypatch.delenv(variable, raising=False)
        monkeypatch.delenv(f"TMUX_BUILDER_AGENT_{name}".upper(), raising=False)
    return monkeypatch


def test_the_site_settings_are_the_agents_under_their_old_names() -> None:
    assert {name: environment_variable(AgentSettings, name) for name in SITE_SETTINGS} == (
        SITE_SETTINGS
    )
    assert not set(SITE_SETTINGS) & set(CloudSettings.model_fields)
    assert environment_variable(AgentSettings, "work_dir") == "TMUX_BUILDER_AGENT_WORK_DIR"
    assert environment_variable(CloudSettings, "region") == "AWS_REGION"


def test_the_agent_reads_them_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    assert AgentSettings().model_dump(include=set(SITE_SETTINGS)) == {
        "edge": "cloudfront",
        "instance_host": "ec2",
        "site_instance_type": "t3.micro",
        "site_instance_ami": "",
        "site_instance_boundary_arn": "",
    }
    for name, variable in SITE_SETTINGS.items():
        clean_env.setenv(variable, f"value-of-{name}")

    settings = AgentSettings()

    assert settings.model_dump(include=set(SITE_SETTINGS)) == {
        name: f"value-of-{name}" for name in SITE_SETTINGS
    }


def test_the_documented_name_wins_and_keywords_set_the_field(
    clean_env: pytest.MonkeyPatch,
) -> None:
    # pydantic-settings also reads the prefixed spelling (populate_by_name); never first.
    clean_env.setenv("TMUX_BUILDER_AGENT_INSTANCE_HOST", "http://127.0.0.1:9999")
    clean_env.setenv("TMUX_BUILDER_INSTANCE_HOST", "http://127.0.0.1:9002")
    assert AgentSettings().instance_host == "http://127.0.0.1:9002"
    assert AgentSettings(instance_host="ec2", edge="cloudfront").instance_host == "ec2"


def test_the_embedded_stacks_agents_reach_its_local_stand_ins(
    clean_env: pytest.MonkeyPatch,
) -> None:
    for variable, value in agent_site_settings(
        "http://127.0.0.1:8001", "http://127.0.0.1:8002/"
    ).items():
        clean_env.setenv(variable, value)

    settings = AgentSettings()

    assert Edge.from_settings(settings.edge).site_server == "http://127.0.0.1:8001"
    endpoints = InstanceEndpoints.from_settings(settings.instance_host)
    assert endpoints.instance_host == "http://127.0.0.1:8002"
