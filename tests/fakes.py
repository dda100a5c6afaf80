"""In-memory repositories: same contracts as the PynamoDB adapters, for service and event tests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from chalicelib.domain import Person
from chalicelib.errors import (
    IdempotencyKeyReused,
    IdempotentRequestInFlight,
    PersonNotFound,
    TooManyWebhooks,
    VersionMismatch,
    WebhookNotFound,
)
from chalicelib.ports import (
    Change,
    Created,
    DeliveryPage,
    DeliveryRecord,
    Guard,
    HistoryPage,
    HistoryRepository,
    IdempotencyKey,
    Page,
    PeopleRepository,
    TagIndex,
    WebhookEndpoint,
    WebhookPage,
    WebhookRepository,
)
from chalicelib.search import name_key


class InMemoryPeopleRepository(PeopleRepository):
    def __init__(self) -> None:
        self.people: dict[str, Person] = {}
        self.deleted: dict[str, Person] = {}
        self.actors: dict[str, str] = {}
        self.requests = 0
        # (owner, key hash) -> (fingerprint, expiry, person as created)
        self.keys: dict[tuple[str, str], tuple[str, datetime, Person]] = {}
        # Keys whose first request is still being written (what DynamoDB reports as a
        # TransactionConflict): set by tests to stand for that concurrent writer.
        self.in_flight: set[tuple[str, str]] = set()
        # The tag entries (owner, folded tag) -> person id -> the copy: InMemoryTagIndex writes them.
        self.tag_entries: dict[tuple[str, str], dict[str, Person]] = {}

    def add_once(self, person: Person, *, actor: str, key: IdempotencyKey) -> Created:
        self.requests += 1
        scope = (key.owner, key.key_hash)
        if scope in self.in_flight:
            raise IdempotentRequestInFlight("a request with this key is in progress")
        now = datetime.fromisoformat(person.created_at)
        if scope in self.keys and self.keys[scope][1] >= now:
            fingerprint, _, original = self.keys[scope]
            if fingerprint != key.fingerprint:
                raise IdempotencyKeyReused("the key was used with a different body")
            return Created(person=original, replayed=True)
        self.keys[scope] = (key.fingerprint, key.expires_at, person)
        self.requests -= 1  # add() counts the same single request
        self.add(person, actor=actor)
        return Created(person=person, replayed=False)

    def add(self, person: Person, *, actor: str) -> None:
        self.requests += 1
        assert person.id not in self.people and person.id not in self.deleted
        self.people[person.id] = person
        self.actors[person.id] = actor

    def get(self, person_id: str) -> Person | None:
        self.requests += 1
        return self.people.get(person_id)

    def list_by_owner(self, owner: str, *, limit: int, after: str | None) -> Page:
        self.requests += 1
        mine = sorted(
            (p for p in self.people.values() if p.owner == owner and (after is None or p.id > after)),
            key=lambda p: p.id,
        )
        return Page(items=mine[:limit], more=len(mine) > limit)

    def list_by_name(self, owner: str, *, prefix: str, limit: int, after: str | None) -> Page:
        self.requests += 1
        keyed = sorted((name_key(p.name, p.id), p) for p in self.people.values() if p.owner == owner)
        mine = [(k, p) for k, p in keyed if k.startswith(prefix) and (after is None or k > after)]
        kept = mine[:limit]
        more = len(mine) > limit
        return Page(items=[p for _, p in kept], more=more, position=kept[-1][0] if more and kept else None)

    def list_by_tag(self, owner: str, tag: str, *, limit: int, after: str | None) -> Page:
        self.requests += 1
        entries = self.tag_entries.get((owner, tag), {})
        mine = [entries[i] for i in sorted(entries) if after is None or i > after]
        return Page(items=mine[:limit], more=len(mine) > limit)

    def _check(self, person_id: str, guard: Guard) -> Person:
        person = self.people.get(person_id)
        if person is None or not guard.admits(person):
            raise PersonNotFound(f"no person with id {person_id!r}")
        if not guard.matches(person.version):
            raise VersionMismatch(f"person {person_id} is at version {person.version}")
        return person

    def update(
        self, person_id: str, changes: Mapping[str, Any], *, actor: str, at: str, guard: Guard
    ) -> Person:
        self.requests += 1
        person = self._check(person_id, guard)
        values = {k: (() if k == "tags" and v is None else v) for k, v in changes.items()}
        updated = msgspec.structs.replace(person, **values, updated_at=at, version=person.version + 1)
        self.people[person_id] = updated
        self.actors[person_id] = actor
        return updated

    def delete(self, person_id: str, *, actor: str, at: str, guard: Guard) -> Person:
        self.requests += 1
        person = self._check(person_id, guard)
        self.deleted[person_id] = self.people.pop(person_id)
        self.actors[person_id] = actor
        return person


class InMemoryTagIndex(TagIndex):
    """The tag entries, kept in the repository fake's `tag_entries` so its list_by_tag reads them."""

    def __init__(self, repo: InMemoryPeopleRepository) -> None:
        self.entries = repo.tag_entries
        self.requests = 0

    def write(self, tag: str, person: Person) -> bool:
        self.requests += 1
        entries = self.entries.setdefault((person.owner, tag), {})
        current = entries.get(person.id)
        if current is not None and current.version >= person.version:
            return False
        entries[person.id] = person
        return True

    def remove(self, owner: str, tag: str, person_id: str, *, version: int) -> bool:
        self.requests += 1
        entries = self.entries.get((owner, tag), {})
        current = entries.get(person_id)
        if current is None or current.version >= version:
            return False
        del entries[person_id]
        return True


