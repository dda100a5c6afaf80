"""What the use cases need from the outside world: repository interfaces and the values they exchange.

No boto3 or PynamoDB here: the adapters in `chalicelib/adapters/` implement these ports, and the
in-memory fakes in `tests/fakes.py` implement them for the service tests.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal, Protocol

import msgspec

from chalicelib.domain import Person, Precondition

ChangeKind = Literal["created", "updated", "deleted"]
CREATED: Final = "created"
UPDATED: Final = "updated"
DELETED: Final = "deleted"


class Guard(msgspec.Struct, frozen=True):
    """Conditions a write must meet: the owner (None = any, for admins) and the If-Match precondition."""

    owner: str | None
    precondition: Precondition | None = None

    def admits(self, person: Person) -> bool:
        """Whether the owner condition lets this write see the person (else it is "not found")."""
        return self.owner is None or person.owner == self.owner

    def matches(self, version: int) -> bool:
        """Whether the precondition (if any) accepts the person's current version."""
        return self.precondition is None or self.precondition.matches(version)


class IdempotencyKey(msgspec.Struct, frozen=True):
    """An Idempotency-Key as stored: whose it is, its hash, the request's fingerprint, its expiry."""

    owner: str
    key_hash: str
    fingerprint: str
    expires_at: datetime


class Created(msgspec.Struct, frozen=True):
    """The outcome of an idempotent create: the person of the original response, and whether
    this call replayed it rather than creating it."""

    person: Person
    replayed: bool


class Page(msgspec.Struct, frozen=True):
    """One page of a listing; `last` is the key to continue after when `more` is true.

    That key is the last person's id, or `position` where the listing is ordered by something
    else (the name index's key of the last person).
    """

    items: list[Person]
    more: bool
    position: str | None = None

    @property
    def last(self) -> str | None:
        if not (self.more and self.items):
            return None
        return self.position if self.position is not None else self.items[-1].id


class PeopleRepository(abc.ABC):
    """What the use cases need from storage. Every method is one storage request."""

    @abc.abstractmethod
    def add(self, person: Person, *, actor: str) -> None:
        """Store a new person."""

    @abc.abstractmethod
    def add_once(self, person: Person, *, actor: str, key: IdempotencyKey) -> Created:
        """Store a new person unless `key` was used already; then return the original person.

        Raises IdempotencyKeyReused if the key was used with another fingerprint, and
        IdempotentRequestInFlight if another request holding the key is being written.
        """

    @abc.abstractmethod
    def get(self, person_id: str) -> Person | None:
        """The live person with this id, whoever owns it."""

    @abc.abstractmethod
    def list_by_owner(self, owner: str, *, limit: int, after: str | None) -> Page:
        """Up to `limit` live people of `owner` with ids after `after`, oldest first."""

    @abc.abstractmethod
    def list_by_name(self, owner: str, *, prefix: str, limit: int, after: str | None) -> Page:
        """Up to `limit` live people of `owner` in name order (`search.name_key`), after the name
        key `after`, whose name key starts with `prefix` (a `search.name_prefix`; "" for all)."""

    @abc.abstractmethod
    def list_by_tag(self, owner: str, tag: str, *, limit: int, after: str | None) -> Page:
        """Up to `limit` of `owner`'s people carrying `tag` (a `search.fold_tag`) with ids after
        `after`, oldest first: the copies the tag index holds (see TagIndex)."""

    @abc.abstractmethod
    def update(
        self, person_id: str, changes: Mapping[str, Any], *, actor: str, at: str, guard: Guard
    ) -> Person:
        """Set (or, for None, clear) fields and bump the version atomically; returns the result.

        Raises PersonNotFound if the person is absent, deleted or fails the owner guard,
        VersionMismatch if only the precondition fails.
        """

    @abc.abstractmethod
    def delete(self, person_id: str, *, actor: str, at: str, guard: Guard) -> Person:
        """Delete the person under the same guard rules as update; returns its last state."""


class HistoryEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One change of a person as clients see it in `GET /people/{id}/history`."""

    id: str
    type: str
    time: str
    actor: str | None
    changed_fields: list[str]
    before: Person | None
    after: Person | None


class Change(msgspec.Struct, frozen=True):
    """A history entry with the keys it is stored under: whose person, which version."""

    person_id: str
    owner: str
    version: int
    entry: HistoryEntry


class HistoryPage(msgspec.Struct, frozen=True):
    """One page of a person's history, newest first.

    `owner` is the owner the table records on the person item, live or deleted (None when the
    table holds no such person): never taken from the entries, which a subscriber wrote from
    messages. `last` is the version to continue before when `more` is true.
    """

    owner: str | None
    items: list[HistoryEntry]
    versions: list[int]
    more: bool

    @property
    def last(self) -> int | None:
        return self.versions[-1] if self.more and self.versions else None


class HistoryRepository(abc.ABC):
    """What recording and reading history needs from storage. Every method is one request."""

    @abc.abstractmethod
    def record(self, change: Change, *, expires_at: datetime) -> bool:
        """Store the entry unless one for this change exists; True if it was added."""

    @abc.abstractmethod
    def owner_of(self, person_id: str) -> str | None:
        """The owner the table records for the person, live or deleted; None if it holds no such person."""

    @abc.abstractmethod
    def page(self, person_id: str, *, limit: int, before: int | None) -> HistoryPage:
        """Up to `limit` entries of the person older than version `before`, newest first."""


class PersonChange(msgspec.Struct, frozen=True, kw_only=True):
    """One change of a person item, as the table's stream reports it."""

    id: str  # the stream record's eventID: the same for every retry of this change
    kind: ChangeKind
    time: str
    person_id: str
    owner: str
    actor: str | None
    version: int  # the person's version after the change
    before: Person | None
    after: Person | None


class TagIndex(abc.ABC):
    """The tag entries, kept by the stream handler as DynamoDB keeps a GSI: one entry per
    (owner, folded tag, person) holding a copy of the person, ordered by the person's version so
    a redelivered or older change never overwrites a newer one. Every method is one request."""

    @abc.abstractmethod
    def write(self, tag: str, person: Person) -> bool:
        """Store the person's copy under `tag` unless the entry holds this version or a newer one;
        True if it was written."""

    @abc.abstractmethod
    def remove(self, owner: str, tag: str, person_id: str, *, version: int) -> bool:
        """Remove the entry unless it holds a version newer than `version`; True if one was removed."""


class StreamReader(Protocol):
    def __call__(self, record: Mapping[str, Any]) -> PersonChange | None:
        """The person change a stream record describes; None for items that are not persons.

        Raises ValueError for a record it cannot describe.
        """


class Publisher(Protocol):
    def publish(self, message: str, attributes: Mapping[str, str]) -> None:
        """Deliver one message with its string attributes, raising on failure."""


# --- webhooks ---------------------------------------------------------------------------------


class WebhookEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    """A registered webhook endpoint as stored. `secret` and `previous_secret` are sealed
    (encrypted with the stage's key, see `SecretBox`), never the plaintext."""

    id: str
    owner: str
    url: str
    description: str = ""
    events: tuple[str, ...] | None = None  # None: every change type
    scope: str = "own"  # "own" or "all" (admins only)
    enabled: bool = True
    secret: str
    previous_secret: str | None = None
    previous_secret_expires_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    failing_since: datetime | None = None
    disabled_at: datetime | None = None  # set when delivery disabled it (with the reason)
    disabled_reason: str | None = None


class WebhookPage(msgspec.Struct, frozen=True):
    """One page of a user's endpoints, oldest first."""

    items: list[WebhookEndpoint]
    more: bool

    @property
    def last(self) -> str | None:
        return self.items[-1].id if self.more and self.items else None


class AttemptRecord(msgspec.Struct, frozen=True):
    """One delivery attempt as stored and shown: when, HTTP status or error, duration."""

    at: datetime
    status: int | None
    error: str | None
    duration_ms: int


class DeliveryRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One event's delivery to one endpoint: its state and attempts, and the exact body to POST."""

    id: str  # the webhook-id, stable across attempts
    endpoint_id: str
    owner: str  # the endpoint's owner
    event_id: str
    event_type: str
    event_time: str
    created_at: datetime
    state: str = "pending"
    attempts: tuple[AttemptRecord, ...] = ()
    next_attempt_at: datetime | None = None
    failure_reason: str | None = None
    payload: str = ""

    @property
    def key(self) -> str:
        """The delivery's place in its endpoint's listing: `<event time>#<id>`."""
        return f"{self.event_time}#{self.id}"


