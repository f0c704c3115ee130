"""The embedded stack's front door: API Gateway plus the portal's CloudFront, on one port.

One threaded HTTP server dispatches by path prefix:

- ``/api/...`` goes to the Chalice app through ``chalice.local.LocalGateway``, which turns the
  request into an API Gateway proxy event (route matching, CORS preflight, authorizers) exactly
  as ``chalice local`` does, without its single-purpose server. The path is passed unchanged,
  so the app's routes are declared with their ``/api`` prefix.
- anything else is the built portal (``frontend/dist``): files with their content types, and
  ``index.html`` for extension-less paths so the single-page app's client routes load.

- ``/{stage}`` (``/ws``), once :meth:`LocalApiServer.serve_websocket` was called, is the
  WebSocket API (:class:`LocalWebSocketApi`): connections and their frames become API
  Gateway-shaped events for the same Chalice handlers, and ``/ws/@connections/{id}`` is the
  management API that ``post_to_connection`` calls. werkzeug hands over the raw client socket
  (``environ["werkzeug.socket"]``); wsproto speaks the WebSocket protocol on it.

More handlers are added with :meth:`LocalApiServer.mount`: a WSGI app for a path prefix.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import logging
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

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
    "ConnectionGone",
    "LocalApiServer",
    "LocalWebSocketApi",
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
        self._websocket: LocalWebSocketApi | None = None

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

    def serve_websocket(self, handler: WebSocketHandler, stage: str = "ws") -> LocalWebSocketApi:
        """Serve the WebSocket API at ``/{stage}`` with ``handler`` (the Lambda entry)."""
        self._websocket = LocalWebSocketApi(handler, stage=stage)
        self.mount(f"/{stage}", self._websocket)
        return self._websocket

    @property
    def websocket_url(self) -> str:
        """``ws://host:port/{stage}``: what the portal connects to (and, as http, the
        management endpoint)."""
        if self._websocket is None:
            raise RuntimeError("the gateway serves no WebSocket API (see serve_websocket)")
        return f"ws://{self._host}:{self.port}/{self._websocket.stage}"

    def start(self) -> LocalApiServer:
        if self._server is None:
            self._server = BackgroundServer(
                self._dispatch, self._host, self._requested_port, name="local-api-gateway"
            )
            logger.debug("gateway listening at %s", self.url)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if self._websocket is not None:
            self._websocket.close_all()
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


# ----------------------------------------------------------------------------- WebSocket

WebSocketHandler = Callable[[dict[str, Any], Any], Any]
_MANAGEMENT_MAX_BYTES = 128 * 1024
_CONNECTIONS_PATH = "/@connections/"


class ConnectionGone(Exception):
    """The connection is not open (never was, or closed): API Gateway's ``GoneException``."""


class _Connection:
    """One open WebSocket. Every wsproto call and socket write happens under ``lock``: frames
    come from the connection's own thread (answers, pongs) and from ``@connections`` requests
    on other threads at once."""

    def __init__(
        self, connection_id: str, sock: socket.socket, ws: Any, source_ip: str, user_agent: str
    ) -> None:
        self.connection_id = connection_id
        self.sock = sock
        self.ws = ws
        self.source_ip = source_ip
        self.user_agent = user_agent
        self.lock = threading.Lock()
        self.connected_at = time.time()
        self.last_active_at = self.connected_at
        self.closed = False

    def send_text(self, text: str) -> None:
        from wsproto.events import TextMessage

        self._send(TextMessage(data=text))

    def close(self, code: int = 1000, reason: str = "") -> None:
        from wsproto.events import CloseConnection

        with contextlib.suppress(ConnectionGone):
            self._send(CloseConnection(code=code, reason=reason), closing=True)

    def _send(self, event: Any, *, closing: bool = False) -> None:
        from wsproto.utilities import LocalProtocolError

        with self.lock:
            if self.closed:
                raise ConnectionGone(self.connection_id)
            try:
                self.sock.sendall(self.ws.send(event))
            except (OSError, LocalProtocolError) as exc:
                self.closed = True
                raise ConnectionGone(self.connection_id) from exc
            if closing:
                self.closed = True

    def receive(self, data: bytes) -> list[Any]:
        """Feed bytes in; the protocol events out (control frames answered here)."""
        from wsproto.events import CloseConnection, Ping

        with self.lock:
            self.ws.receive_data(data or None)
            events = list(self.ws.events())
            for event in events:
                if isinstance(event, Ping | CloseConnection) and not self.closed:
                    with contextlib.suppress(OSError):
                        self.sock.sendall(self.ws.send(event.response()))
                    self.closed = self.closed or isinstance(event, CloseConnection)
        self.last_active_at = time.time()
        return events


