"""The Step Functions history of one build, shaped for a person: one entry per state run, like
the AWS console's table view.

``GetExecutionHistory`` gives a flat list of events (state entered, task scheduled, task
failed, state exited ...). Here they are grouped into :class:`StateRun` items, each with its
input and output, the task's resource and parameters, how many attempts it took and every
failure along the way (error and cause), plus the raw events for whoever wants them.

What leaves this module is safe to show an admin:

- Secrets are redacted: any field whose name looks like a credential (``task_token`` above all:
  it lets its holder finish the step) becomes ``[redacted]``, and the values found there are
  also blanked wherever else they appear (a cause, a truncated payload).
- Payloads are cut to size: a long string inside a payload is shortened, and a payload still too
  big is returned as the first part of its text, marked ``truncated``.

Pages are state runs, oldest first; the cursor is the id of the last event of a page.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from control_plane.errors import NotFound, UpstreamUnavailable
from tmux_builder import aws, naming
from tmux_builder.settings import cloud

REDACTED = "[redacted]"
MAX_STRING_CHARS = 2_000
MAX_PAYLOAD_CHARS = 16_000
MAX_CAUSE_CHARS = 4_000
PAGE_DEFAULT = 50
PAGE_MAX = 200
# A Standard workflow's history stops at 25,000 events; reading further is never needed.
MAX_EVENTS = 25_000
_SECRET_NAME = re.compile(
    r"token|secret|password|passwd|authorization|credential|api[_-]?key|access[_-]?key"
    r"|private[_-]?key|signature",
    re.IGNORECASE,
)
# The smallest value worth blanking elsewhere: shorter ones would blank ordinary words.
_MIN_SECRET_CHARS = 8

StateStatus = Literal["running", "succeeded", "failed"]


class Payload(BaseModel):
    """A state's input or output: JSON when it parses, redacted, cut to size."""

    value: Any = Field(description="the JSON value, or (if not JSON or too big) its text")
    truncated: bool = False
    chars: int = Field(description="length of the original text")


class HistoryEvent(BaseModel):
    """One event of the raw history (as ``GetExecutionHistory`` lists it)."""

    id: int
    previous_id: int | None = None
    type: str
    at: str
    state: str | None = None
    resource: str | None = None
    detail: Payload | None = Field(default=None, description="input, output or parameters")
    error: str | None = None
    cause: str | None = None


class StateFailure(BaseModel):
    at: str
    error: str
    cause: str = ""
    retried: bool = Field(description="another attempt followed this failure")


class StateRun(BaseModel):
    """One visit of a state, from entered to exited."""

    name: str
    type: str = Field(description="Task, Choice, Pass, Wait, Fail, Succeed, Parallel, Map")
    status: StateStatus
    entered_at: str
    exited_at: str | None = None
    duration_seconds: float | None = None
    input: Payload | None = None
    output: Payload | None = None
    resource: str | None = Field(default=None, description="e.g. lambda:invoke")
    parameters: Payload | None = None
    attempts: int = 0
    failures: list[StateFailure] = Field(default_factory=list)
    events: list[HistoryEvent] = Field(default_factory=list)


class ExecutionHistory(BaseModel):
    """``GET /api/admin/executions/{execution_id}/history``."""

    execution_id: str
    status: str = Field(description="RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED")
    started_at: str | None = None
    stopped_at: str | None = None
    input: Payload | None = None
    output: Payload | None = None
    error: str | None = None
    cause: str | None = None
    states: list[StateRun]
    next_cursor: str | None = Field(
        default=None, description="pass as cursor for the next page of states"
    )


# --------------------------------------------------------------------------- redaction


