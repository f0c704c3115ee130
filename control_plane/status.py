"""The status of one execution as a person (or the CLI) reads it.

The table holds what every step reported. While the record still says "running", Step
Functions is asked too, so an execution that ended outside the failure path (aborted, timed
out before any handler ran) is never shown as running forever.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from control_plane import tracking
from control_plane.api_models import (
    ActivityView,
    E2EView,
    FailureView,
    ScreenshotsView,
    StatusResponse,
    StepError,
    StepView,
)
from control_plane.auth import Principal, require_access
from control_plane.errors import NotFound
from tmux_builder import aws, naming
from tmux_builder.contracts import StepStatus
from tmux_builder.pipeline import STEP_TITLES, STEPS, step_number
from tmux_builder.settings import cloud

_SFN_ENDED = {
    "FAILED": "failed",
    "TIMED_OUT": "failed",
    "ABORTED": "failed",
    "SUCCEEDED": "succeeded",
}


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    return round(delta.total_seconds(), 3)


def _step_view(name: str, item: dict[str, Any] | None) -> StepView:
    step = STEPS[step_number(name) - 1]
    if item is None:
        return StepView(
            name=name, number=step_number(step), title=STEP_TITLES[step], status=StepStatus.PENDING
        )
    status = StepStatus(item["status"])
    ended = item.get("ended_at") if status is not StepStatus.RUNNING else None
    error = (
        StepError(error=item["error"], cause=item.get("cause", ""))
        if status is StepStatus.FAILED
        else None
    )
    return StepView(
        name=name,
        number=step_number(step),
        title=STEP_TITLES[step],
        status=status,
        started_at=item.get("started_at"),
        ended_at=ended,
        duration_seconds=_seconds_between(item.get("started_at"), ended),
        attempts=int(item.get("attempts", 1)),
        error=error,
    )


def _state_machine_status(execution_id: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    settings = cloud()
    arn = settings.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{execution_id}"
    try:
        return aws.client("stepfunctions").describe_execution(executionArn=arn)
    except ClientError:
        return None


def _presigned(key: str | None) -> str | None:
    if not key:
        return None
    return aws.client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": cloud().artifacts_bucket, "Key": key}, ExpiresIn=3600
    )


def _settled_record(execution_id: str, record: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The record, re-read if Step Functions says the execution ended after we read it.

    The failure and success paths write the record before the execution ends, so a record
    still "running" next to an ended execution was either read too early (re-read it) or the
    execution ended outside those paths (aborted, timed out): then Step Functions' word counts.
    """
    if record.get("status", "running") != "running":
        return record, None
    described = _state_machine_status(execution_id)
    if not described or described.get("status") not in _SFN_ENDED:
        return record, None
    return tracking.get_execution(execution_id) or record, described


def execution_status(execution_id: str, principal: Principal) -> StatusResponse:
    if not naming.EXECUTION_ID_RE.match(execution_id):
        raise NotFound(f"no build with id {execution_id!r}")
    record = tracking.get_execution(execution_id)
    if record is None:
        raise NotFound(f"no build with id {execution_id!r}")
    require_access(principal, record["user_id"])
    record, described = _settled_record(execution_id, record)
    step_items = tracking.steps_of(execution_id)
    steps = [_step_view(step.value, step_items.get(step.value)) for step in STEPS]
    if record.get("mode") == "redeploy" and record.get("from_step"):
        first = step_number(record["from_step"])
        steps = [
            s.model_copy(update={"status": StepStatus.SKIPPED})
            if s.number < first and s.status is StepStatus.PENDING
            else s
            for s in steps
        ]

    status = record.get("status", "running")
    failure = None
    if record.get("error"):
        failed_step = step_items.get(record.get("failed_step") or "", {})
        failure = FailureView(
            step=record.get("failed_step"),
            error=record["error"],
            # The agent's own report of the step (it can arrive after the failure path ran).
            cause=record.get("cause") or failed_step.get("cause", ""),
        )
    ended_at = record.get("ended_at")
    if status == "running" and described is not None:
        status = _SFN_ENDED[described["status"]]
        stop = described.get("stopDate")
        ended_at = stop.isoformat() if stop else None
        if status == "failed" and failure is None:
            unfinished = [s for s in steps if s.status in (StepStatus.FAILED, StepStatus.RUNNING)]
            failure = FailureView(
                step=unfinished[0].name if unfinished else None,
                error=described.get("error") or described["status"],
                cause=described.get("cause") or "",
            )

    current = next((s.name for s in steps if s.status is StepStatus.RUNNING), None)
    if current is None and status == "running":
        current = next((s.name for s in steps if s.status is StepStatus.PENDING), None)

    e2e = record.get("e2e")
    screenshots = _screenshots(record)
    return StatusResponse(
        execution_id=execution_id,
        user_id=record["user_id"],
        session_id=record["session_id"],
        status=status,
        current_step=current if status == "running" else None,
        started_at=record.get("started_at"),
        ended_at=ended_at,
        steps=steps,
        deployed_url=record.get("deployed_url"),
        screenshot_url=screenshots.desktop_url if screenshots else None,
        screenshots=screenshots,
        e2e=E2EView(
            passed=e2e["passed"],
            failed=e2e["failed"],
            errors=e2e.get("errors", 0),
            ok=e2e["failed"] == 0 and e2e.get("errors", 0) == 0 and e2e["passed"] > 0,
            report_url=_presigned(e2e.get("report_key")),
        )
        if e2e
        else None,
        error=failure,
        activity=[
            ActivityView(
                at=a["at"], type=a["type"], step=a.get("step"), message=a.get("message", "")
            )
            for a in tracking.recent_activity(execution_id)
        ],
    )


def _screenshots(record: dict[str, Any]) -> ScreenshotsView | None:
    stored = record.get("screenshots") or {}
    desktop = _presigned(stored.get("desktop"))
    if desktop is None:
        return None
    return ScreenshotsView(
        desktop_url=desktop,
        mobile_url=_presigned(stored.get("mobile")),
        thumbnail_url=_presigned(stored.get("thumbnail")),
    )
