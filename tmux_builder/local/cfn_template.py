"""Read ``template.yaml`` the way CloudFormation does, for the embedded stack.

The SAM template is the one list of the system's shared resources. The embedded stack does not
keep a second list: it loads this file and resolves its intrinsic functions itself, with the
physical ids moto hands back. Only what a provisioner needs is implemented: the short-form YAML
tags, ``Ref``/``Fn::GetAtt``/``Fn::Sub``/``Fn::Join``/``Fn::Select``/``Fn::Split``/``Fn::If`` and
the condition functions, ``Fn::FindInMap``, ``Fn::Base64``, ``Fn::GetAZs`` and the pseudo
parameters. A reference to something the embedded stack does not create (``ServerlessRestApi``,
``Fn::ImportValue``) raises :class:`UnresolvableReference`, which callers treat as "leave it out".
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "MOTO_ACCOUNT_ID",
    "NO_VALUE",
    "Resolver",
    "TemplateError",
    "UnresolvableReference",
    "dependency_order",
    "load_template",
    "merge_globals",
    "output_values",
    "references",
    "scalar_to_str",
]

MOTO_ACCOUNT_ID = "123456789012"

# Short tags whose long form is not simply "Fn::<Tag>".
_SPECIAL_TAGS = {"Ref": "Ref", "Condition": "Condition"}
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(Exception):
    """The template is malformed or uses something the embedded stack cannot evaluate."""


class UnresolvableReference(TemplateError):
    """A Ref/GetAtt/Sub names something that does not exist (yet) in the embedded stack."""

    def __init__(self, target: str) -> None:
        super().__init__(f"cannot resolve {target!r} in the embedded stack")
        self.target = target


class _NoValue:
    """``AWS::NoValue``: removes the property (or list item) that evaluates to it."""

    _instance: _NoValue | None = None

    def __new__(cls) -> _NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE = _NoValue()


# ------------------------------------------------------------------------------------ loading


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader turning short tags into long form: ``!Ref X`` -> ``{"Ref": "X"}``."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - yaml has no other node kinds
        raise TemplateError(f"unexpected node for !{tag_suffix}")
    if tag_suffix == "GetAtt" and isinstance(value, str):
        # The short form is "Resource.Attribute"; attributes may themselves contain dots.
        logical_id, _, attribute = value.partition(".")
        value = [logical_id, attribute]
    key = _SPECIAL_TAGS.get(tag_suffix, f"Fn::{tag_suffix}")
    return {key: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML (or JSON) template into its long-form dict."""
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path}: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
    return document


# ------------------------------------------------------------------------------- dependencies


def references(value: Any) -> set[str]:
    """Logical ids (resources, parameters) that ``value`` refers to; pseudo parameters excluded."""
    found: set[str] = set()
    _collect_references(value, found)
    return {name for name in found if not name.startswith("AWS::")}


