"""The embedded AWS emulator (moto server) on loopback, made to keep DynamoDB's guarantees.

DynamoDB applies each write atomically (the condition, every action of the update expression
and the returned item belong to one point in time), isolates transactions, and checks every
condition of a transaction before writing anything. moto 5 does none of this:
- update_item checks the condition, then mutates the shared stored item action by action, and
  the response is serialised from that live item afterwards, so concurrent requests on moto
  server's threads can both pass one condition, lose an ADD, or see each other's changes;
- transact_write_items snapshots the whole table, writes item by item even after a condition
  failed, and then restores the snapshot, which wipes writes other requests made meanwhile and
  leaks the rolled-back writes into the table's stream (whose shard the restore also swaps).
So every DynamoDB request runs under one lock, and a transaction whose conditions fail is
cancelled before it writes.

API Gateway: moto's ImportRestApi/PutRestApi refuse the Swagger 2.0 document Chalice sends
(only OpenAPI 3 passes its version check) and ImportRestApi requires `info.description`. The
paths and `x-amazon-apigateway-integration` extensions moto reads are the same in both
versions, so the document is handed on as OpenAPI 3; every document received is kept in
IMPORTED_API_DOCUMENTS (moto drops the authorizers, so tests check them there).

This is the emulator only (local stack and tests); AWS needs none of it.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

from moto.server import ThreadedMotoServer

_DYNAMODB = threading.Lock()


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

        try:
            _cancel_before_writing(self, transact_items)
        except TransactionCanceledException:
            raise
        except Exception:  # a malformed request: moto's own code below reports it
            pass
        return method(self, transact_items)

    return checked


def _serialise_dynamodb() -> None:
    """Run DynamoDB requests one at a time and cancel failing transactions up front (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    call_action = DynamoHandler.call_action
    if getattr(call_action, "serialised", False):
        return

    @functools.wraps(call_action)
    def locked(self: Any) -> Any:
        with _DYNAMODB:
            return call_action(self)

    locked.serialised = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = locked  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = _transaction(DynamoDBBackend.transact_write_items)  # type: ignore[method-assign]


# Every API document ImportRestApi/PutRestApi received, as sent: (rest API id, document).
IMPORTED_API_DOCUMENTS: list[tuple[str, dict[str, Any]]] = []


def _as_openapi3(api_doc: dict[str, Any]) -> dict[str, Any]:
    doc = {k: v for k, v in api_doc.items() if k != "swagger"}
    doc["openapi"] = "3.0.1"
    doc["info"] = {"description": "", **api_doc.get("info", {})}
    return doc


def _accept_swagger_imports() -> None:
    """Let moto import the Swagger 2.0 document Chalice sends, and record it (idempotent)."""
    from moto.apigateway.models import APIGatewayBackend

    put_rest_api = APIGatewayBackend.put_rest_api
    if getattr(put_rest_api, "accepts_swagger", False):
        return

    @functools.wraps(put_rest_api)
    def put(
        self: Any, function_id: str, api_doc: dict[str, Any], fail_on_warnings: bool, mode: str = "merge"
    ) -> Any:
        IMPORTED_API_DOCUMENTS.append((function_id, api_doc))
        return put_rest_api(self, function_id, _as_openapi3(api_doc), False, mode)

    import_rest_api = APIGatewayBackend.import_rest_api

    @functools.wraps(import_rest_api)
    def import_(self: Any, api_doc: dict[str, Any], fail_on_warnings: bool) -> Any:
        api = self.create_rest_api(
            name=api_doc["info"]["title"], description=api_doc["info"].get("description")
        )
        put(self, api.id, api_doc, fail_on_warnings)
        return api

    put.accepts_swagger = True  # type: ignore[attr-defined]
    APIGatewayBackend.put_rest_api = put  # type: ignore[method-assign]
    APIGatewayBackend.import_rest_api = import_  # type: ignore[method-assign]


def start_emulator(port: int) -> ThreadedMotoServer:
    """Start moto server on 127.0.0.1:port in a background thread."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _serialise_dynamodb()
    _accept_swagger_imports()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server
