"""Which webhook endpoints receive a change event, and the stable `webhook-id` of each delivery.

An endpoint receives the events of the people its owner owns; an admin's endpoint registered with
scope `all` receives everyone's. Its `events` filter (omitted: every change type) and `enabled`
flag apply to both. `webhook.test` is never fanned out: it goes to the one endpoint being tested.

The `webhook-id` is derived from the event id and the endpoint id, so if SNS hands the fan-out
the same event twice, the deliveries it creates carry the same ids, and a conditional put on the
delivery id (or the receiver's deduplication) absorbs the repeat.
"""

from __future__ import annotations

import base64
import enum
import hashlib
from collections.abc import Iterable, Sequence
from typing import Final

import msgspec

CHANGE_TYPES: Final = ("people.person.created", "people.person.updated", "people.person.deleted")
TEST_TYPE: Final = "webhook.test"


class Scope(enum.StrEnum):
    """Whose people an endpoint hears about."""

    OWN = "own"
    ALL = "all"  # admins only: checked when the endpoint is registered


class Subscription(msgspec.Struct, frozen=True):
    """What fan-out needs to know of an endpoint."""

    id: str
    owner: str
    events: frozenset[str] | None = None  # None: every change type
    scope: Scope = Scope.OWN
    enabled: bool = True


def parse_events(events: Sequence[str] | None) -> frozenset[str] | None:
    """An endpoint's event filter from the request's `events`; raise ValueError naming bad types."""
    if events is None:
        return None
    unknown = sorted({event for event in events if event not in CHANGE_TYPES})
    if unknown:
        raise ValueError(f"unknown event types {unknown}; choose from {list(CHANGE_TYPES)}")
    if not events:
        raise ValueError("an empty events list would receive nothing; omit it to receive every type")
    return frozenset(events)


def wants(subscription: Subscription, event_type: str, owner: str) -> bool:
    """Whether this endpoint receives an event of this type about a person of this owner."""
    if not subscription.enabled or event_type == TEST_TYPE:
        return False
    if subscription.events is not None and event_type not in subscription.events:
        return False
    return subscription.owner == owner or subscription.scope is Scope.ALL


def recipients(event_type: str, owner: str, subscriptions: Iterable[Subscription]) -> list[Subscription]:
    """The endpoints that receive the event, each once, in the order given."""
    chosen: dict[str, Subscription] = {}
    for subscription in subscriptions:
        if subscription.id not in chosen and wants(subscription, event_type, owner):
            chosen[subscription.id] = subscription
    return list(chosen.values())


def delivery_id(event_id: str, endpoint_id: str) -> str:
    """The `webhook-id` of one event's delivery to one endpoint: the same every time it is computed."""
    # Length-prefixed, so no two (event, endpoint) pairs hash the same input.
    digest = hashlib.sha256(f"{len(event_id)}:{event_id}{endpoint_id}".encode()).digest()[:16]
    return "msg_" + base64.b32encode(digest).decode("ascii").rstrip("=").lower()