@dataclass
class Redactor:
    """Blanks credential-named fields, and their values wherever else they show up."""

    known: set[str] = field(default_factory=set)

    def collect(self, value: Any) -> None:
        """Remember the values of credential-named fields in ``value`` (a parsed payload)."""
        if isinstance(value, dict):
            for key, item in value.items():
                if _SECRET_NAME.search(str(key)):
                    self._remember(item)
                else:
                    self.collect(item)
        elif isinstance(value, list):
            for item in value:
                self.collect(item)

    def _remember(self, value: Any) -> None:
        if isinstance(value, str) and len(value) >= _MIN_SECRET_CHARS:
            self.known.add(value)
        elif isinstance(value, dict | list):
            for item in value.values() if isinstance(value, dict) else value:
                self._remember(item)

    def text(self, value: str) -> str:
        for secret in sorted(self.known, key=len, reverse=True):
            value = value.replace(secret, REDACTED)
        return value

    def clean(self, value: Any) -> tuple[Any, bool]:
        """``value`` redacted, with long strings shortened; and whether anything was cut."""
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            cut = False
            for key, item in value.items():
                if _SECRET_NAME.search(str(key)):
                    out[key] = REDACTED
                    continue
                out[key], item_cut = self.clean(item)
                cut = cut or item_cut
            return out, cut
        if isinstance(value, list):
            cleaned = [self.clean(item) for item in value]
            return [item for item, _ in cleaned], any(c for _, c in cleaned)
        if isinstance(value, str):
            value = self.text(value)
            if len(value) > MAX_STRING_CHARS:
                extra = len(value) - MAX_STRING_CHARS
                return f"{value[:MAX_STRING_CHARS]}… ({extra} more characters)", True
        return value, False

    def payload(self, text: str | None, truncated_upstream: bool = False) -> Payload | None:
        if text is None:
            return None
        try:
            parsed = json.loads(text)
        except ValueError:
            plain = self.text(text)
            return Payload(
                value=plain[:MAX_PAYLOAD_CHARS],
                truncated=truncated_upstream or len(plain) > MAX_PAYLOAD_CHARS,
                chars=len(text),
            )
        value, cut = self.clean(parsed)
        serialized = json.dumps(value, ensure_ascii=False)
        if len(serialized) > MAX_PAYLOAD_CHARS:
            return Payload(value=serialized[:MAX_PAYLOAD_CHARS], truncated=True, chars=len(text))
        return Payload(value=value, truncated=truncated_upstream or cut, chars=len(text))

    def cause(self, text: str | None) -> str | None:
        if text is None:
            return None
        text = self.text(text)
        if len(text) > MAX_CAUSE_CHARS:
            return f"{text[:MAX_CAUSE_CHARS]}… ({len(text) - MAX_CAUSE_CHARS} more characters)"
        return text


# --------------------------------------------------------------------------- shaping


def _iso(moment: Any) -> str:
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return str(moment)


def _details(event: dict[str, Any]) -> dict[str, Any]:
    """The one ``...EventDetails`` member an event carries (empty for bare events)."""
    return next((v for k, v in event.items() if k.endswith("EventDetails")), {}) or {}


def _is_scheduled(kind: str) -> bool:
    return kind in {"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"}


def _is_failure(kind: str) -> bool:
    return kind.endswith(("Failed", "TimedOut", "Aborted")) and not kind.startswith("Execution")


def _event(raw: dict[str, Any], redactor: Redactor, state: str | None) -> HistoryEvent:
    details = _details(raw)
    detail_text = next(
        (details[k] for k in ("parameters", "input", "output") if isinstance(details.get(k), str)),
        None,
    )
    truncated = any(
        bool(details.get(k, {}).get("truncated"))
        for k in ("inputDetails", "outputDetails")
        if isinstance(details.get(k), dict)
    )
    resource = None
    if details.get("resourceType") and details.get("resource"):
        resource = f"{details['resourceType']}:{details['resource']}"
    elif details.get("resource"):
        resource = str(details["resource"])
    previous = raw.get("previousEventId")
    return HistoryEvent(
        id=int(raw["id"]),
        previous_id=int(previous) if previous else None,
        type=str(raw["type"]),
        at=_iso(raw["timestamp"]),
        state=details.get("name") or state,
        resource=resource,
        detail=redactor.payload(detail_text, truncated),
        error=details.get("error"),
        cause=redactor.cause(details.get("cause")),
    )


def _seconds(start: str, end: str | None) -> float | None:
    if end is None:
        return None
    delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    return round(delta.total_seconds(), 3)


@dataclass
class _Open:
    run: StateRun
    last_event: int


def _finish(open_run: _Open, execution_running: bool) -> None:
    run = open_run.run
    last_failed = bool(run.failures) and not run.failures[-1].retried
    if run.type == "Fail" or last_failed:
        run.status = "failed"
    elif run.exited_at is not None:
        run.status = "succeeded"
    else:
        run.status = "running" if execution_running else "failed"


