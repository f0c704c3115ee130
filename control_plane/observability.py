"""Powertools Logger, Metrics and Tracer for the control plane, and what keeps secrets out of logs.

- **Logs** are one JSON object a line (Powertools ``Logger``). Every line goes through
  :func:`redact` before it is written: bearer tokens, JWTs, AWS keys and session tokens, secret
  values under secret-sounding keys (``authorization``, ``*token*``, ``*secret*`` ...) and query
  parameters, and e-mail addresses (masked to ``a***@example.com``). Step handlers append
  ``execution_id``/``user_id``/``step``; the Lambda context keys come from the middleware.
- **Metrics** are CloudWatch EMF lines on stdout. Domain counters go through :func:`count`, which
  writes a self-contained ``single_metric`` (its own dimensions; safe when the embedded stack runs
  handlers on many threads). The namespace comes from ``POWERTOOLS_METRICS_NAMESPACE`` (the
  template's Globals), else :data:`DEFAULT_NAMESPACE`.
- **Tracing** (X-Ray) only where Powertools says it is on (in Lambda, not disabled by
  ``POWERTOOLS_TRACE_DISABLED``). The ``Tracer`` is made on first use: building it imports the
  X-Ray SDK and botocore (~0.2 s), which local runs and tests never pay.

The decorators are applied to every handler of the Chalice app as middleware (Powertools
decorators cannot decorate Chalice routes directly), in ``app.py``::

    app.register_middleware(ConvertToMiddleware(observability.inject_lambda_context))
    app.register_middleware(ConvertToMiddleware(observability.capture_lambda_handler))
    app.register_middleware(ConvertToMiddleware(observability.log_metrics))
    app.register_middleware(observability.count_failures)

The service name differs from the Chalice app name on purpose: when they are equal every log
line is printed twice (see the field notes).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

from tmux_builder.naming import mask_email

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = "tmux-builder-control-plane"
DEFAULT_NAMESPACE = "TmuxBuilder"
REDACTED = "[REDACTED]"

Handler = Callable[[Any, Any], Any]

# ------------------------------------------------------------------------------ redaction

_SECRET_WORDS = (
    r"authorization|token|secret|password|passwd|credential|api[-_]?key|cookie|signature"
)
_SENSITIVE_KEY = re.compile(_SECRET_WORDS + r"|private[-_]?key", re.IGNORECASE)
_B64 = r"A-Za-z0-9/+="
# (pattern, replacement) applied in order to every string of a log line.
_TEXT_RULES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # "token": "abc" / 'secret': 'abc' inside a JSON or repr string (e.g. a raw request body).
    (
        re.compile(
            r"""(?P<k>(?P<q>["'])[\w.-]*(?:""" + _SECRET_WORDS + r""")[\w.-]*(?P=q)\s*:\s*)"""
            r"""(?P<v>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""",
            re.IGNORECASE,
        ),
        lambda m: f"{m['k']}{m['q']}{REDACTED}{m['q']}",
    ),
    # Authorization schemes: "Bearer xyz", "Basic xyz".
    (re.compile(r"\b(Bearer|Basic)\s+[^\s\"',;}\]]+", re.IGNORECASE), rf"\1 {REDACTED}"),
    # key=value in query strings and headers-as-text (X-Amz-Signature=..., ?token=...).
    (
        re.compile(r"(?P<k>[\w.-]*(?:" + _SECRET_WORDS + r")[\w.-]*=)[^&\s\"'<>#]+", re.I),
        rf"\g<k>{REDACTED}",
    ),
    # JSON Web Tokens (header.payload.signature, base64url).
    (re.compile(r"eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*"), REDACTED),
    # AWS access key ids (long-lived AKIA, temporary ASIA).
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), REDACTED),
    # Session tokens and other long base64 blobs.
    (re.compile(rf"(?<![{_B64}_-])[{_B64}]{{100,}}"), REDACTED),
    # AWS secret access keys: 40 base64 characters with upper, lower and digits (not a SHA-1).
    (
        re.compile(rf"(?<![{_B64}_-])[{_B64}]{{40}}(?![{_B64}_-])"),
        lambda m: REDACTED if _looks_random(m.group(0)) else m.group(0),
    ),
    # E-mail addresses, also URL-encoded.
    (
        re.compile(
            r"(?<![\w.%+-])(?P<local>[\w.%+-]+)(?:@|%40)"
            r"(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})",
            re.IGNORECASE,
        ),
        lambda m: mask_email(f"{m['local']}@{m['domain']}"),
    ),
)


def _looks_random(text: str) -> bool:
    return (
        any(c.isupper() for c in text)
        and any(c.islower() for c in text)
        and any(c.isdigit() for c in text)
    )


