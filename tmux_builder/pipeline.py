"""The nine pipeline steps: names, order and where each one runs.

One list, read by the control plane (status views), the agent (which steps it serves),
the CLI (progress bar) and the tests. The state names in ``stepfunctions/pipeline.asl.json``
are these names; a test keeps the two in line.
"""

from __future__ import annotations

from enum import StrEnum


class Step(StrEnum):
    CREATE_USER = "create_user"
    CREATE_SESSION = "create_session"
    GATHER_REQUIREMENTS = "gather_requirements"
    CREATE_PLAN = "create_plan"
    GENERATE_CODE = "generate_code"
    DEPLOY = "deploy"
    HEALTH_CHECK = "health_check"
    SCREENSHOT = "screenshot"
    E2E_TESTS = "e2e_tests"


STEPS: tuple[Step, ...] = tuple(Step)

# Steps handed to the agent with sqs:sendMessage.waitForTaskToken.
AGENT_STEPS: frozenset[Step] = frozenset(
    {Step.CREATE_PLAN, Step.GENERATE_CODE, Step.DEPLOY, Step.SCREENSHOT, Step.E2E_TESTS}
)

# Steps that drive the AI in the tmux pane (the others are plain code on the agent host).
AI_STEPS: frozenset[Step] = frozenset({Step.CREATE_PLAN, Step.GENERATE_CODE, Step.E2E_TESTS})

STEP_TITLES: dict[Step, str] = {
    Step.CREATE_USER: "Create user",
    Step.CREATE_SESSION: "Create session",
    Step.GATHER_REQUIREMENTS: "Gather requirements",
    Step.CREATE_PLAN: "Create plan",
    Step.GENERATE_CODE: "Generate code",
    Step.DEPLOY: "Deploy",
    Step.HEALTH_CHECK: "Health check",
    Step.SCREENSHOT: "Screenshot",
    Step.E2E_TESTS: "E2E tests",
}


def step_number(step: Step | str) -> int:
    """1-based position of a step in the pipeline."""
    return STEPS.index(Step(step)) + 1


# Where each agent step's answer lands in the execution state (the Task's ResultPath in
# stepfunctions/pipeline.asl.json; a test keeps them equal).
AGENT_RESULT_FIELD: dict[Step, str] = {
    Step.CREATE_PLAN: "plan_key",
    Step.GENERATE_CODE: "snapshot_key",
    Step.DEPLOY: "deploy",
    Step.SCREENSHOT: "screenshots",
    Step.E2E_TESTS: "e2e",
}