def _collect_references(value: Any, found: set[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _collect_references(item, found)
        return
    if not isinstance(value, dict):
        return
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref" and isinstance(arg, str):
            found.add(arg)
            return
        if key == "Fn::GetAtt":
            target = arg[0] if isinstance(arg, list) else str(arg).partition(".")[0]
            found.add(target)
            return
        if key == "Fn::Sub":
            text, variables = (arg[0], arg[1]) if isinstance(arg, list) else (arg, {})
            for name in _SUB_VARIABLE.findall(text):
                if name not in variables:
                    found.add(name.partition(".")[0])
            _collect_references(variables, found)
            return
    for item in value.values():
        _collect_references(item, found)


def dependency_order(resources: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Logical ids ordered so that each resource comes after everything it refers to.

    Why: the embedded stack creates resources one by one and resolves each one's properties
    from the physical ids of those already created, as CloudFormation does.
    """
    graph: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        explicit = {depends_on} if isinstance(depends_on, str) else set(depends_on)
        graph[logical_id] = (references(resource) | explicit) & resources.keys() - {logical_id}
    ordered: list[str] = []
    state: dict[str, str] = {}

    def visit(node: str, trail: tuple[str, ...]) -> None:
        if state.get(node) == "done":
            return
        if state.get(node) == "visiting":
            raise TemplateError("circular dependency: " + " -> ".join((*trail, node)))
        state[node] = "visiting"
        for dependency in sorted(graph[node]):
            visit(dependency, (*trail, node))
        state[node] = "done"
        ordered.append(node)

    for logical_id in resources:
        visit(logical_id, ())
    return ordered


# ---------------------------------------------------------------------------------- resolving


@dataclass
class Resolver:
    """Evaluates intrinsic functions against parameters and the resources created so far.

    ``register`` records a created resource: its ``Ref`` value and its ``Fn::GetAtt``
    attributes. Anything not registered (or a skipped resource type) is unresolvable.
    """

    template: Mapping[str, Any]
    parameters: Mapping[str, str] = field(default_factory=dict)
    region: str = "us-east-1"
    account_id: str = MOTO_ACCOUNT_ID
    stack_name: str = "tmux-builder"
    _refs: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _attributes: dict[str, dict[str, Any]] = field(default_factory=dict, init=False, repr=False)
    _conditions: dict[str, bool] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        declared = self.template.get("Parameters") or {}
        unknown = set(self.parameters) - set(declared)
        if unknown:
            raise TemplateError(f"unknown parameters: {', '.join(sorted(unknown))}")
        for name, spec in declared.items():
            if name in self.parameters:
                value: Any = str(self.parameters[name])
            elif "Default" in spec:
                value = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no value and no Default")
            self._refs[name] = _parameter_value(spec.get("Type", "String"), value)

    # -------------------------------------------------------------------- registration

    def register(
        self, logical_id: str, ref: str, attributes: Mapping[str, Any] | None = None
    ) -> None:
        """Record a created resource so later Ref/GetAtt/Sub can see it."""
        self._refs[logical_id] = ref
        self._attributes[logical_id] = dict(attributes or {})

    @property
    def pseudo_parameters(self) -> dict[str, Any]:
        partition = "aws-cn" if self.region.startswith("cn-") else "aws"
        suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
        return {
            "AWS::AccountId": self.account_id,
            "AWS::Region": self.region,
            "AWS::Partition": partition,
            "AWS::URLSuffix": suffix,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:{partition}:cloudformation:{self.region}:{self.account_id}"
                f":stack/{self.stack_name}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }

    # ----------------------------------------------------------------------- evaluation

    def resolve(self, value: Any) -> Any:
        """Evaluate every intrinsic inside ``value``; ``AWS::NoValue`` entries are dropped."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if _is_intrinsic(value) and not (
            "Condition" in value and not isinstance(value["Condition"], str)
        ):
            ((key, arg),) = value.items()
            return self._intrinsic(key, arg)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def resolve_str(self, value: Any) -> str:
        """Resolve and render as CloudFormation would pass a scalar property (``true``, ``5``)."""
        return scalar_to_str(self.resolve(value))

    def condition(self, name: str) -> bool:
        """Evaluate a named condition from the template's ``Conditions`` section."""
        if name not in self._conditions:
            conditions = self.template.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self.resolve(conditions[name]))
        return self._conditions[name]

    def _intrinsic(self, key: str, arg: Any) -> Any:
        handlers = {
            "Ref": self._ref,
            "Condition": self.condition,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::If": self._if,
            "Fn::Equals": self._equals,
            "Fn::Not": lambda a: not self._bool(self.resolve(a)[0]),
            "Fn::And": lambda a: all(self._bool(item) for item in self.resolve(a)),
            "Fn::Or": lambda a: any(self._bool(item) for item in self.resolve(a)),
            "Fn::FindInMap": self._find_in_map,
            "Fn::Base64": lambda a: base64.b64encode(self.resolve_str(a).encode()).decode(),
            "Fn::GetAZs": self._get_azs,
            "Fn::ToJsonString": lambda a: _to_json(self.resolve(a)),
        }
        handler = handlers.get(key)
        if handler is None:
            raise UnresolvableReference(key)
        return handler(arg)

    def _bool(self, value: Any) -> bool:
        # Conditions inside Fn::And/Or/Not arrive as {"Condition": name} (already evaluated).
        return value if isinstance(value, bool) else str(value).lower() == "true"

    def _ref(self, name: Any) -> Any:
        name = self.resolve(name)
        pseudo = self.pseudo_parameters
        if name in pseudo:
            return pseudo[name]
        if name in self._refs:
            return self._refs[name]
        raise UnresolvableReference(str(name))

    def _get_att(self, arg: Any) -> Any:
        if isinstance(arg, str):
            logical_id, _, attribute = arg.partition(".")
        else:
            logical_id, attribute = self.resolve(arg[0]), self.resolve(arg[1])
        try:
            return self._attributes[logical_id][attribute]
        except KeyError:
            raise UnresolvableReference(f"{logical_id}.{attribute}") from None

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], {k: self.resolve(v) for k, v in arg[1].items()}
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return scalar_to_str(variables[name])
            if "." in name:
                logical_id, _, attribute = name.partition(".")
                return scalar_to_str(self._get_att([logical_id, attribute]))
            return scalar_to_str(self._ref(name))

        substituted = _SUB_VARIABLE.sub(replace, text)
        # "${!Literal}" is how a template writes a literal "${Literal}".
        return substituted.replace("${!", "${")

    def _join(self, arg: Any) -> str:
        delimiter, items = arg
        return str(delimiter).join(scalar_to_str(item) for item in self.resolve(items))

    def _select(self, arg: Any) -> Any:
        index, items = self.resolve(arg)
        try:
            return items[int(index)]
        except (IndexError, ValueError, TypeError) as exc:
            raise TemplateError(f"Fn::Select {index} of {items!r}: {exc}") from exc

    def _split(self, arg: Any) -> list[str]:
        delimiter, text = arg
        return scalar_to_str(self.resolve(text)).split(str(delimiter))

    def _if(self, arg: Any) -> Any:
        name, when_true, when_false = arg
        return self.resolve(when_true if self.condition(name) else when_false)

    def _equals(self, arg: Any) -> bool:
        left, right = self.resolve(arg)
        return scalar_to_str(left) == scalar_to_str(right)

    def _find_in_map(self, arg: Any) -> Any:
        map_name, first, second = self.resolve(arg)
        try:
            return self.template["Mappings"][map_name][first][second]
        except KeyError:
            raise TemplateError(f"Fn::FindInMap {map_name}/{first}/{second} not found") from None

    def _get_azs(self, arg: Any) -> list[str]:
        region = self.resolve(arg) or self.region
        return [f"{region}{zone}" for zone in "abc"]