_known_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Redact this exact value wherever it appears (for secrets with no recognisable shape,
    such as the admin token, in case one ends up in an exception message)."""
    if len(value) >= 8:
        _known_secrets.add(value)


def redact_text(text: str) -> str:
    """``text`` with every secret-looking part replaced and e-mail addresses masked."""
    for secret in tuple(_known_secrets):  # a snapshot: another thread may register one
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _TEXT_RULES:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any, key: object = None) -> Any:
    """A copy of a log record (dicts, lists, strings) that is safe to write.

    A value under a secret-sounding key is replaced whole (numbers and booleans are kept, so
    ``input_tokens: 12`` stays readable); every other string goes through :func:`redact_text`.
    """
    if isinstance(key, str) and _SENSITIVE_KEY.search(key):
        if value is None or isinstance(value, bool | int | float):
            return value
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    # Anything else (an exception object in ``stack_trace``) is written as its str() anyway.
    return redact_text(str(value))


# Keys that are the same for every invocation in the process; all others are per invocation.
_PROCESS_KEYS = frozenset({"service", "sampling_rate"})


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, with :func:`redact` applied to the whole record, and the keys
    of an invocation (Lambda context, correlation id, ``execution_id``/``user_id``...) kept per
    thread.

    Lambda runs one invocation at a time per process, but the embedded stack runs routes and
    steps of many builds on many threads of one process: with Powertools' shared key set, one
    step's ``execution_id`` would be written on another invocation's lines. ``append_keys`` and
    ``clear_state`` (what ``Logger.append_keys`` and ``inject_lambda_context`` call) therefore
    use Powertools' thread-safe key set; ``service`` and ``sampling_rate`` stay shared.
    """

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        return super().serialize(log=redact(log))

    def append_keys(self, **additional_keys: Any) -> None:
        shared = {k: v for k, v in additional_keys.items() if k in _PROCESS_KEYS}
        if shared:
            super().append_keys(**shared)
        own = {k: v for k, v in additional_keys.items() if k not in _PROCESS_KEYS}
        if own:
            self.thread_safe_append_keys(**own)

    def remove_keys(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        super().remove_keys(keys)
        self.thread_safe_remove_keys(keys)

    def get_current_keys(self) -> dict[str, Any]:
        return {**self.log_format, **self.thread_safe_get_current_keys()}

    def clear_state(self) -> None:
        fresh: dict[str, Any] = dict.fromkeys(self.log_record_order)
        fresh.update(self.keys_combined)
        fresh.update({k: v for k, v in self.log_format.items() if k in _PROCESS_KEYS})
        self.log_format = fresh  # one assignment: other threads never see a half-cleared set
        self.thread_safe_clear_keys()


class RedactingFilter(logging.Filter):
    """For plain ``logging`` handlers (not Powertools): redacts the rendered message in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage())
        record.args = None
        return True


class _StdoutHandler(logging.Handler):
    """Writes to the ``sys.stdout`` of the moment (Lambda's never changes; tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stdout
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # noqa: BLE001 - logging never breaks the caller
            self.handleError(record)


logger = Logger(
    service=SERVICE,
    log_uncaught_exceptions=True,
    logger_formatter=RedactingFormatter(),
    logger_handler=_StdoutHandler(),
)
# The redacted line on stdout is the only copy: no root handler (the Lambda runtime's, a local
# ``basicConfig``, pytest's caplog) ever receives the raw record.
logging.getLogger(SERVICE).propagate = False

# ------------------------------------------------------------------------------ metrics


class _EMFProvider(AmazonCloudWatchEMFProvider):
    """CloudWatch EMF, except that an empty flush is silent.

    Domain counters are single metrics (written at once), so the shared set is usually empty at
    the end of an invocation, and Powertools warns about that on every flush.
    """

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if self.metric_set or raise_on_empty_metrics:
            super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)


metrics = Metrics(
    provider=_EMFProvider(
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE,
        service=SERVICE,
    )
)


def count(name: str, value: float = 1, **dimensions: str) -> None:
    """Emit one counter now (an EMF line), with its own dimensions; never raises."""
    try:
        with single_metric(
            name=name, unit=MetricUnit.Count, value=value, namespace=metrics.namespace
        ) as metric:
            metric.add_dimension(name="service", value=SERVICE)
            for dimension, dimension_value in dimensions.items():
                metric.add_dimension(name=dimension, value=str(dimension_value))
    except Exception:  # noqa: BLE001 - a metric must never fail a request or a step
        logger.warning("metric not emitted", extra={"metric": name}, exc_info=True)


# ------------------------------------------------------------------------------ tracing

_tracer: Tracer | None = None
_tracer_lock = threading.Lock()


def tracing_enabled() -> bool:
    """Powertools' own rule: in Lambda, unless POWERTOOLS_TRACE_DISABLED (or SAM/Chalice local)."""
    from aws_lambda_powertools.tracing import Tracer

    return not Tracer._is_tracer_disabled()


def tracer() -> Tracer:
    """The X-Ray tracer, made on first use (its import is the costliest part of a cold start)."""
    global _tracer
    with _tracer_lock:
        if _tracer is None:
            from aws_lambda_powertools import Tracer

            _tracer = Tracer(service=SERVICE)
        return _tracer


# ------------------------------------------------------------------------------ middleware
# (event, context) decorators for ``chalice.ConvertToMiddleware``: Chalice applies them to the
# handler of each invocation (HTTP routes, ``@app.lambda_function`` steps, event handlers).


def inject_lambda_context(handler: Handler) -> Handler:
    """Lambda context keys and a fresh key set on every log line of the invocation."""
    return logger.inject_lambda_context(  # type: ignore[no-any-return]
        handler, clear_state=True, correlation_id_path=correlation_paths.API_GATEWAY_REST
    )


def capture_lambda_handler(handler: Handler) -> Handler:
    """An X-Ray segment per invocation where tracing is on; the handler itself elsewhere.

    Responses are not recorded (they carry client tokens); errors are.
    """
    if not tracing_enabled():
        return handler
    return tracer().capture_lambda_handler(handler, capture_response=False)  # type: ignore[no-any-return]


def log_metrics(handler: Handler) -> Handler:
    """Flush metrics at the end of the invocation and count cold starts."""
    return metrics.log_metrics(handler, capture_cold_start_metric=True)  # type: ignore[no-any-return]


def count_failures(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """A native Chalice middleware: ``StepFailed`` (by step) and ``ApiServerErrors`` counters."""
    try:
        response = get_response(event)
    except Exception:
        payload = getattr(event, "event", None)
        step = payload.get("step") if isinstance(payload, dict) else None
        if step:
            count("StepFailed", step=str(step))
        else:
            count("HandlerFailed")
        raise
    if int(getattr(response, "status_code", 0) or 0) >= 500:
        count("ApiServerErrors")
    return response
