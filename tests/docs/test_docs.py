"""The operator documentation (docs/) names only things that exist.

Every ``make`` target and variable, ``tmux-builder`` command and flag, ``TMUX_BUILDER_*``
variable, template parameter and output, API route and relative link the pages mention is
checked against the Makefile, the CLI's parser, the code, ``template.yaml`` and the Chalice app;
every template parameter and output is documented in deploy.md; every ``<placeholder>`` is
explained in docs/README.md; and ``make -n deploy`` prints the commands deploy.md describes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tmux_builder.local.cfn_template import load_template

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
MAKEFILE = ROOT / "Makefile"
TEMPLATE = ROOT / "template.yaml"
ASL = ROOT / "stepfunctions" / "pipeline.asl.json"

# CamelCase words in code spans that are not names in template.yaml: Step Functions history
# event types, AWS error codes and names of AWS's own, and the pipeline's error names.
AWS_TERMS = {
    "AutoScalingGroupName",  # a CloudWatch dimension of Auto Scaling
    "LambdaFunctionScheduled",
    "LambdaFunctionStarted",
    "LambdaFunctionSucceeded",
    "LambdaFunctionFailed",
    "LambdaFunctionTimedOut",
    "TaskScheduled",
    "TaskStarted",
    "TaskSubmitted",
    "TaskSucceeded",
    "TaskFailed",
    "TaskTimedOut",
    "HeartbeatSeconds",
    "TimeoutSeconds",
    "SendTaskHeartbeat",
    "DeletionPolicy",
    "AccessDeniedException",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "QueueArn",
    "RandomPassword",
    "SecretString",
    "LastUpdateStatus",
    "UserGUID",
    "SessionID",
    "SiteType",
    "CreatedBy",
    "PipelineFailed",
    "SiteNotReady",
    "AdministratorAccess",
    "ApproximateNumberOfMessagesVisible",
    "ApproximateAgeOfOldestMessage",
    "CloudWatch",
}


# ------------------------------------------------------------------------------ reading the docs


def _text(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def _fenced_blocks(text: str) -> list[str]:
    """Fenced code blocks, with shell line continuations joined."""
    blocks = re.findall(r"^\s*```[^\n]*\n(.*?)^\s*```", text, flags=re.M | re.S)
    return [re.sub(r"\\\n\s*", " ", block) for block in blocks]


def _inline_code(text: str) -> list[str]:
    prose = re.sub(r"^\s*```[^\n]*\n.*?^\s*```", "", text, flags=re.M | re.S)
    return re.findall(r"`([^`\n]+)`", prose)


def _code(text: str) -> list[str]:
    """Every piece of code on a page: fenced blocks' lines (less comments), inline code spans."""
    lines = [
        re.sub(r"(^|\s)#\s.*$", "", line)
        for block in _fenced_blocks(text)
        for line in block.splitlines()
    ]
    return lines + _inline_code(text)


@cache
def _all_code() -> list[tuple[str, str]]:
    return [(page.name, piece) for page in PAGES for piece in _code(_text(page))]


# ------------------------------------------------------------------------------ what exists


@cache
def _template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def _makefile_targets() -> set[str]:
    targets: set[str] = set()
    for line in _text(MAKEFILE).splitlines():
        match = re.match(r"^([A-Za-z0-9_.$()/-]+(?:\s+[A-Za-z0-9_.-]+)*)\s*:(?![=:])", line)
        if match and not line.startswith("\t"):
            targets.update(match.group(1).split())
    return targets


def _makefile_variables() -> set[str]:
    return set(re.findall(r"^([A-Z_]+)\s*[?:]?=", _text(MAKEFILE), flags=re.M))


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _known_env_vars() -> set[str]:
    """TMUX_BUILDER_* names in the code and the template, and those pydantic-settings reads."""
    from tmux_builder.settings import AgentSettings, CloudSettings, environment_variable

    found: set[str] = set()
    sources = [TEMPLATE, MAKEFILE]
    for package in ("tmux_builder", "control_plane", "agent"):
        sources += sorted((ROOT / package).rglob("*.py"))
    for source in sources:
        found.update(re.findall(r"TMUX_BUILDER_[A-Z0-9_]+", source.read_text(encoding="utf-8")))
    for settings in (CloudSettings, AgentSettings):
        found.update(environment_variable(settings, name) for name in settings.model_fields)
    return found


