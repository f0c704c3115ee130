"""How a route is declared: who may call it, what it takes, what it answers.

Every route is an :func:`endpoint`: the decorator authenticates the caller (unless the route
is public), parses and validates the body into the request model, calls the view with
``principal`` and ``body``, and turns the answer (a pydantic model) or a typed error into an
HTTP response. It also records the route so that :func:`openapi_document` describes exactly
the routes that exist, from the same models.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chalice import Response
from pydantic import BaseModel

from control_plane import auth
from control_plane.api_models import ErrorBody, parse_body
from control_plane.errors import ApiError
from control_plane.observability import logger


class Access(StrEnum):
    PUBLIC = "public"
    ADMIN = "admin"
    # The admin, or a client; the view checks that the data is the client's own.
    USER = "user"


@dataclass(frozen=True)
class EndpointSpec:
    path: str
    method: str
    access: Access
    summary: str
    request: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    query: type[BaseModel] | None = None
    body_required: bool = True


REGISTRY: list[EndpointSpec] = []
_PATH_PARAM = re.compile(r"{(\w+)}")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=body,
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _error_response(exc: ApiError) -> Response:
    headers = exc.headers()
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="tmux-builder"'
    return json_response(exc.body(), exc.status_code, headers)


def endpoint(
    router: Any,
    path: str,
    method: str,
    *,
    access: Access,
    summary: str,
    request: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    query: type[BaseModel] | None = None,
    body_required: bool = True,
) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    """Declare a route on a Chalice app or blueprint (see the module docstring)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Response]:
        spec = EndpointSpec(
            path, method, access, summary, request, response, status, query, body_required
        )
        REGISTRY.append(spec)

        @functools.wraps(view)
        def handle(**path_params: str) -> Response:
            current = router.current_request
            try:
                kwargs: dict[str, Any] = dict(path_params)
                if access is not Access.PUBLIC:
                    principal = auth.authenticate(current.headers)
                    if access is Access.ADMIN:
                        auth.require_admin(principal)
                    kwargs["principal"] = principal
                if request is not None:
                    if not body_required and not current.raw_body:
                        kwargs["body"] = request()
                    else:
                        kwargs["body"] = parse_body(
                            request, current.raw_body, current.headers.get("content-type")
                        )
                if query is not None:
                    kwargs["query"] = parse_query(query, current.query_params)
                result = view(**kwargs)
            except ApiError as exc:
                return _error_response(exc)
            except Exception:
                logger.exception("unhandled error in route", extra={"route": f"{method} {path}"})
                return json_response(
                    {"error": "InternalError", "message": "internal error; it was logged"}, 500
                )
            if isinstance(result, Response):
                return result
            if isinstance(result, BaseModel):
                return json_response(result.model_dump(mode="json"), status)
            return json_response(result, status)

        router.route(path, methods=[method], cors=True)(handle)
        return handle

    return decorate


def parse_query(model: type[BaseModel], params: dict[str, str] | None) -> Any:
    from pydantic import ValidationError

    from control_plane.errors import FieldProblem, InvalidRequest

    try:
        return model.model_validate(dict(params or {}))
    except ValidationError as exc:
        problems = [
            FieldProblem(".".join(str(p) for p in e["loc"]) or "query", e["msg"])
            for e in exc.errors()
        ]
        raise InvalidRequest(
            "invalid query parameter(s): " + ", ".join(sorted({p.field for p in problems})),
            problems,
        ) from exc


# --------------------------------------------------------------------------- OpenAPI


def openapi_document(title: str = "tmux-builder API", version: str = "1") -> dict[str, Any]:
    """OpenAPI 3.1 for every registered route, with schemas from the same pydantic models."""
    from pydantic.json_schema import models_json_schema

    models: set[type[BaseModel]] = {ErrorBody}
    for spec in REGISTRY:
        models.update(m for m in (spec.request, spec.response) if m is not None)
    ordered = sorted(models, key=lambda m: m.__name__)
    _, definitions = models_json_schema(
        [(m, "validation") for m in ordered], ref_template="#/components/schemas/{model}"
    )
    paths: dict[str, dict[str, Any]] = {}
    for spec in REGISTRY:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(spec: EndpointSpec) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": _ref(ErrorBody)}}}
    responses: dict[str, Any] = {
        str(spec.status): {
            "description": "success",
            **(
                {"content": {"application/json": {"schema": _ref(spec.response)}}}
                if spec.response
                else {}
            ),
        },
        "400": {"description": "invalid input; the fields are named", **error},
        "404": {"description": "not found", **error},
    }
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "maxLength": 128},
        }
        for name in _PATH_PARAM.findall(spec.path)
    ]
    if spec.query is not None:
        for name, info in spec.query.model_fields.items():
            schema = spec.query.model_json_schema()["properties"][name]
            parameters.append(
                {"name": name, "in": "query", "required": info.is_required(), "schema": schema}
            )
    slug = re.sub(r"[^a-z0-9]+", "_", spec.path.lower()).strip("_")
    operation: dict[str, Any] = {
        "summary": spec.summary,
        "operationId": f"{spec.method.lower()}_{slug}",
        "parameters": parameters,
        "responses": responses,
    }
    if spec.access is not Access.PUBLIC:
        operation["security"] = [{"bearer": []}]
        responses["401"] = {"description": "missing or invalid credential", **error}
        responses["403"] = {"description": "not allowed for this caller", **error}
    if spec.request is not None:
        operation["requestBody"] = {
            "required": spec.body_required,
            "content": {"application/json": {"schema": _ref(spec.request)}},
        }
    return operation