class LocalWebSocketApi:
    """API Gateway's WebSocket API on the local gateway, for the same Chalice handlers.

    ``GET /{stage}`` with an upgrade is a connection: ``$connect`` gets the request (query
    string, headers) as API Gateway passes it, and a non-2xx answer refuses the upgrade with
    that status. Each text frame is a ``$default`` event (one route, as the template routes
    every action to ``$default``); the answer's ``body`` goes back as a frame, as a route
    response does. The end of the socket is ``$disconnect``. Connections close after
    ``idle_timeout`` without a frame and after ``max_lifetime``, as API Gateway's do
    (10 minutes, 2 hours).

    ``POST /{stage}/@connections/{id}`` (and ``GET``, ``DELETE``) is the management API that
    boto3's ``apigatewaymanagementapi`` client calls with ``endpoint_url`` pointing here;
    410 ``GoneException`` for a connection that is not open. It trusts its callers, like every
    other part of the embedded stack: bind the gateway to loopback.
    """

    def __init__(
        self,
        handler: WebSocketHandler,
        *,
        stage: str = "ws",
        api_id: str = "local",
        idle_timeout: float = 600.0,
        max_lifetime: float = 7200.0,
        max_frame_bytes: int = 32 * 1024,
    ) -> None:
        self._handler = handler
        self.stage = stage
        self._api_id = api_id
        self._idle_timeout = idle_timeout
        self._max_lifetime = max_lifetime
        self._max_frame_bytes = max_frame_bytes
        self._connections: dict[str, _Connection] = {}
        self._lock = threading.Lock()

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._connections)

    def post(self, connection_id: str, text: str) -> None:
        """Send a frame to an open connection; :class:`ConnectionGone` otherwise."""
        self._find(connection_id).send_text(text)

    def close_all(self) -> None:
        with self._lock:
            connections = list(self._connections.values())
        for connection in connections:
            connection.close(1001, "going away")
            with contextlib.suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)

    def _find(self, connection_id: str) -> _Connection:
        with self._lock:
            connection = self._connections.get(connection_id)
        if connection is None or connection.closed:
            raise ConnectionGone(connection_id)
        return connection

    # ------------------------------------------------------------------------ WSGI

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        rest = environ.get("PATH_INFO", "/")[len(self.stage) + 1 :]
        if rest.startswith(_CONNECTIONS_PATH):
            connection_id = unquote(rest[len(_CONNECTIONS_PATH) :])
            return self._management(Request(environ), connection_id)(environ, start_response)
        if rest not in ("", "/"):
            return Response("Not Found", status=404)(environ, start_response)
        return self._connect(environ, start_response)

    def _management(self, request: Request, connection_id: str) -> Response:
        try:
            connection = self._find(connection_id)
            if request.method == "POST":
                data = request.get_data()
                if len(data) > _MANAGEMENT_MAX_BYTES:
                    return _aws_error(413, "PayloadTooLargeException", "the data is too large")
                connection.send_text(data.decode("utf-8", errors="replace"))
                return Response(b"", status=200, content_type="application/json")
            if request.method == "GET":
                return Response(
                    json.dumps(
                        {
                            "connectedAt": _iso(connection.connected_at),
                            "lastActiveAt": _iso(connection.last_active_at),
                            "identity": {
                                "sourceIp": connection.source_ip,
                                "userAgent": connection.user_agent,
                            },
                        }
                    ),
                    content_type="application/json",
                )
            if request.method == "DELETE":
                connection.close(1000, "")
                with contextlib.suppress(OSError):
                    connection.sock.shutdown(socket.SHUT_RDWR)
                return Response(b"", status=204)
        except ConnectionGone:
            return _aws_error(410, "GoneException", f"connection {connection_id} is gone")
        return Response("Method Not Allowed", status=405, headers={"Allow": "GET, POST, DELETE"})

    # ---------------------------------------------------------------- connections

    def _connect(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        if request.headers.get("Upgrade", "").lower() != "websocket":
            response = Response("this is a WebSocket endpoint", status=426)
            response.headers["Upgrade"] = "websocket"
            return response(environ, start_response)
        connection_id = base64.b64encode(secrets.token_bytes(12)).decode().replace("/", "_")
        source_ip = request.remote_addr or "127.0.0.1"
        user_agent = request.headers.get("User-Agent", "")
        headers = dict(request.headers.items())
        event = {
            "headers": headers,
            "multiValueHeaders": {k: request.headers.getlist(k) for k in headers},
            "queryStringParameters": dict(request.args) or None,
            "multiValueQueryStringParameters": request.args.to_dict(flat=False) or None,
            "requestContext": self._context(
                connection_id, "$connect", "CONNECT", request.host, source_ip, user_agent
            ),
            "isBase64Encoded": False,
        }
        answer = self._invoke(event)
        status = int(answer.get("statusCode", 200)) if isinstance(answer, dict) else 200
        if not 200 <= status < 300:
            body = answer.get("body") if isinstance(answer, dict) else None
            response = Response(body or "", status=status, content_type="application/json")
            return response(environ, start_response)
        connection = self._accept(environ, connection_id, source_ip, user_agent)
        with self._lock:
            self._connections[connection_id] = connection
        try:
            self._serve(connection, request.host)
        finally:
            with self._lock:
                self._connections.pop(connection_id, None)
            connection.close(1000, "")
            with contextlib.suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)
            self._invoke(
                {
                    "headers": headers,
                    "requestContext": {
                        **self._context(
                            connection_id,
                            "$disconnect",
                            "DISCONNECT",
                            request.host,
                            source_ip,
                            user_agent,
                        ),
                        "disconnectStatusCode": 1000,
                        "disconnectReason": "",
                    },
                    "isBase64Encoded": False,
                }
            )
        # The socket is shut down: werkzeug's attempt to write an HTTP response after it fails
        # as a dropped connection, which it ignores (no response may follow a WebSocket).
        start_response("101 Switching Protocols", [])
        return []

    def _accept(
        self, environ: WSGIEnvironment, connection_id: str, source_ip: str, user_agent: str
    ) -> _Connection:
        """The upgrade: wsproto reads the handshake (werkzeug already parsed it from the socket,
        so it is rebuilt from the environ) and writes the 101 answer on the raw socket."""
        from wsproto import ConnectionType, WSConnection
        from wsproto.events import AcceptConnection

        ws = WSConnection(ConnectionType.SERVER)
        lines = [f"GET {environ.get('PATH_INFO', '/')} HTTP/1.1"]
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                lines.append(f"{key[5:].replace('_', '-').title()}: {value}")
        ws.receive_data(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        list(ws.events())  # the Request event
        sock: socket.socket = environ["werkzeug.socket"]
        sock.sendall(ws.send(AcceptConnection()))
        return _Connection(connection_id, sock, ws, source_ip, user_agent)

    def _serve(self, connection: _Connection, host: str) -> None:
        """Read frames until the client closes, idles out or reaches the lifetime limit."""
        from wsproto.events import BytesMessage, CloseConnection, TextMessage

        deadline = connection.connected_at + self._max_lifetime
        parts: list[str | bytes] = []
        size = 0
        while not connection.closed:
            remaining = deadline - time.time()
            if remaining <= 0:
                connection.close(1001, "the connection reached its maximum lifetime")
                return
            connection.sock.settimeout(min(self._idle_timeout, remaining))
            try:
                data = connection.sock.recv(65536)
            except TimeoutError:
                if time.time() < deadline:
                    connection.close(1001, "idle timeout")
                continue
            except OSError:
                return
            if not data:
                return
            for event in connection.receive(data):
                if isinstance(event, CloseConnection):
                    return
                if not isinstance(event, TextMessage | BytesMessage):
                    continue
                data_part = event.data
                parts.append(bytes(data_part) if isinstance(data_part, bytearray) else data_part)
                size += len(event.data)
                if size > self._max_frame_bytes:
                    connection.close(1009, "message too big")
                    return
                if event.message_finished:
                    self._message(connection, host, parts)
                    parts, size = [], 0

    def _message(self, connection: _Connection, host: str, parts: list[str | bytes]) -> None:
        binary = isinstance(parts[0], bytes)
        if binary:
            body = base64.b64encode(b"".join(p for p in parts if isinstance(p, bytes))).decode()
        else:
            body = "".join(p for p in parts if isinstance(p, str))
        context = self._context(
            connection.connection_id,
            "$default",
            "MESSAGE",
            host,
            connection.source_ip,
            connection.user_agent,
        )
        context["messageId"] = secrets.token_urlsafe(12)
        answer = self._invoke(
            {"requestContext": context, "body": body, "isBase64Encoded": binary},
            connection_id=connection.connection_id,
        )
        if isinstance(answer, dict) and answer.get("body"):
            with contextlib.suppress(ConnectionGone):
                connection.send_text(str(answer["body"]))

    def _context(
        self,
        connection_id: str,
        route_key: str,
        event_type: str,
        host: str,
        source_ip: str,
        user_agent: str,
    ) -> dict[str, Any]:
        now = time.time()
        return {
            "routeKey": route_key,
            "eventType": event_type,
            "messageDirection": "IN",
            "connectionId": connection_id,
            "connectedAt": int(now * 1000),
            "requestTimeEpoch": int(now * 1000),
            "requestId": str(uuid.uuid4()),
            "extendedRequestId": str(uuid.uuid4()),
            "domainName": host,
            "stage": self.stage,
            "apiId": self._api_id,
            "identity": {"sourceIp": source_ip, "userAgent": user_agent},
        }

    def _invoke(self, event: dict[str, Any], connection_id: str | None = None) -> Any:
        """Run the handler as Lambda would; a failure is API Gateway's 500 (logged here)."""
        from tmux_builder.local.lambda_runtime import LambdaContext

        request_id = event["requestContext"]["requestId"]
        context = LambdaContext(
            function_name="websocket",
            function_version="$LATEST",
            invoked_function_arn="arn:aws:lambda:local:000000000000:function:websocket",
            memory_limit_in_mb=512,
            aws_request_id=request_id,
            log_group_name="/aws/lambda/websocket",
            log_stream_name="local",
            timeout_seconds=60.0,
        )
        try:
            return self._handler(event, context)
        except Exception:
            logger.exception("websocket handler failed (%s)", event["requestContext"]["routeKey"])
            internal = {"message": "Internal server error", "requestId": request_id}
            if connection_id:
                internal["connectionId"] = connection_id
            return {"statusCode": 500, "body": json.dumps(internal)}


def _aws_error(status: int, code: str, message: str) -> Response:
    response = Response(json.dumps({"message": message}), status=status)
    response.headers["Content-Type"] = "application/json"
    response.headers["x-amzn-ErrorType"] = code
    return response


def _iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
