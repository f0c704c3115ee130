"""The OpenAPI document served at ``/api/openapi.json``: valid OpenAPI 3.1, and it describes every
route the Chalice app really has (blueprints included), with the same methods and parameters.

Routes declared with ``web.endpoint`` are documented by construction; this test catches a route
added another way (a bare ``@app.route`` or ``@bp.route``) and a document that drifts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from control_plane.app import app
from control_plane.web import REGISTRY, Access

# Utility routes that are not part of the API contract (no models, no credentials).
UNDOCUMENTED: set[tuple[str, str]] = set()
_PARAM = re.compile(r"{(\w+)}")


@pytest.fixture(scope="module")
def document(admin_token: str) -> dict[str, Any]:
    with Client(app) as client:
        assert client.http.get("/api/openapi.json").status_code == 401
        response = client.http.get(
            "/api/openapi.json", headers={"Authorization": f"Bearer {admin_token}"}
        )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    parsed: dict[str, Any] = json.loads(response.body)
    return parsed


def _app_routes() -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, entries in app.routes.items() for method in entries}


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method.upper(), operation


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document, cls=OpenAPIV31SpecValidator)
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    dangling = {
        ref
        for ref in _refs(document)
        if not ref.startswith("#/components/schemas/")
        or ref.removeprefix("#/components/schemas/") not in schemas
    }
    assert not dangling


def test_every_route_of_the_app_is_documented_with_its_method(document: dict[str, Any]) -> None:
    routes = _app_routes()
    documented = {(path, method) for path, method, _ in _operations(document)}
    assert routes >= UNDOCUMENTED, "the whitelist names routes that no longer exist"
    assert sorted(routes - UNDOCUMENTED - documented) == [], "routes missing from the document"
    assert sorted(documented - routes) == [], "documented operations the app does not serve"


def test_path_parameters_match_the_route_templates(document: dict[str, Any]) -> None:
    for path, method, operation in _operations(document):
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert declared == set(_PARAM.findall(path)), (method, path)


def test_operation_ids_are_unique(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(ids) == len(set(ids))


def test_protected_operations_declare_the_bearer_credential(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    for spec in REGISTRY:
        operation = document["paths"][spec.path][spec.method.lower()]
        if spec.access is Access.PUBLIC:
            assert "security" not in operation, (spec.method, spec.path)
            continue
        assert operation["security"], (spec.method, spec.path)
        assert all(name in schemes for item in operation["security"] for name in item)
        assert "401" in operation["responses"], (spec.method, spec.path)


def test_request_bodies_are_documented_for_routes_that_parse_one(
    document: dict[str, Any],
) -> None:
    for spec in REGISTRY:
        operation = document["paths"][spec.path][spec.method.lower()]
        assert ("requestBody" in operation) == (spec.request is not None), (spec.method, spec.path)
        assert str(spec.status) in operation["responses"], (spec.method, spec.path)
