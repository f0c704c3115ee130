"""Run Lambda functions in-process: the embedded stack's Lambda service.

moto can store Lambda functions but runs them only in Docker, and there is none. Every invoke
path in moto (the Invoke API, Step Functions ``lambda:invoke`` tasks, SQS event-source mappings)
ends in ``moto.awslambda.models.LambdaFunction._invoke_lambda(self, event)`` returning
``(payload_json, errored, logs)``. :func:`install` replaces that method, in the process that
hosts moto, with one that imports the function's real handler and calls it.

Which code a function runs: its ``Handler`` (``"app.create_user"``) names a module and an
attribute inside the package its ``CodeUri`` (``"control_plane/"``) stands for. The CodeUri is
stored on the function as the tag :data:`CODE_URI_TAG` by the provisioner, and ``install`` is
given the mapping from CodeUri to importable package (``{"control_plane/": "control_plane"}``).

Environment: handlers run with the process environment, not the function's own variables
(``os.environ`` is shared by every thread, so per-invoke variables would leak between
concurrent invocations). The embedded stack therefore sets ``os.environ`` from
``StackOutputs.environment`` (the template's ``Globals``) and ``AWS_ENDPOINT_URL`` before it
serves anything. Timeouts are not enforced on a handler (a thread cannot be killed); Step
Functions' own ``TimeoutSeconds`` still applies to the task.

Errors come back the way the Python Lambda runtime reports them, ``{"errorType":
"<exception class name>", "errorMessage", "stackTrace"}`` with ``errored=True``, so a state
machine's ``Retry``/``Catch`` match on the handler's exception class name.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "CODE_URI_TAG",
    "LambdaContext",
    "RuntimeNotInstalled",
    "install",
    "installed",
    "normalize_code_uri",
    "uninstall",
]

logger = logging.getLogger(__name__)

CODE_URI_TAG = "tmux-builder:code-uri"

_lock = threading.Lock()
_original_invoke: Callable[..., tuple[str, bool, str]] | None = None
_code_packages: dict[str, str] = {}


class RuntimeNotInstalled(RuntimeError):
    """``uninstall`` was called while the in-process runtime was not installed."""


class HandlerNotFound(Exception):
    """The function's CodeUri has no package mapping, or its Handler does not import.

    Its class name is reported to callers as ``Runtime.ImportModuleError``, as AWS does.
    """


@dataclass
class LambdaContext:
    """The ``context`` argument of a Python Lambda handler (the attributes handlers use)."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    timeout_seconds: float = 3.0
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if not self._deadline:
            self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def normalize_code_uri(code_uri: str) -> str:
    """``"./control_plane/"`` and ``"control_plane"`` name the same folder."""
    normalized = code_uri.strip().removeprefix("./").rstrip("/")
    return normalized or "."


def install(code_packages: Mapping[str, str]) -> None:
    """Make every moto Lambda invoke in this process run the real handler.

    ``code_packages`` maps a CodeUri (as written in the template) to the importable package
    holding that code; ``""`` as a package means the handler module is top-level. Calling it
    again replaces the mapping.
    """
    global _original_invoke
    from moto.awslambda.models import LambdaFunction

    with _lock:
        _code_packages.clear()
        _code_packages.update(
            {normalize_code_uri(uri): package for uri, package in code_packages.items()}
        )
        if _original_invoke is None:
            _original_invoke = LambdaFunction._invoke_lambda
            LambdaFunction._invoke_lambda = _invoke_in_process  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    """Give moto its own ``_invoke_lambda`` back."""
    global _original_invoke
    from moto.awslambda.models import LambdaFunction

    with _lock:
        if _original_invoke is None:
            raise RuntimeNotInstalled("the in-process Lambda runtime is not installed")
        LambdaFunction._invoke_lambda = _original_invoke  # type: ignore[method-assign]
        _original_invoke = None
        _code_packages.clear()


def installed() -> bool:
    return _original_invoke is not None


