"""DynamoDB errors in domain terms, and the requests the repositories share on the one client.

PynamoDB has no ReturnValuesOnConditionCheckFailure on single-item writes, and its errors drop
the item DynamoDB returns with a failed condition; that item lets one request tell 404 from 412.
So conditional updates are one small botocore UpdateItem beside the model, on the process's
botocore client, with the expressions PynamoDB builds. Reads and conditional writes of plain
items (`items.py`) go through `get_item` and `condition_held`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

from chalicelib.errors import ServiceUnavailable

THROTTLED: Final = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
# Every request asks what it cost, as PynamoDB does on every call it makes (make bench counts it).
CAPACITY: Final = "TOTAL"
# A transaction reports these per item in its CancellationReasons.
TRANSACTION_THROTTLED: Final = frozenset(
    {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)


def error_code(exc: BaseException) -> str | None:
    """The DynamoDB error code behind a botocore or PynamoDB exception, or None for transport errors.

    PynamoDB's own `cause_response_code` raises AttributeError when the cause is a timeout
    (botocore's ReadTimeoutError carries `response = None`), turning a 503 into a 500.
    """
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        response = getattr(getattr(exc, "cause", None), "response", None)
    if not isinstance(response, dict):
        return None
    code = (response.get("Error") or {}).get("Code")
    return code if isinstance(code, str) else None


@contextmanager
def storage_errors() -> Iterator[None]:
    """Throttling and unreachable storage (after the SDK's retries) become ServiceUnavailable."""
    from botocore.exceptions import ClientError, ReadTimeoutError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    try:
        yield
    except (ClientError, BotoConnectionError, ReadTimeoutError) as exc:
        if isinstance(exc, (BotoConnectionError, ReadTimeoutError)) or error_code(exc) in THROTTLED:
            raise ServiceUnavailable("the data store is busy; retry shortly") from exc
        raise
    except Exception as exc:
        # PynamoDB wraps the SDK's errors in its own; only a path that imported it can raise one
        # (the plain-item paths never load it: a cold start does not pay for the import).
        pynamodb = sys.modules.get("pynamodb.exceptions")
        if pynamodb is None or not isinstance(exc, pynamodb.PynamoDBException):
            raise
        cause = exc.cause
        if isinstance(cause, (BotoConnectionError, ReadTimeoutError)) or error_code(exc) in THROTTLED:
            raise ServiceUnavailable("the data store is busy; retry shortly") from exc
        raise


class ConditionFailed(Exception):
    """A conditional write's condition failed; `item` is the item as it was (None if absent)."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("the conditional request failed")
        self.item = item


def conditional_update(
    client: Any,
    table_name: str,
    key: dict[str, Any],
    actions: Sequence[Any],
    condition: Any,
) -> dict[str, Any]:
    """One UpdateItem: apply PynamoDB update `actions` if `condition` holds; the new item (raw).

    Raises ConditionFailed carrying the current item when the condition fails.
    """
    from botocore.exceptions import ClientError
    from pynamodb.expressions.update import Update

    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    params: dict[str, Any] = {
        "TableName": table_name,
        "Key": key,
        "UpdateExpression": Update(*actions).serialize(names, values),
        "ConditionExpression": condition.serialize(names, values),
        "ReturnValues": "ALL_NEW",
        # Free on DynamoDB's side: a failed condition returns the item as it was.
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        "ReturnConsumedCapacity": CAPACITY,
    }
    params["ExpressionAttributeNames"] = {placeholder: name for name, placeholder in names.items()}
    if values:
        params["ExpressionAttributeValues"] = values
    with storage_errors():
        try:
            attributes: dict[str, Any] = client.update_item(**params)["Attributes"]
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            raise ConditionFailed(exc.response.get("Item")) from None
    return attributes


def get_item(client: Any, table: str, key: dict[str, Any], **params: Any) -> dict[str, Any] | None:
    """One strongly consistent GetItem: the item, or None when there is none."""
    with storage_errors():
        found: dict[str, Any] | None = client.get_item(
            TableName=table, Key=key, ConsistentRead=True, ReturnConsumedCapacity=CAPACITY, **params
        ).get("Item")
    return found


def condition_held(send: Callable[..., Any], **params: Any) -> bool:
    """One conditional write (`send` is the client's put_item, update_item or delete_item):
    False when its condition did not hold; any other error raises."""
    from botocore.exceptions import ClientError

    try:
        send(ReturnConsumedCapacity=CAPACITY, **params)
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise
        return False
    return True
