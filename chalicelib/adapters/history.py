"""The history repository on DynamoDB: entries in their person's partition (see `models.py`).

Recording an entry and reading a person's owner, the SNS handler's two requests, are plain
items (`items.py`) on the process's botocore client; pages of history are read through the
PynamoDB model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from chalicelib.adapters import items, keys
from chalicelib.adapters.dynamo import condition_held, get_item, storage_errors
from chalicelib.domain import Person
from chalicelib.ports import Change, HistoryEntry, HistoryPage, HistoryRepository

if TYPE_CHECKING:
    from chalicelib.adapters.models import HistoryModel

log = logging.getLogger("people_api")

_encoder = msgspec.json.Encoder()
_person = msgspec.json.Decoder(Person)


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


def history_item(change: Change, *, expires_at: datetime) -> items.Item:
    """The history entry of one change, in its person's partition under its version."""
    entry = change.entry
    item: items.Item = {
        "pk": items.text(keys.person_pk(change.person_id)),
        "sk": items.text(keys.history_sk(change.version)),
        "owner": items.text(change.owner),
        "event_id": items.text(entry.id),
        "type": items.text(entry.type),
        "time": items.text(entry.time),
        "expires_at": items.number(int(expires_at.timestamp())),
    }
    if entry.actor is not None:
        item["actor"] = items.text(entry.actor)
    if entry.changed_fields:
        item["changed_fields"] = {"L": [items.text(field) for field in entry.changed_fields]}
    for name, person in (("before", entry.before), ("after", entry.after)):
        if person is not None:
            item[name] = items.text(_encoder.encode(person).decode())
    return item


class PynamoHistoryRepository(HistoryRepository):
    """History entries in the people table, beside their person.

    `client` is the process's botocore DynamoDB client; `bind_models` points the PynamoDB
    models at the stage's table before a page is read through them.
    """

    def __init__(self, client: Any, table: str, *, bind_models: Callable[[], None]) -> None:
        self._client = client
        self._table = table
        self._bind_models = bind_models

    def record(self, change: Change, *, expires_at: datetime) -> bool:
        # Anything but a failed condition raises: Lambda retries the delivery.
        recorded = condition_held(
            self._client.put_item,
            TableName=self._table,
            Item=history_item(change, expires_at=expires_at),
            ConditionExpression="attribute_not_exists(sk)",
        )
        if not recorded:
            # Versions only advance through conditional writes, so one version is one change.
            log.info("history of %s already holds version %d", change.person_id, change.version)
        return recorded

    def owner_of(self, person_id: str) -> str | None:
        found = get_item(
            self._client,
            self._table,
            items.person_key(person_id),
            ProjectionExpression="#o",
            ExpressionAttributeNames={"#o": "owner"},
        )
        return None if found is None else items.text_of(found, "owner")

    def page(self, person_id: str, *, limit: int, before: int | None) -> HistoryPage:
        from chalicelib.adapters.models import HistoryModel as m

        self._bind_models()
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
