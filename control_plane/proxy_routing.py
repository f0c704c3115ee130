"""API Gateway in front of Chalice with one ``/api/{proxy+}`` resource.

Chalice dispatches on ``requestContext.resourcePath`` (the route template, e.g.
``/api/status/{execution_id}``). When API Gateway has a single greedy proxy resource, every
event says ``/api/{proxy+}``; this module finds the Chalice route the concrete path matches
and rewrites the event as a per-route API would have sent it (resource path and path
parameters), so the same routes work behind either kind of API.
"""

from __future__ import annotations

from typing import Any

PROXY_RESOURCE = "/api/{proxy+}"


def route_event(app: Any, event: dict[str, Any]) -> dict[str, Any]:
    context = event.get("requestContext") or {}
    if context.get("resourcePath") != PROXY_RESOURCE and event.get("resource") != PROXY_RESOURCE:
        return event
    from chalice.local import RouteMatcher

    path = event.get("path") or context.get("path") or ""
    try:
        match = RouteMatcher(list(app.routes)).match_route(path)
    except ValueError:
        return event  # no such route: Chalice answers it (as API Gateway would)
    routed = dict(event)
    routed["resource"] = match.route
    routed["requestContext"] = {**context, "resourcePath": match.route}
    routed["pathParameters"] = match.captured or None
    return routed