@cache
def _routes() -> dict[str, set[str]]:
    from control_plane.app import app

    return {path: set(methods) for path, methods in app.routes.items()}


def _route_exists(method: str, path: str) -> bool:
    """A route of the app; a ``<placeholder>`` or ``$variable`` segment stands for any
    ``{parameter}``, a ``{parameter}`` must be named as in the route."""
    wanted = path.split("?")[0].rstrip("/.,;:)").split("/")
    for route, methods in _routes().items():
        parts = route.split("/")
        if method not in methods or len(parts) != len(wanted):
            continue
        if all(
            mine == theirs or (re.fullmatch(r"<[^>]+>|\$\w+", mine) and theirs.startswith("{"))
            for mine, theirs in zip(wanted, parts, strict=True)
        ):
            return True
    return False


def _make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # A top-level make, even when the tests themselves run under `make test`.
    outer = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**outer, **(env or {})},
    )


# ------------------------------------------------------------------------------ the pages


def test_the_pages_exist_and_the_index_links_each() -> None:
    names = {page.name for page in PAGES}
    expected = {
        "README.md",
        "deploy.md",
        "first-admin-token.md",
        "scaling-agents.md",
        "rotating-secrets.md",
        "watching-builds.md",
        "teardown.md",
    }
    assert expected <= names
    index = _text(DOCS / "README.md")
    for name in sorted(names - {"README.md"}):
        assert f"]({name})" in index, f"docs/README.md does not link {name}"
    assert "](docs/" in _text(ROOT / "README.md"), "README.md does not link docs/"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_and_anchors_resolve(page: Path) -> None:
    for target in re.findall(r"\]\(([^)\s]+)\)", _text(page)):
        if re.match(r"^[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        assert linked.exists(), f"{page.name}: broken link {target}"
        if anchor and linked.suffix == ".md":
            headings = re.findall(r"^#+\s+(.*)$", _text(linked), flags=re.M)
            assert anchor in {_slug(h) for h in headings}, f"{page.name}: no anchor {target}"


def test_every_placeholder_is_explained_in_the_index() -> None:
    explained = set(re.findall(r"^\|\s*`(<[^`]+>)`", _text(DOCS / "README.md"), flags=re.M))
    explained |= {
        p.strip()
        for cell in re.findall(r"^\|\s*(`<[^|]+)\|", _text(DOCS / "README.md"), flags=re.M)
        for p in re.findall(r"`(<[^`]+>)`", cell)
    }
    for page in PAGES:
        for placeholder in re.findall(r"<[A-Za-z][\w.-]*>", "\n".join(_code(_text(page)))):
            if placeholder == "<placeholder>":
                continue
            assert placeholder in explained, f"{page.name}: {placeholder} is not in docs/README.md"


# ------------------------------------------------------------------------------ names in the docs


def test_make_targets_and_variables_exist() -> None:
    targets, variables = _makefile_targets(), _makefile_variables()
    seen = set()
    for page, code in _all_code():
        for command in re.findall(r"(?:^|[;&|(]\s*)make ([^#;&|]*)", code):
            for word in command.split():
                if re.fullmatch(r"[a-z][a-z-]*", word):
                    assert word in targets, f"{page}: `make {word}` is not a Makefile target"
                    seen.add(word)
                elif word.startswith("-"):
                    continue
                elif re.fullmatch(r"[A-Z_]+=\S*", word):
                    name = word.split("=", 1)[0]
                    assert name in variables, f"{page}: make variable {name} is not in the Makefile"
                else:
                    break
    assert {"deploy", "deploy-portal", "package", "outputs"} <= seen


def test_cli_commands_and_flags_exist() -> None:
    from tmux_builder.cli import parser

    root = parser()
    commands = _subcommands(root)
    root_flags = set(root._option_string_actions)
    seen = set()
    for page, code in _all_code():
        for match in re.finditer(
            r"(?<![\w/=.~-])(?<!-u )(?<!-L )tmux-builder ([a-z]+)([^|;&#]*)", code
        ):
            name, rest = match.groups()
            assert name in commands, f"{page}: `tmux-builder {name}` is not a command"
            seen.add(name)
            allowed = root_flags | set(commands[name]._option_string_actions)
            for flag in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest):
                assert flag in allowed, f"{page}: `tmux-builder {name} {flag}` does not exist"
    assert {"build", "status"} <= seen


