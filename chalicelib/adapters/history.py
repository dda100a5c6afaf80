"""The history repository on DynamoDB: entries in their person's partition (see `models.py`)."""

from __future__ import annotations

import logging
from datetime import datetime

import msgspec

from chalicelib.adapters import keys
from chalicelib.adapters.dynamo import error_code, storage_errors
from chalicelib.adapters.models import HistoryModel
from chalicelib.domain import Person
from chalicelib.ports import Change, HistoryEntry, HistoryPage, HistoryRepository

log = logging.getLogger("people_api")

_encoder = msgspec.json.Encoder()
_person = msgspec.json.Decoder(Person)


def _json(person: Person | None) -> str | None:
    return _encoder.encode(person).decode() if person is not None else None


def _entry(item: HistoryModel) -> HistoryEntry:
    return HistoryEntry(
        id=item.event_id or "",
        type=item.type or "",
        time=item.time or "",
        actor=item.actor,
        changed_fields=[str(field) for field in item.changed_fields or ()],
        before=_person.decode(item.before) if item.before else None,
        after=_person.decode(item.after) if item.after else None,
    )


class PynamoHistoryRepository(HistoryRepository):
    """History entries in the people table, beside their person."""

    def record(self, change: Change, *, expires_at: datetime) -> bool:
        from pynamodb.exceptions import PutError

        entry = change.entry
        item = HistoryModel(
            keys.person_pk(change.person_id),
            keys.history_sk(change.version),
            owner=change.owner,
            event_id=entry.id,
            type=entry.type,
            time=entry.time,
            actor=entry.actor,
            changed_fields=list(entry.changed_fields) or None,
            before=_json(entry.before),
            after=_json(entry.after),
            expires_at=expires_at,
        )
        try:
            item.save(condition=HistoryModel.sk.does_not_exist())
        except PutError as exc:  # anything else raises: Lambda retries the delivery
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            # Versions only advance through conditional writes, so one version is one change.
            log.info("history of %s already holds version %d", change.person_id, change.version)
            return False
        return True

    def owner_of(self, person_id: str) -> str | None:
        with storage_errors():
            try:
                item = HistoryModel.get(
                    keys.person_pk(person_id),
                    keys.PERSON_SK,
                    consistent_read=True,
                    attributes_to_get=["owner"],
                )
            except HistoryModel.DoesNotExist:
                return None
        return item.owner

    def page(self, person_id: str, *, limit: int, before: int | None) -> HistoryPage:
        m = HistoryModel
        if before is None:
            # Backwards from the person item: it comes first (for its owner), then the history.
            condition = m.sk.between(keys.HISTORY_PREFIX, keys.PERSON_SK)
            wanted = limit + 2
        else:
            condition = m.sk.between(keys.HISTORY_PREFIX, keys.history_sk(max(before - 1, 0)))
            wanted = limit + 1
        with storage_errors():
            found = list(
                m.query(
                    keys.person_pk(person_id),
                    range_key_condition=condition,
                    scan_index_forward=False,
                    limit=wanted,
                    page_size=wanted,
                )
            )
        owner = found.pop(0).owner if found and found[0].sk == keys.PERSON_SK else None
        entries = [item for item in found if item.sk.startswith(keys.HISTORY_PREFIX)]
        kept = entries[:limit]
        return HistoryPage(
            owner=owner,
            items=[_entry(item) for item in kept],
            versions=[keys.version_of(item.sk) for item in kept],
            more=len(entries) > limit,
        )
