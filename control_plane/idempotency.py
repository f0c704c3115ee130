"""Create calls that are safe to repeat: a replay answers the same and starts nothing new.

``POST /api/create-user`` and ``POST /api/admin/sessions`` run their domain call through
:func:`once`. The call is identified by the ``Idempotency-Key`` header when the caller sends
one, otherwise by the request body itself, so a client that retries after a timeout (with or
without a key) within :data:`WINDOW_SECONDS` gets the first answer back and one execution runs.

Powertools idempotency keeps the record in the one table (``pk = IDEMPOTENCY``, ``sk =
{operation}#{hash}``), marks it in progress while the call runs (a concurrent replay gets 409),
deletes it when the call fails (so a retry really retries), and validates that a reused key
comes with the same body. Only ids are stored: tokens are minted fresh for every answer, so no
credential is written to the table.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from control_plane.errors import Conflict, FieldProblem, InvalidRequest, UpstreamUnavailable
from tmux_builder import aws, keys
from tmux_builder.settings import cloud

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

HEADER = "Idempotency-Key"
KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
WINDOW_SECONDS = 600

T = TypeVar("T")

_layers: dict[tuple[str, str, int], DynamoDBPersistenceLayer] = {}
_lock = threading.Lock()


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The caller's ``Idempotency-Key``, validated; ``None`` when there is none."""
    value = next((v for k, v in headers.items() if k.lower() == HEADER.lower()), None)
    if value is None:
        return None
    if not KEY_RE.match(value):
        message = "must be 1 to 128 characters of A-Z, a-z, 0-9, '_', '.', ':' or '-'"
        raise InvalidRequest(f"invalid {HEADER} header", [FieldProblem(HEADER, message)])
    return value


def _layer(operation: str) -> DynamoDBPersistenceLayer:
    """One persistence layer per operation, table and client.

    Powertools layers keep per-function state (``configure`` sets the key prefix), so one
    shared across operations would mix their keys under concurrent requests.
    """
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    client = aws.client("dynamodb")
    cache_key = (operation, cloud().table, id(client))
    with _lock:
        layer = _layers.get(cache_key)
        if layer is None:
            layer = DynamoDBPersistenceLayer(
                table_name=cloud().table,
                key_attr=keys.PK,
                sort_key_attr=keys.SK,
                static_pk_value=keys.IDEMPOTENCY_PK,
                expiry_attr=keys.EXPIRES_AT,
                boto3_client=client,
            )
            _layers[cache_key] = layer
        return layer


def once(
    operation: str,
    *,
    key: str | None,
    payload: dict[str, Any],
    result_type: type[T],
    work: Callable[[], T],
    lambda_context: Any = None,
) -> T:
    """``work()``'s result, or the result of the same earlier call.

    ``payload`` is the request (JSON-able) that identifies the call when there is no ``key``;
    ``result_type`` is a dataclass, stored as a dict.

    Raises :class:`Conflict` while the same call is still running, or when a key is reused with
    a different body.
    """
    from aws_lambda_powertools.utilities.idempotency import (
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )
    from aws_lambda_powertools.utilities.idempotency.serialization.dataclass import (
        DataclassSerializer,
    )

    body = json.loads(json.dumps(payload, sort_keys=True))
    identity = f"key:{key}" if key else "body:" + json.dumps(body, sort_keys=True)
    config = IdempotencyConfig(
        event_key_jmespath="id",
        payload_validation_jmespath="body",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=WINDOW_SECONDS,
        lambda_context=lambda_context,
    )

    @idempotent_function(
        data_keyword_argument="call",
        persistence_store=_layer(operation),
        config=config,
        output_serializer=DataclassSerializer(model=result_type),
        key_prefix=operation,
    )
    def run(call: dict[str, Any]) -> T:
        return work()

    try:
        result: T = run(call={"id": identity, "body": body})
    except IdempotencyAlreadyInProgressError as exc:
        raise Conflict(
            "the same request is still being processed; try again in a moment",
            [FieldProblem(HEADER, "a request with this key is in progress")],
        ) from exc
    except IdempotencyValidationError as exc:
        raise Conflict(
            f"this {HEADER} was used with a different request body",
            [FieldProblem(HEADER, "already used with a different body")],
        ) from exc
    except IdempotencyPersistenceLayerError as exc:
        raise UpstreamUnavailable("the request could not be recorded; try again") from exc
    return result
