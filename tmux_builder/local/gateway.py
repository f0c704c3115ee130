"""The embedded stack's front door: API Gateway plus the portal's CloudFront, on one port.

One threaded HTTP server dispatches by path prefix:

- ``/api/...`` goes to the Chalice app through ``chalice.local.LocalGateway``, which turns the
  request into an API Gateway proxy event (route matching, CORS preflight, authorizers) exactly
  as ``chalice local`` does, without its single-purpose server. The path is passed unchanged,
  so the app's routes are declared with their ``/api`` prefix.
- anything else is the built portal (``frontend/dist``): files with their content types, and
  ``index.html`` for extension-less paths so the single-page app's client routes load.

More handlers (the WebSocket endpoint) are added with :meth:`LocalApiServer.mount`: a WSGI app
for a path prefix. werkzeug puts the raw client socket in ``environ["werkzeug.socket"]``, which
is what a WebSocket upgrade needs.
"""

from __future__ import annotations

import base64
import functools
import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.security import safe_join
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from chalice import Chalice

from tmux_builder.content_types import content_type_for

__all__ = [
    "BackgroundServer",
    "LocalApiServer",
    "QuietRequestHandler",
]

logger = logging.getLogger(__name__)


class QuietRequestHandler(WSGIRequestHandler):
    """werkzeug's handler, logging requests at DEBUG instead of printing each one."""

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's name
        logger.debug("%s - %s", self.address_string(), message % args)