def test_environment_variables_exist() -> None:
    known = _known_env_vars()
    for page in PAGES:
        for name in set(re.findall(r"\bTMUX_BUILDER_[A-Z0-9_]*[A-Z0-9]\b", _text(page))):
            assert name in known, f"{page.name}: {name} is read by nothing"


def test_the_cli_reads_the_variables_the_docs_give_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from tmux_builder.api_client import discover_admin_token, discover_api_url

    monkeypatch.setenv(
        "TMUX_BUILDER_API_URL", "https://abc.execute-api.eu-west-1.amazonaws.com/Prod/"
    )
    monkeypatch.setenv("TMUX_BUILDER_ADMIN_TOKEN", "t" * 48)
    assert discover_api_url(None, ROOT / "no-such-dir") == (
        "https://abc.execute-api.eu-west-1.amazonaws.com/Prod"
    )
    assert discover_admin_token(ROOT / "no-such-dir") == "t" * 48


def test_template_names_in_the_docs_exist() -> None:
    template = _template()
    asl = json.loads(ASL.read_text(encoding="utf-8"))
    errors = {
        error
        for state in asl["States"].values()
        for rule in state.get("Retry", []) + state.get("Catch", [])
        for error in rule["ErrorEquals"]
    }
    from agent import errors as agent_errors

    errors |= {name for name in dir(agent_errors) if name.endswith("Error")}
    known = (
        set(template["Parameters"])
        | set(template["Outputs"])
        | set(template["Resources"])
        | errors
        | AWS_TERMS
    )
    metrics = set()
    for source in sorted((ROOT / "control_plane").rglob("*.py")):
        metrics.update(re.findall(r'count\(\s*"(\w+)"', source.read_text(encoding="utf-8")))
    known |= metrics
    from agent.host_metrics import SESSIONS_PER_HOST

    known.add(SESSIONS_PER_HOST)  # the agent hosts' own metric
    for page, code in _all_code():
        # A JMESPath query names fields of AWS's answers, not of the template.
        code = re.sub(r"--query\s+(\"[^\"]*\"|'[^']*')", "", code)
        for word in re.findall(r"(?<![\w./:$-])([A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+)(?![\w-])", code):
            assert word in known, f"{page}: `{word}` is not in template.yaml (or a known AWS name)"


def test_outputs_the_docs_read_exist() -> None:
    outputs = set(_template()["Outputs"])
    for page, code in _all_code():
        for name in re.findall(r"\boutput ([A-Z][a-z]\w*)", code) + re.findall(
            r"OutputKey=='(\w+)'", code
        ):
            assert name in outputs, f"{page}: output {name} is not in template.yaml"
    for name in re.findall(r"STACK_OUTPUT,(\w+)", _text(MAKEFILE)):
        assert name in outputs, f"Makefile: output {name} is not in template.yaml"


def test_every_parameter_and_output_is_documented_in_deploy_md() -> None:
    deploy = _text(DOCS / "deploy.md")
    template = _template()
    for kind in ("Parameters", "Outputs"):
        for name in template[kind]:
            assert f"`{name}`" in deploy, f"docs/deploy.md does not mention the {kind[:-1]} {name}"


