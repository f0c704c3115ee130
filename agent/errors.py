"""Errors of the agent's steps, named the way the state machine knows them.

Each error carries a stable ``error_code``: the agent sends it as the ``error`` of
SendTaskFailure, and the Retry/Catch rules of ``stepfunctions/pipeline.asl.json`` match on it.
Renaming a code is a contract change with the state machine, so codes live here and nowhere else.
"""

from __future__ import annotations

from typing import ClassVar


class StepError(Exception):
    """A step failed in a way the state machine should see by name.

    The message becomes the ``cause``: it must be readable by a user and never contain
    credentials, tokens or file contents.
    """

    error_code: ClassVar[str] = "StepError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DeployError(StepError):
    """Putting the site live failed (missing build output, cloud API errors, edge not ready)."""

    error_code: ClassVar[str] = "DeployError"


class ScreenshotError(StepError):
    """The deployed site could not be loaded or captured in a browser."""

    error_code: ClassVar[str] = "ScreenshotError"


class E2EError(StepError):
    """The generated end-to-end tests could not be run (none found, crashed, timed out)."""

    error_code: ClassVar[str] = "E2EFailed"


class CodeMissingError(StepError):
    """generate_code finished but left no site to build or deploy."""

    error_code: ClassVar[str] = "CodeMissing"


class PlanMissingError(StepError):
    """create_plan finished but the plan file is missing or empty."""

    error_code: ClassVar[str] = "PlanMissing"


class AiTurnError(StepError):
    """The AI's turn did not complete; subclasses name how (the pane tail is stored)."""

    error_code: ClassVar[str] = "AiTurnFailed"


class EngineNotReadyError(AiTurnError):
    """The CLI did not come up in the pane."""

    error_code: ClassVar[str] = "EngineNotReady"


class PromptNotDeliveredError(AiTurnError):
    """The CLI never confirmed taking the instruction, after every retry."""

    error_code: ClassVar[str] = "PromptNotDelivered"


class TurnTimeoutError(AiTurnError):
    """The turn did not end within the step's time limit."""

    error_code: ClassVar[str] = "TurnTimeout"


class EngineExitedError(AiTurnError):
    """The CLI exited in the middle of the turn."""

    error_code: ClassVar[str] = "EngineExited"


class PermissionDeniedError(AiTurnError):
    """The AI stopped at a permission it does not have (the agent never grants one)."""

    error_code: ClassVar[str] = "PermissionDenied"
