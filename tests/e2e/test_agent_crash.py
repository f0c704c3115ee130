"""kill -9 the agent in the middle of generate_code: the build still finishes, with one site.

The embedded stack runs as a subprocess (temp state folder, free ports, the offline model held
back per answer so an AI turn lasts seconds, not a fraction of one). The build starts through
the API with the admin token; once the AI is working on generate_code the agent process gets
SIGKILL. The stack restarts it; the step's message comes back when its visibility (30 s, no
longer extended by anyone) runs out, the restarted agent finds the dead holder's lease over in
the task ledger, takes the step over and runs it in the re-adopted session. Everything after it
runs once: one bucket, one distribution, deploy entered once.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from tests.e2e.launcher import running_stack
from tmux_builder import keys
from tmux_builder.api_client import ApiClient
from tmux_builder.offline_model.server import DELAY_ENV

pytestmark = [pytest.mark.e2e, pytest.mark.tmux, pytest.mark.claude, pytest.mark.browser]
REQUIREMENTS = "A site for a bicycle repair shop called Spoke, with prices and opening hours"
# Each offline model answer waits this long: a generate_code turn takes several seconds.
MODEL_DELAY_MS = "1500"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_stack(
        tmp_path_factory.mktemp("crash-stack"), **{DELAY_ENV: MODEL_DELAY_MS}
    ) as info:
        yield info


def _aws(info: dict[str, Any], service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=info["aws_endpoint"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _logs(info: dict[str, Any]) -> str:
    return "\n".join(p.read_text() for p in sorted((info["state_dir"] / "logs").glob("*.log")))


def _wait(what: str, until: Any, info: dict[str, Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = until()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"{what} not within {timeout:g} s\n--- agent log ---\n{_logs(info)[-6000:]}")


def _step(status: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in status["steps"] if s["name"] == name)


def test_a_build_survives_kill_9_of_the_agent_during_generate_code(
    stack: dict[str, Any],
) -> None:
    token = (stack["state_dir"] / "admin-token").read_text().strip()
    api = ApiClient(stack["api_url"], token)
    started = time.monotonic()
    execution_id = api.create_user("spoke@example.com", REQUIREMENTS, "aws", "static")[
        "execution_id"
    ]

    def generating() -> bool:
        status = api.status(execution_id)
        assert status["status"] != "failed", status
        return bool(_step(status, "generate_code")["status"] == "running")

    _wait("generate_code running", generating, stack, 120)
    # The turn is under way once its prompt file is written; the offline model then takes
    # several held-back answers to finish it.
    agent = stack["agents"][0]
    prompts = stack["state_dir"] / "agents" / agent["agent_id"] / "sessions"
    prompt_name = f"generate_code-{execution_id}-a0.txt"
    _wait(
        "the generate_code prompt",
        lambda: list(prompts.glob(f"*/prompts/{prompt_name}")),
        stack,
        30,
    )
    time.sleep(2)
    os.kill(agent["pid"], signal.SIGKILL)
    killed_at = time.monotonic()

    def finished() -> dict[str, Any] | None:
        status = api.status(execution_id)
        return status if status["status"] in ("succeeded", "failed") else None

    status = _wait("the end of the build", finished, stack, 240)
    recovered = time.monotonic() - killed_at
    assert status["status"] == "succeeded", f"{status}\n--- agent log ---\n{_logs(stack)[-6000:]}"
    print(
        f"\nkill -9 at {killed_at - started:.1f} s into the build; "
        f"the build succeeded {recovered:.1f} s later ({time.monotonic() - started:.1f} s in all)"
    )

    # The step was taken over by the restarted agent, not run by the dead one's leftovers.
    logs = _logs(stack)
    assert f"took over {execution_id}/generate_code/0" in logs
    claim = _aws(stack, "dynamodb").get_item(
        TableName=stack["outputs"]["TableName"],
        Key={k: {"S": v} for k, v in keys.task_claim(execution_id, "generate_code", 0).items()},
        ConsistentRead=True,
    )["Item"]
    assert (claim["state"]["S"], claim["takeovers"]["N"]) == ("succeeded", "1")

    page = requests.get(status["deployed_url"], timeout=10)
    assert page.status_code == 200
    assert "Spoke" in page.text

    prefix = f"tmux-{status['user_id'][:12]}-"
    buckets = [b["Name"] for b in _aws(stack, "s3").list_buckets()["Buckets"]]
    site_buckets = [name for name in buckets if name.startswith(prefix)]
    assert len(site_buckets) == 1, site_buckets
    distributions = (
        _aws(stack, "cloudfront").list_distributions()["DistributionList"].get("Items", [])
    )
    for_site = [d for d in distributions if d.get("Comment") == site_buckets[0]]
    assert len(for_site) == 1, [d.get("Comment") for d in distributions]

    sfn = _aws(stack, "stepfunctions")
    arn = stack["state_machine_arn"].replace(":stateMachine:", ":execution:") + f":{execution_id}"
    events = sfn.get_execution_history(executionArn=arn)["events"]
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]
    assert entered.count("generate_code") == 1, "Step Functions saw one generate_code task"
    assert entered.count("deploy") == 1, "deployed once: no retry, no second deploy"
    failed = [e for e in events if e["type"] in ("TaskFailed", "TaskTimedOut")]
    assert failed == [], failed