def test_the_makefile_passes_only_template_parameters() -> None:
    parameters = set(_template()["Parameters"])
    block = re.search(r"PARAMETER_OVERRIDES = (.*?)\$\(PARAMS\)", _text(MAKEFILE), flags=re.S)
    assert block, "PARAMETER_OVERRIDES not found in the Makefile"
    names = re.findall(r"(\w+)=\$\(", block.group(1))
    assert names
    for name in names:
        assert name in parameters, f"Makefile passes {name}, which template.yaml does not have"
    for page, code in _all_code():
        for params in re.findall(r"PARAMS=[\"']([^\"']*)[\"']", code):
            for name in re.findall(r"(\w+)=", params):
                assert name in parameters, f"{page}: PARAMS names {name}, not a parameter"


def test_api_routes_in_the_docs_exist() -> None:
    seen = 0
    for page in PAGES:
        text = _text(page)
        for method, path in re.findall(r"\b(GET|POST|PUT|PATCH|DELETE) (/api/[^\s`'\"]+)", text):
            assert _route_exists(method, path), f"{page.name}: {method} {path} is not a route"
            seen += 1
        for method, path in re.findall(
            r"\bapi (GET|POST|PUT|PATCH|DELETE) ['\"]?(/api/[^\s'\"`]+)", text
        ):
            assert _route_exists(method, path), f"{page.name}: api {method} {path} is not a route"
    assert seen
    assert _route_exists("DELETE", "/api/admin/sessions/{session_id}")
    assert _route_exists("DELETE", "/api/admin/users/{user_id}")


def test_state_table_matches_the_state_machine() -> None:
    """watching-builds.md lists every state with its timeout and heartbeat as the ASL has them."""
    text = _text(DOCS / "watching-builds.md")
    states = json.loads(ASL.read_text(encoding="utf-8"))["States"]
    rows = {
        m.group(1): [c.strip() for c in m.group(2).split("|")]
        for m in re.finditer(r"^\|[^|]*\|\s*`(\w+)`\s*\|(.*)\|\s*$", text, flags=re.M)
    }
    for name, state in states.items():
        if state["Type"] == "Choice":
            continue
        assert name in rows, f"watching-builds.md has no row for the state {name}"
        if state["Type"] != "Task":
            continue
        _runs_on, timeout, heartbeat, *_ = rows[name]
        assert timeout == str(state["TimeoutSeconds"]), name
        assert heartbeat == str(state.get("HeartbeatSeconds", "-")), name


# ------------------------------------------------------------------------------ make deploy


def _dry_run(*args: str) -> str:
    """``make -n`` of the arguments, with shell line continuations joined."""
    result = _make("-n", *args, "SAM=sam", "AWS_CLI=aws", "PYTHON=python3")
    assert result.returncode == 0, result.stderr
    return re.sub(r"[ \t]+", " ", re.sub(r"\\\n\s*", " ", result.stdout))


def test_make_n_deploy_prints_the_documented_commands() -> None:
    out = _dry_run("deploy", "PROFILE=x", "REGION=us-east-1")
    steps = [
        "aws sts get-caller-identity --profile x --region us-east-1",
        "python3 scripts/package.py lambda",
        "python3 scripts/package.py agent --out build/agent",
        "sam build --template-file template.yaml --build-dir .aws-sam/build",
        "--stack-name tmux-builder --query 'Stacks[0].Parameters[].[ParameterKey,ParameterValue]'",
        "sam deploy --template-file .aws-sam/build/template.yaml --stack-name tmux-builder"
        " --profile x --region us-east-1"
        " --capabilities CAPABILITY_IAM CAPABILITY_NAMED_IAM CAPABILITY_AUTO_EXPAND"
        " --resolve-s3 --s3-prefix tmux-builder --no-fail-on-empty-changeset"
        " --no-confirm-changeset --parameter-overrides",
        "OutputKey=='PortalBucket'",
        'aws s3 sync frontend/dist "s3://$bucket" --profile x --region us-east-1',
        "aws cloudfront create-invalidation --profile x --region us-east-1"
        ' --distribution-id "$distribution" --paths "/*"',
        "describe-stacks --profile x --region us-east-1 --stack-name tmux-builder"
        ' --query "Stacks[0].Outputs[].[OutputKey,OutputValue]" --output table',
    ]
    positions = []
    for step in steps:
        assert step in out, step
        positions.append(out.index(step))
    assert positions == sorted(positions), "make deploy runs its steps in another order"
    assert "AgentPackageKey=$agent_key" in out
    assert 'aws s3 cp "$agent_package" "s3://$1/$agent_key" --profile x --region us-east-1' in out
    assert "for word in ; do" in out  # nothing given: the stack's values (or defaults) only
    # Nothing in it reads or prints a secret.
    assert "secretsmanager" not in out and "SecretString" not in out