def _parameter_value(parameter_type: str, value: Any) -> Any:
    """CloudFormation hands parameters to Ref as strings, list types as lists of strings."""
    if parameter_type.startswith("List<") or parameter_type == "CommaDelimitedList":
        if isinstance(value, list):
            return [str(item) for item in value]
        return [item.strip() for item in str(value).split(",")] if str(value) else []
    return scalar_to_str(value)


def scalar_to_str(value: Any) -> str:
    """Render a resolved scalar the way CloudFormation serialises it into API calls."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | dict):
        raise TemplateError(f"expected a scalar, got {value!r}")
    return str(value)


def _to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def merge_globals(properties: Mapping[str, Any], global_properties: Mapping[str, Any]) -> dict:
    """SAM's Globals rule: maps merge key by key (the resource wins), anything else is replaced."""
    merged: dict[str, Any] = dict(global_properties)
    for key, value in properties.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict) and not _is_intrinsic(value):
            merged[key] = merge_globals(value, current)
        else:
            merged[key] = value
    return merged


def _is_intrinsic(value: Mapping[str, Any]) -> bool:
    if len(value) != 1:
        return False
    key = str(next(iter(value)))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


def output_values(resolver: Resolver, outputs: Mapping[str, Any]) -> dict[str, str]:
    """Resolved ``Outputs``; one that refers to something not created here is left out."""
    values: dict[str, str] = {}
    for name, output in outputs.items():
        if "Condition" in output and not resolver.condition(output["Condition"]):
            continue
        try:
            values[name] = resolver.resolve_str(output["Value"])
        except UnresolvableReference:
            continue
    return values
