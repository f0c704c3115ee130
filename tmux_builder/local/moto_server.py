"""moto in server mode: the one-machine stand-in for every AWS service the system uses.

It runs in this process (a thread) rather than as a separate program because Lambda functions
are executed in-process by :mod:`tmux_builder.local.lambda_runtime`, which replaces a method of
moto's Lambda model; that only works where moto's backends live.

Two settings make Step Functions behave like AWS, both applied by :meth:`MotoServer.start`:

- ``MOTO_PORT``: the ASL interpreter's service integrations (``lambda:invoke``,
  ``sqs:sendMessage``, ``dynamodb:*``) call ``http://localhost:$MOTO_PORT``, and
  ``ThreadedMotoServer`` does not set it.
- ``POST /moto-api/config {"stepfunctions": {"execute_state_machine": true}}``: without it moto
  returns a canned history and runs nothing.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import threading
import urllib.request
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

__all__ = ["MotoServer", "MotoServerError", "aws_client", "default_region"]

logger = logging.getLogger(__name__)

# Credentials used when the environment has none: moto accepts any key in its default mode.
_FALLBACK_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class MotoServerError(RuntimeError):
    """moto did not start or did not accept its configuration."""


def default_region() -> str:
    """The region boto3 would use, defaulting to us-east-1 like the template's deployment."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def aws_client(service: str, endpoint_url: str, region: str | None = None) -> Any:
    """A boto3 client for the embedded stack, with the process's credentials.

    Why a helper: the embedded stack's own callers (provisioning, the site server) must reach
    moto even when the environment has no AWS credentials at all, and without touching
    ``AWS_ENDPOINT_URL``, which the stack sets for the code it hosts. One session per region is
    shared because a new session re-reads botocore's endpoint data (~0.1 s per client).
    """
    session = _session(region or default_region())
    with _session_lock:
        credentials = {} if session.get_credentials() is not None else _FALLBACK_CREDENTIALS
        return session.client(service, endpoint_url=endpoint_url, **credentials)


_session_lock = threading.Lock()


@functools.lru_cache(maxsize=8)
def _session(region: str) -> Any:
    import boto3

    return boto3.session.Session(region_name=region)


def _check_port_free(host: str, port: int) -> None:
    """Fail early: ThreadedMotoServer.start() waits forever if its thread cannot bind."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise MotoServerError(f"cannot listen on {host}:{port}: {exc}") from exc


class MotoServer:
    """A ``ThreadedMotoServer`` on 127.0.0.1 configured to execute state machines.

    ``port=0`` picks a free port. Note that moto's backends are process globals: stopping and
    starting a server in the same process keeps every resource.
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self._host = host
        self._requested_port = port
        self._server: ThreadedMotoServer | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise MotoServerError("moto server is not running")
        return self._port

    @property
    def endpoint_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def start(self) -> MotoServer:
        """Start serving, set ``MOTO_PORT`` and turn on the Step Functions interpreter."""
        if self._server is not None:
            return self
        from moto.server import ThreadedMotoServer

        # moto's request handler logs every request through werkzeug at INFO.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        _check_port_free(self._host, self._requested_port)
        server = ThreadedMotoServer(ip_address=self._host, port=self._requested_port, verbose=False)
        server.start()
        self._server = server
        self._port = server.get_host_and_port()[1]
        os.environ["MOTO_PORT"] = str(self._port)
        self._configure({"stepfunctions": {"execute_state_machine": True}})
        logger.debug("moto server listening at %s", self.endpoint_url)
        return self

    def stop(self) -> None:
        """Stop serving (the backends' state stays in the process)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.stop()
        self._port = None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _configure(self, config: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/config",
            data=json.dumps(config).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10):  # noqa: S310
                pass
        except OSError as exc:
            raise MotoServerError(f"moto rejected its configuration: {exc}") from exc
        # GET /moto-api/config does not echo the stepfunctions section (moto 5.2.5), so check
        # the setting where the interpreter reads it: this process.
        from moto.core.config import default_user_config

        current = cast("dict[str, dict[str, Any]]", default_user_config)
        for service, settings in config.items():
            applied = current.get(service) or {}
            for key, value in settings.items():
                if applied.get(key) != value:
                    raise MotoServerError(f"moto did not apply {service}.{key}={value!r}")
