"""template.yaml as data: loaded (long-form intrinsics) and resolved with stand-in ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tmux_builder.local.cfn_template import Resolver, dependency_order, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
# What an operator deploys: the agent hosts exist (their network parameters are set).
AWS_PARAMETERS = {
    "Environment": "aws",
    "VpcId": "vpc-0123456789abcdef0",
    "AgentSubnetIds": "subnet-0123456789abcdef0,subnet-0fedcba9876543210",
}


def _get_att_targets(value: Any, found: set[tuple[str, str]]) -> set[tuple[str, str]]:
    if isinstance(value, list):
        for item in value:
            _get_att_targets(item, found)
    elif isinstance(value, dict):
        if set(value) == {"Fn::GetAtt"}:
            logical_id, attribute = value["Fn::GetAtt"]
            found.add((logical_id, attribute))
        elif set(value) == {"Fn::Sub"}:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            for name in _sub_names(text):
                if "." in name:
                    logical_id, _, attribute = name.partition(".")
                    found.add((logical_id, attribute))
        for item in value.values():
            _get_att_targets(item, found)
    return found


def _sub_names(text: str) -> list[str]:
    import re

    return re.findall(r"\$\{([^}!][^}]*)\}", text)


def stand_in(logical_id: str) -> str:
    """The physical id a resource gets in these tests."""
    return f"physical-{logical_id}"


def resolver_for(template: dict[str, Any], parameters: dict[str, str]) -> Resolver:
    """A resolver that knows every resource: Ref -> physical-<Id>, GetAtt -> <Id>.<Attr>."""
    resolver = Resolver(template=template, parameters=parameters)
    wanted = _get_att_targets(
        [template["Globals"], template["Resources"], template["Outputs"]], set()
    )
    for logical_id in dependency_order(template["Resources"]):
        attributes = {
            attr: f"{logical_id}.{attr}" for target, attr in wanted if target == logical_id
        }
        resolver.register(logical_id, stand_in(logical_id), attributes)
    return resolver


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="session")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return dict(template["Resources"])


@pytest.fixture(scope="session")
def aws_resolver(template: dict[str, Any]) -> Resolver:
    return resolver_for(template, AWS_PARAMETERS)


@pytest.fixture(scope="session")
def global_env(template: dict[str, Any]) -> dict[str, Any]:
    return dict(template["Globals"]["Function"]["Environment"]["Variables"])


def of_type(resources: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {name: r for name, r in resources.items() if r["Type"] == resource_type}
