"""The ASL file against the code that relies on it: step names, transitions, result paths."""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tmux_builder.pipeline import AGENT_RESULT_FIELD, AGENT_STEPS, STEPS

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = json.loads((ROOT / "stepfunctions" / "pipeline.asl.json").read_text())
STATES = DEFINITION["States"]


def test_a_build_starts_at_create_user_and_a_redeploy_later() -> None:
    start = STATES[DEFINITION["StartAt"]]
    assert start["Type"] == "Choice"
    assert start["Default"] == "create_user"
    assert {c["Next"] for c in start["Choices"]} == {"generate_code", "deploy"}


def test_the_nine_steps_are_states_in_order() -> None:
    order = []
    name = STATES[DEFINITION["StartAt"]]["Default"]
    while name and name in {s.value for s in STEPS}:
        order.append(name)
        name = STATES[name].get("Next")
    assert order == [s.value for s in STEPS]


def test_every_transition_resolves() -> None:
    for name, state in STATES.items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Catch", [])]
        targets += [c["Next"] for c in state.get("Choices", [])]
        for target in filter(None, targets):
            assert target in STATES, f"{name} -> {target}"
        ends = state["Type"] in {"Fail", "Succeed", "Choice"} or state.get("End")
        assert ends or "Next" in state, name


def test_every_task_has_a_timeout_and_agent_tasks_a_heartbeat() -> None:
    for name, state in STATES.items():
        if state["Type"] != "Task":
            continue
        assert state["TimeoutSeconds"] > 0, name
        if name in {s.value for s in AGENT_STEPS}:
            assert state["Resource"].endswith("sqs:sendMessage.waitForTaskToken")
            assert 0 < state["HeartbeatSeconds"] < state["TimeoutSeconds"]
            assert (
                state["ResultPath"]
                == f"$.{AGENT_RESULT_FIELD[next(s for s in AGENT_STEPS if s.value == name)]}"
            )


LOST_AGENT = ["States.HeartbeatTimeout", "States.Timeout"]


def test_ai_steps_are_retried_only_when_no_agent_answered() -> None:
    """generate_code (and the other AI turns) never repeat on their own errors: only a lost
    host's silence (heartbeat or task timeout) is retried, once, for another host to take."""
    for name in ("create_plan", "generate_code", "e2e_tests"):
        assert [rule["ErrorEquals"] for rule in STATES[name]["Retry"]] == [LOST_AGENT], name
        assert STATES[name]["Retry"][0]["MaxAttempts"] == 1


def test_the_agent_s_own_limits_end_a_step_before_step_functions_does() -> None:
    """A slow turn fails with the agent's clear error (and pane tail), not a States timeout,
    which is what makes a States timeout mean "no agent answered"."""
    from agent.e2e_runner import run_e2e_tests
    from tmux_builder.settings import AgentSettings

    turn = AgentSettings().turn_timeout_seconds
    e2e_run = inspect.signature(run_e2e_tests).parameters["timeout_s"].default
    assert STATES["create_plan"]["TimeoutSeconds"] > turn
    assert STATES["generate_code"]["TimeoutSeconds"] > turn
    assert STATES["e2e_tests"]["TimeoutSeconds"] > turn + e2e_run


def test_every_step_goes_to_the_one_failure_path() -> None:
    for step in STEPS:
        catches = STATES[step.value]["Catch"]
        assert catches == [
            {
                "ErrorEquals": ["States.ALL"],
                "ResultPath": f"$.failed.{step.value}",
                "Next": "record_failure",
            }
        ]


def test_asl_validator_accepts_the_definition() -> None:
    validator = ROOT / "node_modules" / ".bin" / "asl-validator"
    if not validator.exists():
        pytest.fail(
            "node_modules/.bin/asl-validator is missing: run `make test` (it installs npm tools)"
        )
    result = subprocess.run(
        [str(validator), "--json-path", str(ROOT / "stepfunctions" / "pipeline.asl.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert shutil.which("node")