def test_make_n_deploy_passes_the_operators_choices() -> None:
    out = _dry_run(
        "deploy",
        "PROFILE=ops",
        "REGION=eu-west-1",
        "STACK=tb-staging",
        "APP_NAME=tb-staging",
        "AGENT_VPC=vpc-9",
        "AGENT_SUBNETS=subnet-a,subnet-b",
        "AGENT_MIN=1",
        "AGENT_MAX=3",
        "MODEL_API_KEY_SECRET=arn:aws:secretsmanager:eu-west-1:123456789012:secret:k-AbCdEf",
        "ALARM_EMAIL=ops@example.org",
        "PARAMS=PipelineLogLevel=ALL LogRetentionDays=90",
        "CONFIRM=1",
    )
    given = re.search(r"for word in ([^;]*); do", out)
    assert given
    assert given.group(1).split() == [
        "AppName=tb-staging",
        "VpcId=vpc-9",
        "AgentSubnetIds=subnet-a,subnet-b",
        "AgentMinSize=1",
        "AgentMaxSize=3",
        "ModelApiKeySecretArn=arn:aws:secretsmanager:eu-west-1:123456789012:secret:k-AbCdEf",
        "AlarmEmail=ops@example.org",
        "PipelineLogLevel=ALL",
        "LogRetentionDays=90",
    ]
    assert "--stack-name tb-staging --profile ops --region eu-west-1" in out
    assert "--confirm-changeset" in out and "--no-confirm-changeset" not in out


_STAND_IN_AWS = """#!/bin/bash
# The AWS CLI as make deploy sees it: logs every call, answers the reads from $STATE.
echo "aws $*" >> "$STATE/calls"
case "$*" in
  *"sts get-caller-identity"*) echo 123456789012 ;;
  *"Stacks[0].Parameters"*)
    [ -f "$STATE/stack" ] || { echo "Stack with id x does not exist" >&2; exit 254; }
    printf 'VpcId\\tvpc-1\\nAgentSubnetIds\\tsubnet-a,subnet-b\\n'
    printf 'PortalUrl\\t%s\\nRemovedParameter\\tx\\n' "$(cat "$STATE/portal_url" 2>/dev/null)" ;;
  *"OutputKey=='ArtifactsBucket'"*)
    [ -f "$STATE/stack" ] || { echo "Stack with id x does not exist" >&2; exit 254; }
    echo tb-artifacts ;;
  *"OutputKey=='PortalUrl'"*)
    [ -f "$STATE/stack" ] || { echo "Stack with id x does not exist" >&2; exit 254; }
    echo https://d111111abcdef8.cloudfront.net ;;
  *"OutputKey=='PortalBucket'"*) echo tb-portal ;;
  *"OutputKey=='PortalDistributionId'"*) echo E2EXAMPLE ;;
  *"s3api head-object"*) [ -f "$STATE/uploaded" ] || exit 254 ;;
  *"s3 cp "*) touch "$STATE/uploaded" ;;
esac
"""

_STAND_IN_SAM = """#!/bin/bash
echo "sam $*" >> "$STATE/calls"
if [ "$1" = deploy ]; then
  touch "$STATE/stack"
  for word in "$@"; do
    case "$word" in PortalUrl=*) echo "${word#PortalUrl=}" > "$STATE/portal_url" ;; esac
  done
fi
"""