def shape_states(
    raw_events: list[dict[str, Any]], redactor: Redactor, execution_running: bool
) -> list[tuple[StateRun, int]]:
    """State runs, oldest first, each with the id of its last event.

    Events belong to the most recent state entered and not yet exited (a Standard workflow
    without Parallel or Map runs one state at a time); an exit closes the latest open run of
    its name.
    """
    runs: list[_Open] = []
    open_runs: list[_Open] = []
    for raw in raw_events:
        kind = str(raw["type"])
        details = _details(raw)
        if kind.startswith("Execution"):
            continue
        if kind.endswith("StateEntered"):
            event = _event(raw, redactor, None)
            run = StateRun(
                name=str(details.get("name", "?")),
                type=kind.removesuffix("StateEntered"),
                status="running",
                entered_at=event.at,
                input=event.detail,
                events=[event],
            )
            current = _Open(run, event.id)
            runs.append(current)
            open_runs.append(current)
            continue
        if kind.endswith("StateExited"):
            name = details.get("name")
            target = next((o for o in reversed(open_runs) if o.run.name == name), None)
        else:
            target = open_runs[-1] if open_runs else None
        if target is None:
            continue
        event = _event(raw, redactor, target.run.name)
        run = target.run
        run.events.append(event)
        target.last_event = event.id
        if kind.endswith("StateExited"):
            run.exited_at = event.at
            run.duration_seconds = _seconds(run.entered_at, event.at)
            run.output = event.detail
            open_runs.remove(target)
        elif _is_scheduled(kind):
            if run.failures:
                run.failures[-1].retried = True
            run.attempts += 1
            run.resource = event.resource
            run.parameters = event.detail
        elif _is_failure(kind):
            run.failures.append(
                StateFailure(
                    at=event.at,
                    error=event.error or kind,
                    cause=event.cause or "",
                    retried=False,
                )
            )
    for item in runs:
        _finish(item, execution_running)
    return [(item.run, item.last_event) for item in runs]


def page_of(
    shaped: list[tuple[StateRun, int]], limit: int, cursor: str | None
) -> tuple[list[StateRun], str | None]:
    """Up to ``limit`` runs whose last event comes after event ``cursor``."""
    after = int(cursor) if cursor else 0
    remaining = [(run, last) for run, last in shaped if last > after]
    page = remaining[:limit]
    next_cursor = str(page[-1][1]) if len(remaining) > limit else None
    return [run for run, _ in page], next_cursor


# --------------------------------------------------------------------------- reading


def execution_arn(execution_id: str) -> str:
    base = cloud().state_machine_arn.replace(":stateMachine:", ":execution:")
    return f"{base}:{execution_id}"


def _read(execution_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from botocore.exceptions import BotoCoreError, ClientError

    arn = execution_arn(execution_id)
    client = aws.client("stepfunctions")
    try:
        described = client.describe_execution(executionArn=arn)
        events: list[dict[str, Any]] = []
        for page in client.get_paginator("get_execution_history").paginate(
            executionArn=arn, includeExecutionData=True
        ):
            events.extend(page.get("events", []))
            if len(events) >= MAX_EVENTS:
                break
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
            raise NotFound(f"no build with id {execution_id!r}") from exc
        raise UpstreamUnavailable("Step Functions did not answer; try again") from exc
    except BotoCoreError as exc:
        raise UpstreamUnavailable("Step Functions did not answer; try again") from exc
    events.sort(key=lambda event: int(event["id"]))
    return described, events[:MAX_EVENTS]


def _collect_secrets(redactor: Redactor, events: list[dict[str, Any]]) -> None:
    for raw in events:
        for key, text in _details(raw).items():
            if key in {"input", "output", "parameters"} and isinstance(text, str):
                try:
                    redactor.collect(json.loads(text))
                except ValueError:
                    continue


def execution_history(
    execution_id: str, *, limit: int = PAGE_DEFAULT, cursor: str | None = None
) -> ExecutionHistory:
    """The build's history, one page of state runs (see the module docstring)."""
    if not naming.EXECUTION_ID_RE.match(execution_id):
        raise NotFound(f"no build with id {execution_id!r}")
    described, events = _read(execution_id)
    redactor = Redactor()
    _collect_secrets(redactor, events)
    if isinstance(described.get("input"), str):
        redactor.collect(_loads_or_none(described["input"]))
    status = str(described.get("status", "RUNNING"))
    shaped = shape_states(events, redactor, execution_running=status == "RUNNING")
    states, next_cursor = page_of(shaped, limit, cursor)
    stopped = described.get("stopDate")
    return ExecutionHistory(
        execution_id=execution_id,
        status=status,
        started_at=_iso(described["startDate"]) if described.get("startDate") else None,
        stopped_at=_iso(stopped) if stopped else None,
        input=redactor.payload(described.get("input")),
        output=redactor.payload(described.get("output")),
        error=described.get("error"),
        cause=redactor.cause(described.get("cause")),
        states=states,
        next_cursor=next_cursor,
    )


def _loads_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
