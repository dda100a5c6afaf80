"""The embedded AWS emulator (moto server) on loopback."""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

from moto.server import ThreadedMotoServer

# moto's TransactWriteItems is neither isolated nor clean when cancelled: it snapshots the whole
# table, writes item by item even after a condition failed, and then restores the snapshot. That
# wipes any write another request made meanwhile (a concurrent winner's person vanishes), and the
# rolled-back writes still reach the table's stream, whose shard the restore also swaps for a
# copy that stream readers never see. DynamoDB checks every condition before writing anything
# and isolates transactions, so here the emulator's writes run one at a time and a transaction
# whose conditions fail is cancelled before it writes. Reads stay concurrent.
_WRITES = ("transact_write_items", "put_item", "update_item", "delete_item", "batch_write_item")
_write_lock = threading.RLock()


def _cancel_before_writing(backend: Any, transact_items: list[dict[str, Any]]) -> None:
    """Raise the TransactionCanceledException DynamoDB would, if any condition fails."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import TransactionCanceledException

    reasons: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    for item in transact_items:
        ((kind, op),) = item.items()
        table = backend.get_table(op["TableName"])
        if kind == "Put":
            attrs = op["Item"]
            key = {table.hash_key_attr: attrs[table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = attrs[table.range_key_attr]
        else:
            key = op["Key"]
        current = backend.get_item(op["TableName"], key)
        condition = op.get("ConditionExpression")
        if condition is None or get_filter_expression(
            condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        ).expr(current):
            reasons.append((None, None, None))
            continue
        old = None
        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
            old = current.to_json()["Attributes"]
        reasons.append(("ConditionalCheckFailed", "The conditional request failed", old))
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)


def _transaction(method: Any) -> Any:
    @functools.wraps(method)
    def checked(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        from moto.dynamodb.exceptions import TransactionCanceledException

        with _write_lock:
            try:
                _cancel_before_writing(self, transact_items)
            except TransactionCanceledException:
                raise
            except Exception:  # a malformed request: moto's own code below reports it
                pass
            return method(self, transact_items)

    return checked


def _serialized(method: Any) -> Any:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _write_lock:
            return method(*args, **kwargs)

    locked.__people_api_serialized__ = True  # type: ignore[attr-defined]
    return locked


def serialize_dynamodb_writes() -> None:
    """Make the emulated DynamoDB apply writes and transactions one at a time (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in _WRITES:
        method = getattr(DynamoDBBackend, name, None)
        if method is not None and not getattr(method, "__people_api_serialized__", False):
            wrapped = _serialized(_transaction(method) if name == "transact_write_items" else method)
            setattr(DynamoDBBackend, name, wrapped)


def start_emulator(port: int) -> ThreadedMotoServer:
    """Start moto server on 127.0.0.1:port in a background thread."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    serialize_dynamodb_writes()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server
