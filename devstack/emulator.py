"""The embedded AWS emulator (moto server) on loopback."""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

from moto.server import ThreadedMotoServer

# DynamoDB applies each write to an item atomically: the condition, every action of the update
# expression and the returned item belong to one point in time. moto does not: update_item checks
# the condition, then mutates the shared stored item action by action, and the response is
# serialised from that live item afterwards, so concurrent requests on moto server's threads can
# both pass one condition, lose an ADD, or see each other's changes. One lock around every
# DynamoDB request restores DynamoDB's guarantee (requests to moto take a millisecond or so).
_DYNAMODB = threading.Lock()


def _serialise_dynamodb() -> None:
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


def start_emulator(port: int) -> ThreadedMotoServer:
    """Start moto server on 127.0.0.1:port in a background thread."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _serialise_dynamodb()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server