def test_make_deploy_first_and_later_deploys(tmp_path: Path) -> None:
    """Against stand-ins for sam and aws: what a first deploy and a later one call, in order."""
    import sys

    for name, text in (("aws", _STAND_IN_AWS), ("sam", _STAND_IN_SAM)):
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o755)
    state = tmp_path / "state"
    state.mkdir()
    args = [
        "deploy",
        "PROFILE=x",
        "REGION=us-east-1",
        f"SAM={tmp_path / 'sam'}",
        f"AWS_CLI={tmp_path / 'aws'}",
        f"PYTHON={sys.executable}",
        f"AGENT_BUILD_DIR={tmp_path / 'agent'}",
        # Built elsewhere in this suite (and by make install): not rebuilt here.
        "-o",
        "package",
        "-o",
        ".stamps/portal",
    ]

    def run(*extra: str) -> list[str]:
        (state / "calls").write_text("")
        result = _make(*args, *extra, env={"STATE": str(state)})
        assert result.returncode == 0, result.stdout + result.stderr
        calls = (state / "calls").read_text().splitlines()
        return [call.replace(str(tmp_path), "<tmp>") for call in calls]

    first = run("AGENT_VPC=vpc-9", "AGENT_SUBNETS=subnet-x,subnet-y")
    deploys = [call for call in first if call.startswith("sam deploy")]
    assert len(deploys) == 2  # then once more with the new distribution's PortalUrl
    package = next((tmp_path / "agent").glob("tmux-builder-*.tar.gz")).name
    first_overrides = deploys[0].split("--parameter-overrides ", 1)[1].split()
    assert sorted(first_overrides) == sorted(
        ["VpcId=vpc-9", "AgentSubnetIds=subnet-x,subnet-y", f"AgentPackageKey=releases/{package}"]
    )
    second_overrides = deploys[1].split("--parameter-overrides ", 1)[1].split()
    assert "PortalUrl=https://d111111abcdef8.cloudfront.net" in second_overrides
    upload = f"aws s3 cp <tmp>/agent/{package} s3://tb-artifacts/releases/{package}"
    uploads = [i for i, call in enumerate(first) if call.startswith(upload)]
    assert len(uploads) == 1 and first.index(deploys[0]) < uploads[0] < first.index(deploys[1])
    assert any("s3 sync frontend/dist s3://tb-portal " in call for call in first)
    assert any("create-invalidation" in call and "E2EXAMPLE" in call for call in first)

    later = run("AGENT_MAX=3")
    deploys = [call for call in later if call.startswith("sam deploy")]
    assert len(deploys) == 1
    overrides = deploys[0].split("--parameter-overrides ", 1)[1].split()
    # What the stack has is passed again (RemovedParameter is no longer in the template).
    assert sorted(overrides) == sorted(
        [
            "VpcId=vpc-1",
            "AgentSubnetIds=subnet-a,subnet-b",
            "PortalUrl=https://d111111abcdef8.cloudfront.net",
            "AgentMaxSize=3",
            f"AgentPackageKey=releases/{package}",
        ]
    )
    assert not any(call.startswith("aws s3 cp") for call in later)  # already uploaded


def test_make_n_package_builds_offline() -> None:
    result = _make("-n", "package", "SAM=sam")
    assert result.returncode == 0, result.stderr
    assert "sam build" in result.stdout
    assert "--profile" not in result.stdout and "sts " not in result.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["SAM=/nonexistent/sam", "PROFILE=x", "REGION=us-east-1"], "the SAM CLI"),
        (["SAM=true", "AWS_CLI=/nonexistent/aws", "PROFILE=x", "REGION=us-east-1"], "the AWS CLI"),
        (["SAM=true", "AWS_CLI=true", "REGION=us-east-1"], "PROFILE and REGION are required"),
        (["SAM=true", "AWS_CLI=true", "PROFILE=x"], "PROFILE and REGION are required"),
    ],
)
def test_make_deploy_stops_with_one_clear_line(args: list[str], says: str) -> None:
    result = _make("deploy", *args)
    assert result.returncode != 0
    ours = [
        line
        for line in result.stderr.splitlines()
        if not re.match(r"^make(\[\d+\])?: \*\*\*", line)
    ]
    assert len(ours) == 1, result.stderr
    assert says in ours[0] and "docs/deploy.md" in ours[0] or "make deploy PROFILE=" in ours[0]
    assert result.stdout == ""  # nothing ran
