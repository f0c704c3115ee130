"""The ``tmux-builder`` command.

- ``up``: the whole system on this machine (embedded AWS, API, portal, agent, offline model).
- ``build "<requirements>"``: build a site through a running stack's public API.
- ``status <execution_id>``: one build's status as JSON.
- ``agent``: run an agent host (what ``up`` starts; on EC2 it runs as a service).
- ``sessions``, ``attach``, ``logs``, ``teardown``, ``redeploy``: the operator's commands
  (:mod:`tmux_builder.operator_cli`), through the API with the admin credential.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def _cmd_up(args: argparse.Namespace) -> int:
    from tmux_builder.local.stack import StackOptions, run_stack

    return run_stack(
        StackOptions(
            state_dir=Path(args.state_dir),
            api_port=args.port,
            aws_port=args.aws_port,
            model_port=args.model_port,
            agents=args.agents,
            offline_model=_use_offline_model(args.model),
            restart_agents=not args.no_agent_restart,
        )
    )


# Any of these in the environment means the operator configured a real model for Claude Code.
MODEL_CREDENTIAL_VARS = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
)


def _use_offline_model(choice: str) -> bool:
    if choice == "auto":
        return not any(os.environ.get(name) for name in MODEL_CREDENTIAL_VARS)
    return choice == "offline"


def _cmd_build(args: argparse.Namespace) -> int:
    from rich.console import Console

    from tmux_builder.api_client import (
        ApiClient,
        ApiUnavailable,
        discover_admin_token,
        discover_api_url,
    )
    from tmux_builder.build_command import EXIT_NO_STACK, BuildOptions, run_build

    console = Console()
    try:
        base = discover_api_url(args.api, Path(args.state_dir))
    except ApiUnavailable as exc:
        console.print(f"[bold red]{exc}[/]")
        return EXIT_NO_STACK
    options = BuildOptions(
        requirements=args.requirements,
        provider=args.provider,
        site_type=args.site_type,
        email=args.email,
        phone=args.phone,
        output_dir=Path(args.output_dir),
        timeout_seconds=args.timeout,
    )
    token = discover_admin_token(Path(args.state_dir))
    return run_build(ApiClient(base, token=token), options, console)


def _cmd_status(args: argparse.Namespace) -> int:
    from tmux_builder.api_client import (
        ApiClient,
        ApiFailure,
        ApiUnavailable,
        discover_admin_token,
        discover_api_url,
    )

    state_dir = Path(args.state_dir)
    try:
        client = ApiClient(
            discover_api_url(args.api, state_dir), token=discover_admin_token(state_dir)
        )
        status = client.status(args.execution_id)
    except ApiUnavailable as exc:
        print(exc, file=sys.stderr)
        return 3
    except ApiFailure as exc:
        print(exc, file=sys.stderr)
        return 2
    print(json.dumps(status, indent=2))
    return 0


def _cmd_agent(args: argparse.Namespace) -> int:
    from agent.main import run_agent

    return run_agent()


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="tmux-builder", description=__doc__.split("\n\n")[0])
    root.add_argument(
        "--state-dir", default=".tmux-builder", help="where a local stack keeps its state"
    )
    commands = root.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start the whole system on this machine (foreground)")
    up.add_argument("--port", type=int, default=8080, help="portal and REST API (default 8080)")
    up.add_argument(
        "--aws-port", type=int, default=4566, help="the embedded AWS endpoint (default 4566)"
    )
    up.add_argument("--model-port", type=int, default=8765, help="the offline model (default 8765)")
    up.add_argument("--agents", type=int, default=1, help="number of agent hosts (default 1)")
    up.add_argument(
        "--no-agent-restart",
        action="store_true",
        help="leave an agent that dies down (as a lost host): its sessions move to the others",
    )
    up.add_argument(
        "--model",
        choices=["auto", "offline", "real"],
        default="auto",
        help="the model behind Claude Code: the offline model, or the real one configured in "
        "your environment (ANTHROPIC_API_KEY...). auto: real when configured (default)",
    )
    up.set_defaults(run=_cmd_up)

    build = commands.add_parser(
        "build", help="build a site from a description and wait until it is live"
    )
    build.add_argument(
        "requirements", help='what to build, e.g. "a tea shop site with a dark theme"'
    )
    build.add_argument("--provider", choices=["aws", "azure"], default="aws")
    build.add_argument("--site-type", choices=["static", "dynamic"], default="static")
    build.add_argument("--email", default="you@example.com")
    build.add_argument("--phone", default=None)
    build.add_argument(
        "--api", default=None, help="API base URL (default: the running local stack)"
    )
    build.add_argument(
        "--output-dir", default="tmux-builder-output", help="where the screenshot is saved"
    )
    build.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds to wait for the build"
    )
    build.set_defaults(run=_cmd_build)

    status = commands.add_parser("status", help="print one build's status as JSON")
    status.add_argument("execution_id")
    status.add_argument("--api", default=None)
    status.set_defaults(run=_cmd_status)

    agent = commands.add_parser(
        "agent", help="run an agent host (reads its settings from the environment)"
    )
    agent.set_defaults(run=_cmd_agent)

    from tmux_builder.operator_cli import add_commands

    add_commands(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