class InMemoryHistoryRepository(HistoryRepository):
    """History entries in a dict keyed like the table: (person id, version).

    `owners` stands for the person items the table holds (person id -> owner).
    """

    def __init__(self, owners: dict[str, str] | None = None) -> None:
        self.changes: dict[tuple[str, int], Change] = {}
        self.expiry: dict[tuple[str, int], datetime] = {}
        self.owners: dict[str, str] = dict(owners or {})

    def owner_of(self, person_id: str) -> str | None:
        return self.owners.get(person_id)

    def record(self, change: Change, *, expires_at: datetime) -> bool:
        key = (change.person_id, change.version)
        if key in self.changes:
            return False
        self.changes[key] = change
        self.expiry[key] = expires_at
        return True

    def page(self, person_id: str, *, limit: int, before: int | None) -> HistoryPage:
        mine = sorted(
            (
                c
                for (pid, v), c in self.changes.items()
                if pid == person_id and (before is None or v < before)
            ),
            key=lambda c: -c.version,
        )
        kept = mine[:limit]
        return HistoryPage(
            owner=self.owners.get(person_id),
            items=[c.entry for c in kept],
            versions=[c.version for c in kept],
            more=len(mine) > limit,
        )


class InMemoryWebhookRepository(WebhookRepository):
    """Endpoints keyed by (owner, id) and deliveries by (endpoint id, key), as the table keys them."""

    def __init__(self) -> None:
        self.endpoints: dict[tuple[str, str], WebhookEndpoint] = {}
        self.records: dict[tuple[str, str], DeliveryRecord] = {}
        self.expiry: dict[tuple[str, str], datetime] = {}

    def add(self, endpoint: WebhookEndpoint, *, limit: int) -> None:
        if len(self.owned_by(endpoint.owner)) >= limit:
            raise TooManyWebhooks(f"a user may have at most {limit} webhook endpoints")
        assert (endpoint.owner, endpoint.id) not in self.endpoints
        self.endpoints[(endpoint.owner, endpoint.id)] = endpoint

    def get(self, owner: str, endpoint_id: str) -> WebhookEndpoint | None:
        return self.endpoints.get((owner, endpoint_id))

    def page(self, owner: str, *, limit: int, after: str | None) -> WebhookPage:
        mine = [e for e in self.owned_by(owner) if after is None or e.id > after]
        return WebhookPage(items=mine[:limit], more=len(mine) > limit)

    def _replace(self, owner: str, endpoint_id: str, **values: Any) -> WebhookEndpoint:
        found = self.endpoints.get((owner, endpoint_id))
        if found is None:
            raise WebhookNotFound(f"no webhook with id {endpoint_id!r}")
        updated = msgspec.structs.replace(found, **values)
        self.endpoints[(owner, endpoint_id)] = updated
        return updated

    def update(
        self, owner: str, endpoint_id: str, changes: Mapping[str, Any], *, at: datetime
    ) -> WebhookEndpoint:
        values = dict(changes)
        if "events" in values and values["events"] is not None:
            values["events"] = tuple(values["events"])
        if values.get("enabled") is True:
            values.update(failing_since=None, disabled_at=None, disabled_reason=None)
        return self._replace(owner, endpoint_id, **values, updated_at=at)

    def rotate(
        self, owner: str, endpoint_id: str, sealed: str, *, previous_expires_at: datetime, at: datetime
    ) -> WebhookEndpoint:
        current = self.endpoints.get((owner, endpoint_id))
        return self._replace(
            owner,
            endpoint_id,
            secret=sealed,
            previous_secret=current.secret if current else None,
            previous_secret_expires_at=previous_expires_at,
            updated_at=at,
        )

    def delete(self, owner: str, endpoint_id: str) -> None:
        if self.endpoints.pop((owner, endpoint_id), None) is None:
            raise WebhookNotFound(f"no webhook with id {endpoint_id!r}")

    def owned_by(self, owner: str) -> list[WebhookEndpoint]:
        return sorted((e for (o, _), e in self.endpoints.items() if o == owner), key=lambda e: e.id)

    def scope_all(self) -> list[WebhookEndpoint]:
        return sorted((e for e in self.endpoints.values() if e.scope == "all"), key=lambda e: e.id)

    def set_health(
        self,
        owner: str,
        endpoint_id: str,
        *,
        failing_since: datetime | None,
        disabled_at: datetime | None,
        disabled_reason: str | None,
    ) -> None:
        if (owner, endpoint_id) not in self.endpoints:
            return
        values: dict[str, Any] = {
            "failing_since": failing_since,
            "disabled_at": disabled_at,
            "disabled_reason": disabled_reason,
        }
        if disabled_at is not None:
            values["enabled"] = False
        self._replace(owner, endpoint_id, **values)

    def add_delivery(self, delivery: DeliveryRecord, *, expires_at: datetime) -> bool:
        key = (delivery.endpoint_id, delivery.key)
        if key in self.records:
            return False
        self.records[key] = delivery
        self.expiry[key] = expires_at
        return True

    def get_delivery(self, endpoint_id: str, key: str) -> DeliveryRecord | None:
        return self.records.get((endpoint_id, key))

    def save_delivery(self, delivery: DeliveryRecord, *, attempts_before: int) -> bool:
        key = (delivery.endpoint_id, delivery.key)
        stored = self.records.get(key)
        if stored is None or stored.state != "pending" or len(stored.attempts) != attempts_before:
            return False
        self.records[key] = delivery
        return True

    def deliveries(self, endpoint_id: str, *, limit: int, after: str | None) -> DeliveryPage:
        mine = sorted(
            (d for (e, k), d in self.records.items() if e == endpoint_id and (after is None or k < after)),
            key=lambda d: d.key,
            reverse=True,
        )
        return DeliveryPage(items=mine[:limit], more=len(mine) > limit)


class FakeSecretBox:
    """Seals reversibly, bound to its context like KMS: opening under another context fails."""

    def seal(self, secret: str, context: Mapping[str, str]) -> str:
        return "sealed:" + msgspec.json.encode([secret, dict(context)]).decode()

    def open(self, sealed: str, context: Mapping[str, str]) -> str:
        secret, bound = msgspec.json.decode(sealed.removeprefix("sealed:"))
        if bound != dict(context):
            raise ValueError("the secret was sealed for another endpoint")
        return str(secret)


class FakeDeliveryQueue:
    """Messages as sent, with their delays; `failed` is the failure queue."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []
        self.failed: list[str] = []

    def send(self, body: str, *, delay_seconds: int) -> None:
        assert 0 <= delay_seconds <= 900
        self.sent.append((body, delay_seconds))

    def send_failed(self, body: str) -> None:
        self.failed.append(body)
