"""A host lost in the middle of builds: how every build ends, and how long its users wait.

What runs: the embedded stack (``tmux-builder up --agents 2 --no-agent-restart``, the offline
model, leases of ``--lease-seconds``) as a subprocess in a temporary state folder. Four builds
start at once (aws/static twice, azure/static, aws/dynamic: ``--builds`` takes fewer). As soon as
one of them is in an AI step (create_plan or generate_code) on a host, that host is lost
(SIGKILL of its agent and of its tmux server; it does not come back). Then every build is
followed to its end, and every user sends one chat message.

Printed: who held which session before and after (the operator CLI's ``sessions``), each
build's end (status, seconds from start, URL or error), the sessions the surviving host took
over, the number of CloudFront distributions and EC2 instances against the number of sites that
use them (a step run twice would show as more), and each chat message's answer time.

    .venv/bin/python bench/host_loss_mid_build.py               # ~3 min on 2 cores
    .venv/bin/python bench/host_loss_mid_build.py --builds 2 --lease-seconds 10
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUILDS = (
    ("spoke", "A site for a bicycle repair shop called Spoke", "aws", "static"),
    ("leaf", "A site for a tea house called Leaf", "aws", "static"),
    ("ada", "A portfolio for a photographer named Ada", "azure", "static"),
    ("nib", "A site for a pen shop called Nib with a guest book", "aws", "dynamic"),
)
AI_STEPS = {"create_plan", "generate_code"}


def _wait(what: str, check: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise SystemExit(f"{what}: not within {timeout:g} s")


def run(builds: int, lease_seconds: float) -> int:
    import boto3
    import requests

    from tests.e2e.launcher import clean_environment, cli, running_stack
    from tmux_builder.api_client import ApiClient

    state = Path(tempfile.mkdtemp(prefix="tmux-builder-host-loss-"))
    try:
        with running_stack(
            state,
            "--agents",
            "2",
            "--no-agent-restart",
            TMUX_BUILDER_AGENT_LEASE_SECONDS=str(lease_seconds),
        ) as stack:
            headers = {"Authorization": f"Bearer {stack['admin_token']}"}
            api = ApiClient(stack["api_url"], stack["admin_token"])

            def operator(*args: str) -> str:
                done = subprocess.run(
                    cli("--state-dir", str(state), *args),
                    env=clean_environment(),
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                return done.stdout

            started = time.monotonic()
            made = [
                (name, provider, kind, api.create_user(f"{name}@example.com", text, provider, kind))
                for name, text, provider, kind in BUILDS[:builds]
            ]

            def in_ai_step_on_a_host() -> tuple[dict[str, Any], str, str] | None:
                leases = requests.get(
                    f"{stack['api_url']}/api/admin/leases", headers=headers, timeout=10
                ).json()["leases"]
                owners = {x["session_id"]: x["owner"] for x in leases if x["seconds_left"] > 0}
                for _, _, _, build in made:
                    step = api.status(build["execution_id"]).get("current_step")
                    if step in AI_STEPS and build["session_id"] in owners:
                        return build, owners[build["session_id"]], str(step)
                return None

            victim, lost_host, step = _wait("a build in an AI step", in_ai_step_on_a_host, 180)
            print("before the loss:\n" + operator("sessions"))
            agent = next(a for a in stack["agents"] if a["agent_id"] == lost_host)
            os.kill(agent["pid"], signal.SIGKILL)
            subprocess.run(
                [shutil.which("tmux") or "tmux", "-L", agent["tmux_socket"], "kill-server"],
                capture_output=True,
                timeout=10,
            )
            print(
                f"lost {lost_host} {time.monotonic() - started:.1f} s after the start, during "
                f"{step} of {victim['execution_id']}\n"
            )

            ended: dict[str, tuple[dict[str, Any], float]] = {}

            def all_ended() -> bool:
                for _, _, _, build in made:
                    if build["execution_id"] in ended:
                        continue
                    status = api.status(build["execution_id"])
                    if status["status"] != "running":
                        ended[build["execution_id"]] = (status, time.monotonic() - started)
                return len(ended) == len(made)

            _wait("every build's end", all_ended, 900, every=2)
            for name, provider, kind, build in made:
                status, seconds = ended[build["execution_id"]]
                result = status.get("deployed_url") or status.get("error")
                site = f"{provider}/{kind}"
                print(f"  {name:6} {site:13} {status['status']:9} {seconds:6.1f} s  {result}")
            print("\nafter the loss:\n" + operator("sessions"))
            survivor_logs = [
                line.split(": ", 1)[1]
                for path in sorted((state / "logs").glob("agent-*.log"))
                if path.stem != lost_host
                for line in path.read_text().splitlines()
                if "took over session" in line
            ]
            print("taken over:\n  " + "\n  ".join(survivor_logs or ["(none)"]))

            aws = {
                "endpoint_url": stack["aws_endpoint"],
                "region_name": "us-east-1",
                "aws_access_key_id": "testing",
                "aws_secret_access_key": "testing",
            }
            distributions = (
                boto3.client("cloudfront", **aws)
                .list_distributions()["DistributionList"]
                .get("Quantity", 0)
            )
            instances = [
                i
                for r in boto3.client("ec2", **aws).describe_instances()["Reservations"]
                for i in r["Instances"]
                if i["State"]["Name"] != "terminated"
            ]
            static_aws = sum(1 for _, p, k, _ in made if (p, k) == ("aws", "static"))
            dynamic_aws = sum(1 for _, p, k, _ in made if (p, k) == ("aws", "dynamic"))
            print(
                f"\nCloudFront distributions: {distributions} for {static_aws} aws/static site(s); "
                f"EC2 instances: {len(instances)} for {dynamic_aws} aws/dynamic site(s)"
            )

            asked = {}
            for name, _, _, build in made:
                sent = requests.post(
                    f"{stack['api_url']}/api/sessions/{build['session_id']}/chat",
                    json={"message": "Make the background blue"},
                    headers=headers,
                    timeout=10,
                )
                asked[name] = (build["session_id"], sent.json()["message_id"], time.monotonic())

            def answered(session_id: str, message_id: str) -> bool:
                history = requests.get(
                    f"{stack['api_url']}/api/sessions/{session_id}/chat",
                    headers=headers,
                    timeout=10,
                ).json()["messages"]
                return any(m.get("in_reply_to") == message_id for m in history)

            print("chat answers:")
            for name, (session_id, message_id, sent_at) in asked.items():
                _wait(f"{name}'s answer", functools.partial(answered, session_id, message_id), 240)
                print(f"  {name:6} {time.monotonic() - sent_at:5.1f} s after it was sent")
            outcomes = [ended[build["execution_id"]][0]["status"] for *_, build in made]
            return 0 if all(status == "succeeded" for status in outcomes) else 1
    finally:
        shutil.rmtree(state, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--builds", type=int, default=4, choices=range(1, len(BUILDS) + 1))
    parser.add_argument("--lease-seconds", type=float, default=10.0)
    args = parser.parse_args()
    return run(args.builds, args.lease_seconds)


if __name__ == "__main__":
    raise SystemExit(main())
