"""The embedded AWS emulator (moto server) on loopback."""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

from moto.server import ThreadedMotoServer

# moto's TransactWriteItems is not atomic across threads: it snapshots the whole table, writes
# item by item, and on a failed condition restores the snapshot, wiping any write another
# request made meanwhile (a concurrent winner's person vanishes, or a loser's stays). DynamoDB
# isolates transactions (serializable per item), so the emulator's item writes are run one at
# a time here. Reads stay concurrent.
_WRITES = ("transact_write_items", "put_item", "update_item", "delete_item", "batch_write_item")
_write_lock = threading.RLock()


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
            setattr(DynamoDBBackend, name, _serialized(method))


def start_emulator(port: int) -> ThreadedMotoServer:
    """Start moto server on 127.0.0.1:port in a background thread."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    serialize_dynamodb_writes()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server
