"""The control plane's Chalice app: routes and Lambda handlers, wired to the domain modules.

Handlers stay thin: parse, call the domain, return. Typed errors become HTTP answers in one
place (:func:`_api`). The pipeline's Lambda steps are ``@app.lambda_function`` handlers named
in ``template.yaml`` (``Handler: app.<name>``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chalice import Chalice, Response

from control_plane import agent_events, builds, status, steps
from control_plane.api_models import CreateUserRequest, CreateUserResponse, parse_body
from control_plane.errors import ApiError
from control_plane.observability import logger

app = Chalice(app_name="tmux-builder-api")


def _json(body: dict[str, Any], status_code: int = 200) -> Response:
    return Response(
        body=body, status_code=status_code, headers={"Content-Type": "application/json"}
    )


def _api(view: Callable[..., Response]) -> Callable[..., Response]:
    """The one place where typed errors become HTTP answers; anything else is a logged 500."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Response:
        try:
            return view(*args, **kwargs)
        except ApiError as exc:
            return _json(exc.body(), exc.status_code)
        except Exception:
            logger.exception("unhandled error in route", extra={"route": view.__name__})
            return _json(
                {"error": "InternalError", "message": "internal error; it was logged"}, 500
            )

    return wrapped


def _body(model: type[Any]) -> Any:
    request = app.current_request
    if request is None:  # only when a route is called outside an HTTP request
        raise RuntimeError("no current request")
    return parse_body(model, request.raw_body, request.headers.get("content-type"))


# ------------------------------------------------------------------------------- routes


@app.route("/api/create-user", methods=["POST"], content_types=["application/json"], cors=True)
@_api
def create_user_route() -> Response:
    started = builds.start_build(_body(CreateUserRequest))
    body = CreateUserResponse(
        execution_id=started.execution_id,
        user_id=started.user_id,
        session_id=started.session_id,
        is_new_user=started.is_new_user,
    )
    return _json(body.model_dump(), 202)


@app.route("/api/status/{execution_id}", methods=["GET"], cors=True)
@_api
def status_route(execution_id: str) -> Response:
    return _json(status.execution_status(execution_id).model_dump(mode="json"))


@app.route("/api/health", methods=["GET"], cors=True)
def health_route() -> Response:
    return _json({"ok": True})


# ------------------------------------------------------------------------ pipeline steps


@app.lambda_function(name="create_user")
def create_user(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return steps.run_step(event, steps.create_user)


@app.lambda_function(name="create_session")
def create_session(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return steps.run_step(event, steps.create_session)


@app.lambda_function(name="gather_requirements")
def gather_requirements(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return steps.run_step(event, steps.gather_requirements)


@app.lambda_function(name="health_check")
def health_check(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return steps.run_step(event, steps.health_check)


@app.lambda_function(name="record_success")
def record_success(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return steps.record_success(event)


@app.lambda_function(name="record_failure")
def record_failure(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return steps.record_failure(event)


@app.lambda_function(name="apply_agent_events")
def apply_agent_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS batch from the agent events queue; failed records are reported, not the batch."""
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(  # type: ignore[return-value]  # a TypedDict, i.e. a dict
        event=event,
        record_handler=lambda record: agent_events.apply(record.body),
        processor=processor,
        context=context,
    )
