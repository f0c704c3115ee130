"""The control plane's Chalice app: routes and Lambda handlers, wired to the domain modules.

Handlers stay thin: parse, call the domain, return. Routes are declared with
:func:`control_plane.web.endpoint`, which authenticates, validates, and turns typed errors into
HTTP answers in one place. The pipeline's Lambda steps are ``@app.lambda_function`` handlers named
in ``template.yaml`` (``Handler: app.<name>``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalice import Chalice, ConvertToMiddleware, Response
from chalice.app import WebsocketEvent

from control_plane import (
    agent_events,
    builds,
    idempotency,
    links,
    observability,
    proxy_routing,
    realtime,
    status,
    steps,
)
from control_plane.api_models import CreateUserRequest, CreateUserResponse, StatusResponse
from control_plane.auth import Principal
from control_plane.errors import ApiError
from control_plane.routes.admin import bp as admin_routes
from control_plane.routes.chat import bp as chat_routes
from control_plane.routes.client import bp as client_routes
from control_plane.routes.leases import bp as lease_routes
from control_plane.routes.onboarding import bp as onboarding_routes
from control_plane.routes.pipeline import bp as pipeline_routes
from control_plane.routes.uploads import uploads_bp
from control_plane.web import Access, endpoint, json_response, openapi_document

app = Chalice(app_name="tmux-builder-api")
# Powertools on every handler (routes, steps, events): log context, X-Ray, EMF metrics.
app.register_middleware(ConvertToMiddleware(observability.inject_lambda_context))
app.register_middleware(ConvertToMiddleware(observability.capture_lambda_handler))
app.register_middleware(ConvertToMiddleware(observability.log_metrics))
app.register_middleware(observability.count_failures)


@endpoint(
    app,
    "/api/create-user",
    "POST",
    access=Access.ADMIN,
    summary="Create (or find) the user by e-mail, open a session and start its build",
    request=CreateUserRequest,
    response=CreateUserResponse,
    status=202,
)
def create_user_route(principal: Principal, body: CreateUserRequest) -> CreateUserResponse:
    request = app.current_request
    started = builds.start_build_once(
        body,
        key=idempotency.key_from_headers(request.headers if request else {}),
        lambda_context=app.lambda_context,
    )
    token, url = links.client_link(started.user_id)
    return CreateUserResponse(
        execution_id=started.execution_id,
        user_id=started.user_id,
        session_id=started.session_id,
        is_new_user=started.is_new_user,
        client_token=token,
        client_url=url,
    )


@endpoint(
    app,
    "/api/status/{execution_id}",
    "GET",
    access=Access.USER,
    summary="One build: overall status, each step, the live URL, screenshot and E2E result",
    response=StatusResponse,
)
def status_route(principal: Principal, execution_id: str) -> StatusResponse:
    return status.execution_status(execution_id, principal)


app.register_blueprint(pipeline_routes)
app.register_blueprint(uploads_bp)
app.register_blueprint(admin_routes)
app.register_blueprint(client_routes)
app.register_blueprint(onboarding_routes)
app.register_blueprint(chat_routes)
app.register_blueprint(lease_routes)


@endpoint(
    app,
    "/api/openapi.json",
    "GET",
    access=Access.USER,
    summary="This API's OpenAPI document (any valid credential)",
)
def openapi_route(principal: Principal) -> Response:
    return json_response(openapi_document())


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


def _each_sqs_record(
    event: dict[str, Any], context: Any, handle: Callable[[str], object]
) -> dict[str, Any]:
    """An SQS batch, one message body at a time; failed records are reported, not the batch."""
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(  # type: ignore[return-value]  # a TypedDict, i.e. a dict
        event=event,
        record_handler=lambda record: handle(record.body),
        processor=processor,
        context=context,
    )


@app.lambda_function(name="apply_agent_events")
def apply_agent_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS batch from the agent events queue."""
    return _each_sqs_record(event, context, agent_events.apply)


@app.lambda_function(name="continue_teardown")
def continue_teardown(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS batch from the teardown queue: each message is one later teardown pass."""
    from control_plane import teardown_followup

    return _each_sqs_record(event, context, teardown_followup.run)


def api_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The REST API's Lambda entry: API Gateway has one ``/api/{proxy+}`` resource in front of
    all routes; the event is routed to the matching Chalice route (see ``proxy_routing``)."""
    return app(proxy_routing.route_event(app, event), context)  # type: ignore[no-any-return]


# ------------------------------------------------------------------------ live updates
# API Gateway's WebSocket API (and the embedded stack's local gateway) calls these with its
# $connect / $default / $disconnect events; frames go out through the management API
# (control_plane.realtime_publish). The wire protocol: tmux_builder/realtime_events.py.
app.experimental_feature_flags.update(["WEBSOCKETS"])


@endpoint(
    app,
    "/api/realtime",
    "GET",
    access=Access.USER,
    summary="Where to open the WebSocket for live updates (append ?token=<your token>)",
    response=realtime.RealtimeEndpoint,
)
def realtime_route(principal: Principal) -> realtime.RealtimeEndpoint:
    return realtime.endpoint()


def _ws_refusal(exc: ApiError) -> dict[str, Any]:
    return {"statusCode": exc.status_code, "body": json.dumps(exc.body())}


@app.on_ws_connect()
def ws_connect(event: WebsocketEvent) -> dict[str, Any]:
    raw = event.to_dict()
    identity = raw["requestContext"].get("identity") or {}
    try:
        realtime.connect(
            event.connection_id,
            raw.get("queryStringParameters"),
            raw.get("headers"),
            source_ip=identity.get("sourceIp"),
        )
    except ApiError as exc:  # refused: API Gateway closes the socket with this status
        return _ws_refusal(exc)
    return {"statusCode": 200}


@app.on_ws_message()
def ws_message(event: WebsocketEvent) -> dict[str, Any]:
    """The answer is the route response: API Gateway sends ``body`` back as one frame."""
    answer = realtime.handle_frame(event.connection_id, event.to_dict().get("body"))
    return {"statusCode": 200, "body": answer.model_dump_json(exclude_none=True)}


@app.on_ws_disconnect()
def ws_disconnect(event: WebsocketEvent) -> dict[str, Any]:
    realtime.disconnect(event.connection_id)
    return {"statusCode": 200}


_WS_ROUTES = {"$connect": ws_connect, "$disconnect": ws_disconnect}


def websocket_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The WebSocket API's Lambda entry: one function behind all of its routes."""
    route = _WS_ROUTES.get(event.get("requestContext", {}).get("routeKey", ""), ws_message)
    return route(event, context)  # type: ignore[no-any-return]