class DeliveryPage(msgspec.Struct, frozen=True):
    """One page of an endpoint's deliveries, newest first."""

    items: list[DeliveryRecord]
    more: bool

    @property
    def last(self) -> str | None:
        return self.items[-1].key if self.more and self.items else None


class WebhookRepository(abc.ABC):
    """What webhooks need from storage. Every method is one storage request."""

    @abc.abstractmethod
    def add(self, endpoint: WebhookEndpoint, *, limit: int) -> None:
        """Store a new endpoint unless its owner already has `limit`; else TooManyWebhooks."""

    @abc.abstractmethod
    def get(self, owner: str, endpoint_id: str) -> WebhookEndpoint | None:
        """The owner's endpoint with this id (None for another user's)."""

    @abc.abstractmethod
    def page(self, owner: str, *, limit: int, after: str | None) -> WebhookPage:
        """Up to `limit` of the owner's endpoints with ids after `after`, oldest first."""

    @abc.abstractmethod
    def update(
        self, owner: str, endpoint_id: str, changes: Mapping[str, Any], *, at: datetime
    ) -> WebhookEndpoint:
        """Set `url`, `description`, `events` (None: all) or `enabled`; returns the result.

        Enabling clears the endpoint's failure record. WebhookNotFound if it is not the owner's.
        """

    @abc.abstractmethod
    def rotate(
        self, owner: str, endpoint_id: str, sealed: str, *, previous_expires_at: datetime, at: datetime
    ) -> WebhookEndpoint:
        """Make `sealed` the current secret and keep the current one as previous until the time given."""

    @abc.abstractmethod
    def delete(self, owner: str, endpoint_id: str) -> None:
        """Remove the endpoint (its deliveries expire by themselves); WebhookNotFound if absent."""

    @abc.abstractmethod
    def owned_by(self, owner: str) -> list[WebhookEndpoint]:
        """Every endpoint of this owner (at most the per-user limit)."""

    @abc.abstractmethod
    def scope_all(self) -> list[WebhookEndpoint]:
        """Every endpoint registered with scope `all`."""

    @abc.abstractmethod
    def set_health(
        self,
        owner: str,
        endpoint_id: str,
        *,
        failing_since: datetime | None,
        disabled_at: datetime | None,
        disabled_reason: str | None,
    ) -> None:
        """Record the endpoint's delivery health (if it still exists)."""

    @abc.abstractmethod
    def add_delivery(self, delivery: DeliveryRecord, *, expires_at: datetime) -> bool:
        """Store a new delivery unless one with its key exists; True if it was added."""

    @abc.abstractmethod
    def get_delivery(self, endpoint_id: str, key: str) -> DeliveryRecord | None:
        """The delivery with this key (strongly consistent)."""

    @abc.abstractmethod
    def save_delivery(self, delivery: DeliveryRecord, *, attempts_before: int) -> bool:
        """Store the delivery's new state if it is still pending with `attempts_before` attempts.

        False when another copy of the queue message recorded an attempt (or finished it) first.
        """

    @abc.abstractmethod
    def deliveries(self, endpoint_id: str, *, limit: int, after: str | None) -> DeliveryPage:
        """Up to `limit` of the endpoint's deliveries older than key `after`, newest first."""


class SecretBox(Protocol):
    """Encrypts webhook signing secrets at rest, bound to the endpoint they belong to."""

    def seal(self, secret: str, context: Mapping[str, str]) -> str: ...

    def open(self, sealed: str, context: Mapping[str, str]) -> str: ...


class DeliveryQueue(Protocol):
    """The webhook delivery queue and its failure queue."""

    def send(self, body: str, *, delay_seconds: int) -> None:
        """Queue one delivery message, visible after `delay_seconds` (at most 900)."""

    def send_failed(self, body: str) -> None:
        """Keep a delivery that failed for good in the failure queue."""