def _invoke_in_process(function: Any, event: Any = None) -> tuple[str, bool, str]:
    """Replacement for ``LambdaFunction._invoke_lambda``: run the handler, report like AWS."""
    context = _context_for(function)
    log_lines = [f"START RequestId: {context.aws_request_id} Version: {context.function_version}"]
    started = time.monotonic()
    try:
        handler = _load_handler(function)
        result = handler(_event_dict(event), context)
        payload, errored = json.dumps(result), False
    except HandlerNotFound as exc:
        payload, errored = (
            _error_payload(exc, context, error_type="Runtime.ImportModuleError"),
            True,
        )
    except Exception as exc:  # noqa: BLE001 - every handler failure is reported, as Lambda does
        payload, errored = _error_payload(exc, context), True
    if errored:
        error = json.loads(payload)
        log_lines.append(f"[ERROR] {error['errorType']}: {error['errorMessage']}")
        log_lines.extend(error["stackTrace"])
    elapsed_ms = (time.monotonic() - started) * 1000
    log_lines.append(f"END RequestId: {context.aws_request_id}")
    log_lines.append(
        f"REPORT RequestId: {context.aws_request_id}\tDuration: {elapsed_ms:.2f} ms"
        f"\tMemory Size: {context.memory_limit_in_mb} MB"
    )
    logs = "\n".join(log_lines)
    _save_logs(function, logs)
    return payload, errored, logs


def _event_dict(event: Any) -> Any:
    """moto passes the parsed body, or the string "{}" for an empty one, or None."""
    if event is None:
        return {}
    if isinstance(event, str | bytes):
        try:
            return json.loads(event or "{}")
        except json.JSONDecodeError:
            return event
    return event


def _context_for(function: Any) -> LambdaContext:
    request_id = str(uuid.uuid4())
    today = datetime.now(UTC)
    # moto numbers the unpublished function 1; Lambda calls it $LATEST.
    version = str(function.version)
    version = "$LATEST" if version in {"1", "$LATEST"} else version
    return LambdaContext(
        function_name=function.function_name,
        function_version=version,
        invoked_function_arn=function.function_arn,
        memory_limit_in_mb=int(function.memory_size),
        aws_request_id=request_id,
        log_group_name=f"/aws/lambda/{function.function_name}",
        log_stream_name=f"{today:%Y/%m/%d}/[$LATEST]{request_id.replace('-', '')}",
        timeout_seconds=float(function.timeout),
    )


def _load_handler(function: Any) -> Callable[[Any, Any], Any]:
    code_uri = normalize_code_uri(str((function.tags or {}).get(CODE_URI_TAG, "")))
    with _lock:
        packages = dict(_code_packages)
    if code_uri in packages:
        package = packages[code_uri]
    elif code_uri == "." and len(packages) == 1:
        # A function created outside the template (no tag): the only code there is.
        (package,) = packages.values()
    else:
        raise HandlerNotFound(f"no package is mapped for CodeUri {code_uri!r}")
    module_name, _, attribute = str(function.handler or "").rpartition(".")
    if not module_name:
        raise HandlerNotFound(f"Bad handler {function.handler!r}: expected module.function")
    qualified = f"{package}.{module_name}" if package else module_name
    try:
        module = importlib.import_module(qualified)
    except ImportError as exc:
        raise HandlerNotFound(f"Unable to import module {qualified!r}: {exc}") from exc
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise HandlerNotFound(f"Handler {attribute!r} missing on module {qualified!r}")
    return handler  # type: ignore[no-any-return]


def _error_payload(exc: BaseException, context: LambdaContext, error_type: str = "") -> str:
    stack = traceback.format_list(traceback.extract_tb(exc.__traceback__))
    return json.dumps(
        {
            "errorMessage": str(exc),
            "errorType": error_type or type(exc).__name__,
            "requestId": context.aws_request_id,
            "stackTrace": [line.rstrip("\n") for line in stack],
        }
    )


def _save_logs(function: Any, logs: str) -> None:
    """Keep moto's behaviour of writing each invocation to CloudWatch Logs."""
    try:
        function.logs_backend.ensure_log_group(function.logs_group_name)
        function.save_logs(logs)
    except Exception:  # noqa: BLE001 - logging must never fail an invocation
        logger.debug("could not store logs for %s", function.function_name, exc_info=True)
