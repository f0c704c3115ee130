"""The JSON control endpoint of a local stand-in (the site server, the instance host).

Each stand-in is driven over HTTP by the code that would talk to the real service (the agent's
:mod:`agent.edge`), on a port of its own: a few werkzeug routes, JSON in and out, and the
stand-in's typed errors answered with their HTTP status. This class is that endpoint; the
stand-in gives it its routes, a function answering a matched route, and which of its
exceptions map to which status.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from tmux_builder.local.gateway import BackgroundServer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

Responder = Callable[[str, Mapping[str, str], Request], Response]


def json_response(document: Any, status: int = 200) -> Response:
    return Response(json.dumps(document), status=status, content_type="application/json")


class ControlApi:
    """Routes -> ``respond(endpoint, arguments, request)``, served on ``start(host, port)``.

    ``error_status`` turns an exception ``respond`` raised into the status to answer (None:
    not the stand-in's own error, so it propagates as a 500 from werkzeug).
    """

    def __init__(
        self,
        name: str,
        rules: Iterable[Rule],
        respond: Responder,
        error_status: Callable[[Exception], int | None],
    ) -> None:
        self.name = name
        self._routes = Map(list(rules))
        self._respond = respond
        self._error_status = error_status
        self._server: BackgroundServer | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._server.url

    def start(self, host: str, port: int) -> None:
        if self._server is None:
            self._server = BackgroundServer(self, host, port, name=self.name)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, arguments = self._routes.bind_to_environ(environ).match()
            response = self._respond(str(endpoint), arguments, request)
        except HTTPException as exc:
            response = json_response({"error": exc.description}, exc.code or 500)
        except Exception as exc:
            status = self._error_status(exc)
            if status is None:
                raise
            response = json_response({"error": str(exc)}, status)
        return response(environ, start_response)
