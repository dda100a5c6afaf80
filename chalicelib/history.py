"""A person's change history: the entry type, the storage port and its PynamoDB adapter."""

from __future__ import annotations

import abc
import logging
from datetime import datetime
from typing import TYPE_CHECKING

import msgspec

from chalicelib.domain import Person

if TYPE_CHECKING:
    from chalicelib.models import HistoryModel

log = logging.getLogger("people_api")


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

    `owner` is the person's owner (None when neither the person nor any entry exists);
    `last` is the version to continue before when `more` is true.
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
    def page(self, person_id: str, *, limit: int, before: int | None) -> HistoryPage:
        """Up to `limit` entries of the person older than version `before`, newest first."""


_encoder = msgspec.json.Encoder()
_person = msgspec.json.Decoder(Person)


class PynamoHistoryRepository(HistoryRepository):
    """History entries in the people table, beside their person (see models.py)."""

    def __init__(self) -> None:
        from chalicelib import models

        self._models = models
        self.model = models.HistoryModel

    def record(self, change: Change, *, expires_at: datetime) -> bool:
        from pynamodb.exceptions import PutError

        from chalicelib.repository import _old_item, error_code

        m, entry = self.model, change.entry
        item = m(
            self._models.person_pk(change.person_id),
            self._models.history_sk(change.version),
            owner=change.owner,
            event_id=entry.id,
            type=entry.type,
            time=entry.time,
            actor=entry.actor,
            changed_fields=list(entry.changed_fields) or None,
            before=_encoder.encode(entry.before).decode() if entry.before is not None else None,
            after=_encoder.encode(entry.after).decode() if entry.after is not None else None,
            expires_at=expires_at,
        )
        try:
            item.save(condition=m.sk.does_not_exist())
        except PutError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            old = _old_item(exc) or {}
            recorded = old.get("event_id", {}).get("S")
            if recorded != entry.id:
                # Cannot happen while versions are bumped atomically; worth a look if it does.
                log.warning(
                    "history of %s already holds version %d as event %s, not %s",
                    change.person_id,
                    change.version,
                    recorded,
                    entry.id,
                )
            return False
        return True

    def _entry(self, item: HistoryModel) -> HistoryEntry:
        return HistoryEntry(
            id=item.event_id or "",
            type=item.type or "",
            time=item.time or "",
            actor=item.actor,
            changed_fields=[str(field) for field in item.changed_fields or ()],
            before=_person.decode(item.before) if item.before else None,
            after=_person.decode(item.after) if item.after else None,
        )

    def page(self, person_id: str, *, limit: int, before: int | None) -> HistoryPage:
        from chalicelib.repository import storage_errors

        models, m = self._models, self.model
        if before is None:
            # Backwards from the person item: it comes first (for its owner), then the history.
            condition = m.sk.between(models.HISTORY_PREFIX, models.PERSON_SK)
            wanted = limit + 2
        else:
            condition = m.sk.between(models.HISTORY_PREFIX, models.history_sk(max(before - 1, 0)))
            wanted = limit + 1
        with storage_errors():
            found = list(
                m.query(
                    models.person_pk(person_id),
                    range_key_condition=condition,
                    scan_index_forward=False,
                    limit=wanted,
                    page_size=wanted,
                )
            )
        owner = None
        if found and found[0].sk == models.PERSON_SK:
            owner = found.pop(0).owner
        entries = [item for item in found if item.sk.startswith(models.HISTORY_PREFIX)]
        if owner is None and entries:
            owner = entries[0].owner
        kept = entries[:limit]
        return HistoryPage(
            owner=owner,
            items=[self._entry(item) for item in kept],
            versions=[int(item.sk.removeprefix(models.HISTORY_PREFIX)) for item in kept],
            more=len(entries) > limit,
        )
