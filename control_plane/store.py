"""The one DynamoDB table: typed get/put/update/query on top of the low-level client.

The low-level client is used (not the Table resource) because it is thread-safe, and the
local gateway serves requests from many threads. Keys come from :mod:`tmux_builder.keys`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tmux_builder import aws, keys
from tmux_builder.settings import cloud

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer


@functools.cache
def _serializer() -> TypeSerializer:
    """Made on first use: importing boto3 costs ~0.1 s of a cold start (see bench/)."""
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer()


@functools.cache
def _deserializer() -> TypeDeserializer:
    from boto3.dynamodb.types import TypeDeserializer

    return TypeDeserializer()


class ConditionFailed(Exception):
    """A conditional write lost: the item was not in the expected state."""


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer().serialize(_to_dynamo(v)) for k, v in item.items() if v is not None}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _from_dynamo(_deserializer().deserialize(v)) for k, v in item.items()}


def _client() -> Any:
    return aws.client("dynamodb")


def _table() -> str:
    return cloud().table


def get(key: Mapping[str, str], consistent: bool = True) -> dict[str, Any] | None:
    found = _client().get_item(TableName=_table(), Key=serialize(key), ConsistentRead=consistent)
    item = found.get("Item")
    return deserialize(item) if item else None


def put(
    item: Mapping[str, Any],
    *,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> None:
    kwargs: dict[str, Any] = {"TableName": _table(), "Item": serialize(item)}
    if condition:
        kwargs["ConditionExpression"] = condition
    if names:
        kwargs["ExpressionAttributeNames"] = dict(names)
    if values:
        kwargs["ExpressionAttributeValues"] = serialize(values)
    _write(_client().put_item, kwargs)


def delete(key: Mapping[str, str]) -> None:
    """Remove an item; nothing happens when there is none."""
    _write(_client().delete_item, {"TableName": _table(), "Key": serialize(key)})


def put_new(item: Mapping[str, Any]) -> None:
    """Create an item; :class:`ConditionFailed` if one with that key exists."""
    put(item, condition="attribute_not_exists(#pk)", names={"#pk": keys.PK})


def update(
    key: Mapping[str, str],
    fields: Mapping[str, Any],
    *,
    if_missing: Mapping[str, Any] | None = None,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> None:
    """Set ``fields`` on the item (creating it unless ``condition`` says otherwise).

    ``if_missing`` fields are set only where the item has no value yet (first start time...).
    """
    fields = {k: v for k, v in fields.items() if v is not None}
    all_names = {f"#f{i}": name for i, name in enumerate(fields)}
    all_values = {f":v{i}": value for i, value in enumerate(fields.values())}
    set_parts = [f"#f{i} = :v{i}" for i in range(len(fields))]
    for i, (name, value) in enumerate((if_missing or {}).items()):
        all_names[f"#m{i}"] = name
        all_values[f":m{i}"] = value
        set_parts.append(f"#m{i} = if_not_exists(#m{i}, :m{i})")
    sets = ", ".join(set_parts)
    all_names.update(names or {})
    all_values.update(values or {})
    kwargs: dict[str, Any] = {
        "TableName": _table(),
        "Key": serialize(key),
        "UpdateExpression": f"SET {sets}",
        "ExpressionAttributeNames": all_names,
    }
    serialized = serialize(all_values)
    if serialized:
        kwargs["ExpressionAttributeValues"] = serialized
    if condition:
        kwargs["ConditionExpression"] = condition
    _write(_client().update_item, kwargs)


def _write(call: Any, kwargs: dict[str, Any]) -> None:
    from botocore.exceptions import ClientError

    try:
        call(**kwargs)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            raise ConditionFailed(str(exc)) from exc
        raise


def query(
    pk: str,
    *,
    sk_prefix: str | None = None,
    sk_from: str | None = None,
    newest_first: bool = False,
    limit: int | None = None,
    index: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Items of one partition, optionally by sort-key prefix or lower bound, paginated."""
    pk_name, sk_name = (keys.GSI1_PK, keys.GSI1_SK) if index else (keys.PK, keys.SK)
    condition = "#pk = :pk"
    names = {"#pk": pk_name}
    values: dict[str, Any] = {":pk": pk}
    if sk_prefix is not None:
        condition += " AND begins_with(#sk, :sk)"
        names["#sk"] = sk_name
        values[":sk"] = sk_prefix
    elif sk_from is not None:
        condition += " AND #sk >= :sk"
        names["#sk"] = sk_name
        values[":sk"] = sk_from
    kwargs: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": serialize(values),
        "ScanIndexForward": not newest_first,
    }
    if index:
        kwargs["IndexName"] = index
    returned = 0
    while True:
        if limit is not None:
            kwargs["Limit"] = limit - returned
        page = _client().query(**kwargs)
        for raw in page.get("Items", []):
            yield deserialize(raw)
            returned += 1
            if limit is not None and returned >= limit:
                return
        last = page.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last
