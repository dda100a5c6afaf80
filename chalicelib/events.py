"""Change events: the one format of what the changes topic carries (CloudEvents 1.0, structured JSON).

Built from the person changes the table's stream reports (`ports.PersonChange`), published by
`notifications.publish_batch`, read back by every subscriber with `decode`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final, Literal

import msgspec

from chalicelib.domain import WRITABLE, Person
from chalicelib.ports import Change, HistoryEntry, PersonChange

CREATED: Final = "people.person.created"
UPDATED: Final = "people.person.updated"
DELETED: Final = "people.person.deleted"
EventType = Literal["people.person.created", "people.person.updated", "people.person.deleted"]
_TYPES: Final[dict[str, EventType]] = {"created": CREATED, "updated": UPDATED, "deleted": DELETED}


class ChangeData(msgspec.Struct, frozen=True, kw_only=True):
    """The `data` of a change event."""

    owner: str
    actor: str | None
    # The person's version after the change: orders a person's events (SNS does not).
    version: int
    before: Person | None
    after: Person | None
    changed_fields: list[str]


class ChangeEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A CloudEvents 1.0 event in structured JSON form."""

    specversion: Literal["1.0"]
    id: str
    source: str
    type: EventType
    time: str
    subject: str
    datacontenttype: Literal["application/json"]
    data: ChangeData


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(ChangeEvent)


def changed_fields(before: Person | None, after: Person | None) -> list[str]:
    """The client-writable fields whose values differ (a missing person has none set)."""

    def value(person: Person | None, field: str) -> Any:
        return (getattr(person, field) or None) if person is not None else None

    return [field for field in WRITABLE if value(before, field) != value(after, field)]


def change_event(change: PersonChange, source: str) -> ChangeEvent:
    """The CloudEvent of one person change."""
    return ChangeEvent(
        specversion="1.0",
        id=change.id,
        source=source,
        type=_TYPES[change.kind],
        time=change.time,
        subject=change.person_id,
        datacontenttype="application/json",
        data=ChangeData(
            owner=change.owner,
            actor=change.actor,
            version=change.version,
            before=change.before,
            after=change.after,
            changed_fields=changed_fields(change.before, change.after),
        ),
    )


def encode(event: ChangeEvent) -> str:
    """The event as the JSON text of a message."""
    return _encoder.encode(event).decode()


def attributes(event: ChangeEvent) -> dict[str, str]:
    """The message attributes subscribers filter on (`type`, `owner`)."""
    return {"type": event.type, "owner": event.data.owner}


def decode(message: str | bytes) -> ChangeEvent:
    """An event from a message's JSON text; raises msgspec.DecodeError or ValidationError."""
    return _decoder.decode(message)


def history_change(event: ChangeEvent) -> Change:
    """What the history stores for one event."""
    data = event.data
    return Change(
        person_id=event.subject,
        owner=data.owner,
        version=data.version,
        entry=HistoryEntry(
            id=event.id,
            type=event.type,
            time=event.time,
            actor=data.actor,
            changed_fields=data.changed_fields,
            before=data.before,
            after=data.after,
        ),
    )


def history_expiry(event: ChangeEvent, ttl_days: int) -> datetime:
    """When the history entry of an event expires."""
    return datetime.fromisoformat(event.time) + timedelta(days=ttl_days)
