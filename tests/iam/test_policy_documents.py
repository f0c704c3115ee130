"""Every policy in iam/ and template.yaml: well formed, real actions, no unexplained wildcard.

The rule: no statement may allow every action of a service (``"*"``, ``"service:*"``, any
``*`` in an action) or every resource (``"*"``, or an ARN whose resource part is only
wildcards) unless ``iam/wildcards.yaml`` names it (where + Sid, with its exact actions) and
says why. For a registered ``"Resource": "*"`` the IAM action data that cfn-lint ships must
confirm that none of its actions supports resource-level permissions. SAM policy templates
(``DynamoDBCrudPolicy`` ...) are scoped by their parameters, which must name our own
resources (``!Ref`` / ``!GetAtt``); a managed policy needs a register entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from control_plane.iam_identity import render
from tests.iam import policy_eval as pe
from tmux_builder import naming
from tmux_builder.local.cfn_template import load_template

TEMPLATE = pe.ROOT / "template.yaml"
REGISTER = pe.IAM_DIR / "wildcards.yaml"

_STATEMENT_KEYS = {"Sid", "Effect", "Action", "Resource", "Condition", "Principal"}
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_SUB_VARIABLE = re.compile(r"\$\{[^}]*\}")
# Resource types whose policies are permission policies (inline or managed).
_POLICY_RESOURCES = {
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::RolePolicy",
    "AWS::IAM::UserPolicy",
    "AWS::IAM::GroupPolicy",
}
_SAM_WITH_POLICIES = {"AWS::Serverless::Function", "AWS::Serverless::StateMachine"}


# --- what is checked ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """One statement, where it is (``iam/<file>`` or ``template.yaml#<LogicalId>``).

    ``policy`` tells the policy documents of one resource apart (a role's PolicyName, or the
    index of a SAM function's inline policy).
    """

    where: str
    statement: dict[str, Any]
    policy: str = ""

    @property
    def sid(self) -> str:
        return str(self.statement.get("Sid", ""))

    def __str__(self) -> str:
        return f"{self.where} Sid={self.sid or '(none)'}"


@lru_cache(maxsize=1)
def register() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(REGISTER.read_text(encoding="utf-8"))
    return loaded


@lru_cache(maxsize=1)
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def _document_statements() -> list[Found]:
    found = []
    for name in pe.documents():
        for statement in pe.rendered(name)["Statement"]:
            found.append(Found(f"iam/{name}", statement, name))
    return found


def _sam_policies(value: Any) -> list[Any]:
    return pe.as_list(value)


def _branches(statement: Any) -> list[Any]:
    """A statement, or both branches of an ``Fn::If`` (``AWS::NoValue`` dropped)."""
    if isinstance(statement, dict) and set(statement) == {"Fn::If"}:
        _condition, yes, no = statement["Fn::If"]
        return [b for branch in (yes, no) for b in _branches(branch)]
    if statement == {"Ref": "AWS::NoValue"}:
        return []
    return [statement]


def template_statements() -> list[Found]:
    """Inline statements of every function, state machine, role and policy in the template."""
    found = []
    for logical_id, resource in template()["Resources"].items():
        kind = resource.get("Type", "")
        properties = resource.get("Properties", {}) or {}
        where = f"template.yaml#{logical_id}"
        documents: list[tuple[str, Any]] = []
        if kind in _SAM_WITH_POLICIES:
            policies = _sam_policies(properties.get("Policies"))
            documents += [(str(i), p) for i, p in enumerate(policies) if _is_inline(p)]
        elif kind == "AWS::IAM::Role":
            for policy in properties.get("Policies", []) or []:
                documents.append((str(policy.get("PolicyName")), policy.get("PolicyDocument")))
        elif kind in _POLICY_RESOURCES:
            documents.append(("", properties.get("PolicyDocument")))
        for name, document in documents:
            assert isinstance(document, dict), f"{where}: a policy document is not a mapping"
            statements = document.get("Statement")
            assert isinstance(statements, list) and statements, f"{where}: no Statement list"
            found += [
                Found(where, branch, name) for item in statements for branch in _branches(item)
            ]
    return found


def _is_inline(policy: Any) -> bool:
    return isinstance(policy, dict) and "Statement" in policy


def sam_policy_templates() -> list[tuple[str, str, Any]]:
    """(where, template name, parameters) of every SAM policy template in the template."""
    found = []
    for logical_id, resource in template()["Resources"].items():
        if resource.get("Type") not in _SAM_WITH_POLICIES:
            continue
        for policy in _sam_policies((resource.get("Properties") or {}).get("Policies")):
            if isinstance(policy, dict) and not _is_inline(policy):
                assert len(policy) == 1, f"{logical_id}: unexpected policy entry {policy}"
                ((name, parameters),) = policy.items()
                found.append((f"template.yaml#{logical_id}", name, parameters))
    return found


def managed_policies() -> list[tuple[str, Any]]:
    """(where, policy) of every managed policy a role or SAM resource attaches."""
    found = []
    for logical_id, resource in template()["Resources"].items():
        properties = resource.get("Properties") or {}
        where = f"template.yaml#{logical_id}"
        if resource.get("Type") in _SAM_WITH_POLICIES:
            found += [
                (where, p)
                for p in _sam_policies(properties.get("Policies"))
                if not isinstance(p, dict)
            ]
        if resource.get("Type") == "AWS::IAM::Role":
            found += [(where, p) for p in properties.get("ManagedPolicyArns", []) or []]
    return found


# --- the wildcard rule --------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A Resource as text: an intrinsic's template string, with ``${...}`` made neutral."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Fn::Sub":
            return _SUB_VARIABLE.sub("X", arg if isinstance(arg, str) else arg[0])
        if key in ("Ref", "Fn::GetAtt"):
            return "X"  # one of our resources (checked by the references test)
        if key == "Fn::Join":
            separator, parts = arg
            return str(separator).join(_text(part) for part in parts)
    raise AssertionError(f"cannot read the resource {value!r}")


def _resources(statement: dict[str, Any]) -> list[str]:
    out = []
    for value in pe.as_list(statement.get("Resource")):
        if isinstance(value, dict) and "Fn::If" in value:
            _condition, yes, no = value["Fn::If"]
            out += [_text(v) for v in pe.as_list(yes) + pe.as_list(no)]
        else:
            out.append(_text(value))
    return out


def all_resources_wildcard(resource: str) -> bool:
    """``*``, or an ARN whose resource part names nothing (``arn:aws:s3:::*``, ``...:*/*``)."""
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    return len(parts) == 6 and parts[0] == "arn" and not parts[5].strip("*/?")


def findings(statement: dict[str, Any]) -> list[str]:
    """What in an Allow statement is a wildcard: ``"action"``, ``"resource"``, or both."""
    if statement.get("Effect") != "Allow":
        return []
    kinds = []
    if "NotAction" in statement or any("*" in a for a in pe.as_list(statement.get("Action"))):
        kinds.append("action")
    if "NotResource" in statement or any(all_resources_wildcard(r) for r in _resources(statement)):
        kinds.append("resource")
    return kinds


def _entry(kind: str, found: Found) -> dict[str, Any] | None:
    section = "resource_wildcards" if kind == "resource" else "action_wildcards"
    for entry in register().get(section) or []:
        if entry["sid"] != found.sid or not found.sid:
            continue
        if entry["where"] == found.where:
            return dict(entry)
        if entry.get("mirrored_in_template") and found.where.startswith("template.yaml#"):
            return dict(entry)
    return None


def all_statements() -> list[Found]:
    return _document_statements() + template_statements()


def test_no_statement_has_an_unregistered_wildcard() -> None:
    unexplained = []
    for found in all_statements():
        for kind in findings(found.statement):
            entry = _entry(kind, found)
            if entry is None:
                unexplained.append(f"{found}: {kind} wildcard not in iam/wildcards.yaml")
            elif sorted(pe.as_list(found.statement["Action"])) != sorted(entry["actions"]):
                unexplained.append(
                    f"{found}: actions {sorted(pe.as_list(found.statement['Action']))} differ "
                    f"from the registered {sorted(entry['actions'])}"
                )
    assert not unexplained, "\n".join(unexplained)


def test_every_register_entry_is_used_and_explained() -> None:
    statements = all_statements()
    for section, kind in (("resource_wildcards", "resource"), ("action_wildcards", "action")):
        for entry in register().get(section) or []:
            assert len(str(entry.get("reason", "")).split()) >= 8, f"{entry}: give the reason"
            where, sid = entry["where"], entry["sid"]
            assert any(
                f.where == where and f.sid == sid and kind in findings(f.statement)
                for f in statements
            ), f"stale register entry: {where} Sid={sid} has no {kind} wildcard (remove it)"
    for entry in register().get("managed_policies") or []:
        assert len(str(entry.get("reason", "")).split()) >= 8, f"{entry}: give the reason"


def test_wildcard_resources_only_for_actions_without_resource_level_permissions() -> None:
    """Resource "*" only where no ARN could be named, unless the register says which optional
    resource type of the action the statement never uses (``unused_resource_types``)."""
    data = iam_actions()
    wrong = []
    for found in all_statements():
        if "resource" not in findings(found.statement):
            continue
        unused = next(
            (
                entry.get("unused_resource_types") or {}
                for entry in register().get("resource_wildcards") or []
                if entry["where"] == found.where and entry["sid"] == found.sid
            ),
            {},
        )
        for action in pe.as_list(found.statement["Action"]):
            service, _, name = action.partition(":")
            types = data.get(service, {}).get("Actions", {}).get(name.lower(), {}).get("Resources")
            if types and not set(types) <= set(unused.get(action, [])):
                wrong.append(f"{found}: {action} supports resource-level permissions; name them")
    assert not wrong, "\n".join(wrong)


def test_sam_policy_templates_are_scoped_to_our_resources() -> None:
    resources = set(template()["Resources"])
    wrong = []
    for where, name, parameters in sam_policy_templates():
        if not isinstance(parameters, dict) or not parameters:
            if not any(
                e["where"] == where and e["policy"] == name
                for e in register().get("managed_policies") or []
            ):
                wrong.append(f"{where}: {name} has no parameters (account-wide); register it")
            continue
        for key, value in parameters.items():
            target = _referenced(value)
            if target not in resources:
                wrong.append(f"{where}: {name}.{key} = {value!r} is not !Ref/!GetAtt of ours")
    assert not wrong, "\n".join(wrong)


def _referenced(value: Any) -> str | None:
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref" and isinstance(arg, str):
            return arg
        if key == "Fn::GetAtt":
            return str(arg[0] if isinstance(arg, list) else arg.split(".")[0])
    return None


def test_managed_policies_are_registered() -> None:
    registered = {(e["where"], str(e["policy"])) for e in register().get("managed_policies") or []}
    unexplained = [
        f"{where}: managed policy {policy!r} is not in iam/wildcards.yaml"
        for where, policy in managed_policies()
        if (where, str(policy)) not in registered
    ]
    assert not unexplained, "\n".join(unexplained)


def test_the_rule_catches_what_it_must() -> None:
    """The detector itself: each form of "everything" is caught, scoped ARNs are not."""
    caught: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::x"},
        {"Effect": "Allow", "Action": ["s3:*"], "Resource": "arn:aws:s3:::x"},
        {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::x"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*/*"},
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:*:*:*"},
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::*"},
        },
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::x"},
    ]
    for statement in caught:
        assert findings(statement), statement
    scoped: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::tmux-*/*"},
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": "arn:aws:iam::1:role/tmux-user-*",
        },
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::GetAtt": ["B", "Arn"]}},
        {"Effect": "Deny", "Action": "*", "Resource": "*"},
    ]
    for statement in scoped:
        assert not findings(statement), statement


# --- shape, placeholders and real action names -----------------------------------------------


@pytest.mark.parametrize("name", pe.documents())
def test_document_renders_and_is_well_formed(name: str) -> None:
    assert name in pe.PLACEHOLDERS, f"iam/{name}: add its placeholders to policy_eval.PLACEHOLDERS"
    used = set(_PLACEHOLDER.findall(json.dumps(pe.template_of(name))))
    assert used == set(pe.PLACEHOLDERS[name]), f"iam/{name}: placeholders {sorted(used)}"
    document = pe.rendered(name)
    assert not _PLACEHOLDER.search(json.dumps(document)), f"iam/{name}: a placeholder is left"
    assert set(document) <= {"Version", "Statement"}
    assert document["Version"] == "2012-10-17"
    statements = document["Statement"]
    assert isinstance(statements, list) and statements
    sids = [s.get("Sid") for s in statements]
    assert all(isinstance(sid, str) and re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids)
    assert len(set(sids)) == len(sids), f"iam/{name}: duplicate Sid"
    trust = name.endswith("-trust-policy.json")
    for statement in statements:
        _check_statement_shape(f"iam/{name}", statement, trust=trust)


def _check_statement_shape(where: str, statement: dict[str, Any], *, trust: bool) -> None:
    assert set(statement) <= _STATEMENT_KEYS, f"{where}: unexpected keys {set(statement)}"
    assert statement["Effect"] in ("Allow", "Deny"), where
    actions = pe.as_list(statement["Action"])
    assert actions and all(isinstance(a, str) and ":" in a for a in actions), where
    if trust:
        assert "Resource" not in statement, f"{where}: a trust policy names a Principal"
        principal = json.dumps(statement["Principal"])
        assert "*" not in principal, f"{where}: trust policy principal with a wildcard"
    else:
        assert "Principal" not in statement, f"{where}: an identity policy has no Principal"
        resources = pe.as_list(statement["Resource"])
        assert resources and all(isinstance(r, str | dict) for r in resources), where
    condition = statement.get("Condition", {})
    assert isinstance(condition, dict), where
    for block in condition.values():
        assert isinstance(block, dict) and block, f"{where}: empty condition block"


def test_template_statements_are_well_formed() -> None:
    statements = template_statements()
    assert statements, "template.yaml has no inline policy statement at all?"
    for found in statements:
        _check_statement_shape(str(found), found.statement, trust=False)


@lru_cache(maxsize=1)
def iam_actions() -> dict[str, Any]:
    """IAM's action list (service -> actions -> resource types) as cfn-lint ships it."""
    import cfnlint

    path = Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_every_action_exists_in_iam() -> None:
    data = iam_actions()
    unknown = []
    for found in all_statements():
        for action in pe.as_list(found.statement["Action"]):
            service, _, name = action.partition(":")
            if "*" in name:
                continue  # reported by the wildcard rule
            if name.lower() not in data.get(service, {}).get("Actions", {}):
                unknown.append(f"{found}: {action} is not an IAM action")
    assert not unknown, "\n".join(unknown)


def test_tag_conditions_use_the_tags_the_deployer_sets() -> None:
    """The tag keys and the Project value in the tag conditions are naming's.

    EC2 resources also carry ``Name`` (the console shows it; the deployer finds its instance
    by it).
    """
    keys = set(naming.resource_tags(pe.USER_A, "sess", "static"))
    for name in ("user-policy.json", "user-permissions-boundary.json"):
        for statement in pe.rendered(name)["Statement"]:
            ec2 = all(a.startswith("ec2:") for a in pe.as_list(statement["Action"]))
            expected = keys | {"Name"} if ec2 else keys
            for operator, block in (statement.get("Condition") or {}).items():
                for key, value in block.items():
                    if key == "aws:RequestTag/Project" and operator == "StringEquals":
                        assert value == naming.TAG_PROJECT
                    if key == "aws:TagKeys":
                        assert set(pe.as_list(value)) == expected, statement["Sid"]


# --- the template's copy of the agent host policy ------------------------------------------------


def _cfn_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Fn::Sub" and isinstance(arg, str):
            return arg
        if key == "Fn::GetAtt":
            target, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return f"${{{target}.{attribute}}}"
        if key == "Ref":
            return f"${{{arg}}}"
    raise AssertionError(f"write the agent host policy's values as !Sub/!GetAtt/!Ref: {value!r}")


def _normalized(statement: dict[str, Any]) -> tuple[Any, ...]:
    return (
        statement["Effect"],
        sorted(pe.as_list(statement["Action"])),
        sorted(_cfn_text(r) for r in pe.as_list(statement["Resource"])),
        json.dumps(_subs_as_text(statement.get("Condition", {})), sort_keys=True),
    )


def _subs_as_text(value: Any) -> Any:
    """A Condition with every ``!Sub "..."`` value written as its template string."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            return value["Fn::Sub"]
        return {key: _subs_as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_subs_as_text(item) for item in value]
    return value


MIRRORED = [
    "agent-host-policy.json",
    "user-permissions-boundary.json",
    "site-instance-boundary.json",
]


def _copies(name: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The template's policy documents that carry statements of ``iam/<name>`` (by Sid)."""
    sids = {s["Sid"] for s in pe.template_of(name)["Statement"]}
    by_document: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for found in template_statements():
        by_document.setdefault((found.where, found.policy), []).append(found.statement)
    for (where, policy), statements in by_document.items():
        if sids & {s.get("Sid") for s in statements}:
            yield f"{where} {policy}".strip(), statements


@pytest.mark.parametrize("name", MIRRORED)
def test_the_template_copies_the_document_exactly(name: str) -> None:
    copies = list(_copies(name))
    if not copies:
        pytest.skip(f"template.yaml has no copy of iam/{name} yet (no statement with its Sids)")
    expected = {
        s["Sid"]: _normalized(s)
        for s in render(pe.template_of(name), pe.CFN_PLACEHOLDERS)["Statement"]
    }
    for where, statements in copies:
        actual = {s.get("Sid"): _normalized(s) for s in statements}
        assert actual == expected, (
            f"{where} must carry exactly the statements of iam/{name}, in a policy document "
            f"of its own (placeholders as {pe.CFN_PLACEHOLDERS})"
        )