class BackgroundServer:
    """A threaded werkzeug server for one WSGI app, run in a daemon thread.

    Shared by the gateway and the site server's listeners: ``port=0`` picks a free port, and
    ``stop`` closes the socket so the same port can be bound again at once.
    """

    def __init__(self, app: WSGIApplication, host: str, port: int, name: str) -> None:
        listener = _listening_socket(host, port)
        try:
            self._server: BaseWSGIServer = make_server(
                host,
                port,
                app,
                threaded=True,
                request_handler=QuietRequestHandler,
                fd=listener.fileno(),
            )
        finally:
            listener.close()  # the server holds its own duplicate of the descriptor
        self._host = host
        # A short poll interval makes stop() quick (werkzeug's default is 0.5 s).
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=name,
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.port)

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _listening_socket(host: str, port: int) -> socket.socket:
    """Bind here so a taken port raises OSError: werkzeug's own bind calls sys.exit(1)."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(128)
    except OSError:
        listener.close()
        raise
    return listener


_PORTAL_MISSING = """<!doctype html>
<html><head><meta charset="utf-8"><title>Portal not built</title></head>
<body style="font-family: sans-serif; max-width: 40rem; margin: 4rem auto">
<h1>The portal is not built yet</h1>
<p>No <code>index.html</code> in <code>{folder}</code>. Build it with
<code>npm --prefix frontend ci &amp;&amp; npm --prefix frontend run build</code>, then reload.</p>
<p>The API is served at <code>/api/</code> meanwhile.</p>
</body></html>
"""


class LocalApiServer:
    """API Gateway (REST, through the Chalice app) and the portal, on one local port."""

    def __init__(
        self,
        app: Chalice,
        portal_dir: Path | None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_prefix: str = "/api",
        stage: str = "api",
        lambda_timeout: int = 60,
        lambda_memory_size: int = 512,
    ) -> None:
        self._app = _thread_safe(app)
        self._portal_dir = portal_dir
        self._host = host
        self._requested_port = port
        self._stage = stage
        self._gateway = _source_ip_gateway_class()(
            self._app,
            _chalice_config(self._app, stage, lambda_timeout, lambda_memory_size),
        )
        self._mounts: dict[str, WSGIApplication] = {api_prefix.rstrip("/"): self._api}
        self._server: BackgroundServer | None = None

    # ------------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the gateway is not running")
        return self._server.port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def mount(self, prefix: str, app: WSGIApplication) -> None:
        """Serve ``prefix`` and everything below it with ``app`` (longest prefix wins)."""
        self._mounts[prefix.rstrip("/")] = app

    def start(self) -> LocalApiServer:
        if self._server is None:
            self._server = BackgroundServer(
                self._dispatch, self._host, self._requested_port, name="local-api-gateway"
            )
            logger.debug("gateway listening at %s", self.url)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> LocalApiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------- dispatch

    def _dispatch(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        for prefix in sorted(self._mounts, key=len, reverse=True):
            if path == prefix or path.startswith(prefix + "/"):
                return self._mounts[prefix](environ, start_response)
        return self._portal(environ, start_response)

    def _api(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        from chalice.local import LocalGatewayException

        request = Request(environ)
        path = request.path
        if request.query_string:
            path += "?" + request.query_string.decode("latin-1")
        headers = {key: value for key, value in request.headers.items()}
        body = request.get_data() or None
        try:
            result = self._gateway.handle(
                method=request.method,
                path=path,
                headers=headers,
                body=body,
                source_ip=request.remote_addr or "127.0.0.1",
                stage=self._stage,
            )
        except LocalGatewayException as exc:
            response = Response(exc.body or b"", status=exc.CODE, headers=exc.headers)
            response.headers.setdefault("Content-Type", "application/json")
            return response(environ, start_response)
        return _proxy_response(result)(environ, start_response)

    def _portal(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        folder = self._portal_dir
        if folder is None or not (folder / "index.html").is_file():
            page = _PORTAL_MISSING.format(folder=folder or "(no portal folder configured)")
            response = Response(page, status=503, content_type="text/html; charset=utf-8")
            response.headers["Retry-After"] = "10"
            return response(environ, start_response)
        if request.method not in {"GET", "HEAD"}:
            response = Response("Method Not Allowed", status=405, headers={"Allow": "GET, HEAD"})
            return response(environ, start_response)
        relative = request.path.lstrip("/")
        if relative == "" or relative.endswith("/"):
            relative += "index.html"
        candidate = safe_join(str(folder), relative)
        if candidate is None or not Path(candidate).is_file():
            if "." in relative.rsplit("/", 1)[-1]:
                return Response("Not Found", status=404, content_type="text/plain")(
                    environ, start_response
                )
            candidate = str(folder / "index.html")  # a client-side route of the SPA
        response = send_file(
            candidate, environ, mimetype=content_type_for(candidate), conditional=True, etag=True
        )
        if candidate.endswith("index.html"):
            # The shell must be revalidated; hashed assets may be cached by the browser.
            response.headers["Cache-Control"] = "no-cache"
        return response(environ, start_response)


# ----------------------------------------------------------------------------- chalice


def _thread_safe(app: Chalice) -> Chalice:
    """Give the app a thread-local ``current_request``, as ``chalice local`` does.

    A threaded server runs views concurrently, and ``Chalice.current_request`` is a plain
    attribute otherwise. This changes the object's class in place, like
    ``chalice.local.create_local_server``.
    """
    from chalice.local import CustomLocalChalice, LocalChalice

    if not isinstance(app, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice
    return app


def _chalice_config(app: Chalice, stage: str, timeout: int, memory_size: int) -> Any:
    from chalice.config import Config

    return Config.create(
        chalice_stage=stage,
        app_name=app.app_name,
        lambda_timeout=timeout,
        lambda_memory_size=memory_size,
    )


@functools.cache
def _source_ip_gateway_class() -> type:
    """Defined on first use: chalice is imported only when an API server is made."""
    from chalice.local import LocalGateway

    class SourceIpGateway(LocalGateway):  # type: ignore[misc]
        """LocalGateway with the event fields it leaves out: the caller's IP, stage, ids.

        ``LambdaEventConverter`` hard-codes ``sourceIp`` 127.0.0.1; the real client address
        matters for rate limits and audit lines, so the event is completed after conversion.
        """

        def __init__(self, app: Chalice, config: Any) -> None:
            super().__init__(app, config)
            self._request = threading.local()

        def handle(
            self,
            *,
            method: str,
            path: str,
            headers: dict[str, str],
            body: bytes | None,
            source_ip: str,
            stage: str,
        ) -> dict[str, Any]:
            self._request.details = (source_ip, stage, headers.get("Host", ""))
            try:
                return self.handle_request(method, path, headers, body)  # type: ignore[no-any-return]
            finally:
                del self._request.details

        def _generate_lambda_event(
            self, method: str, path: str, headers: dict[str, str], body: bytes | None
        ) -> dict[str, Any]:
            event: dict[str, Any] = super()._generate_lambda_event(method, path, headers, body)
            source_ip, stage, host = self._request.details
            context = event["requestContext"]
            context["identity"]["sourceIp"] = source_ip
            context.update(
                stage=stage,
                requestId=str(uuid.uuid4()),
                domainName=host,
                requestTimeEpoch=int(time.time() * 1000),
                protocol="HTTP/1.1",
            )
            event.update(httpMethod=method, path=context["path"], resource=context["resourcePath"])
            return event

    return SourceIpGateway


def _proxy_response(result: dict[str, Any]) -> Response:
    """An API Gateway proxy result (statusCode, headers, multiValueHeaders, body) as HTTP."""
    body = result.get("body")
    if body is None:
        payload = b""
    elif result.get("isBase64Encoded"):
        payload = base64.b64decode(body)
    else:
        payload = body if isinstance(body, bytes) else str(body).encode("utf-8")
    response = Response(payload, status=int(result.get("statusCode", 200)))
    response.headers.remove("Content-Type")
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        response.headers.remove(name)
        for value in values:
            response.headers.add(name, str(value))
    if "Content-Type" not in response.headers:
        response.headers["Content-Type"] = "application/json"
    return response
