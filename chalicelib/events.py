"""Change events: built from the table's stream records, published to SNS, recorded as history.

The flow (see the README): a write to a person item -> DynamoDB stream record ->
`publish_batch` (one CloudEvents 1.0 JSON message per person change) -> SNS topic ->
`record_notifications` (one history entry per change, idempotent by change).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Final, Literal, Protocol

import msgspec

from chalicelib.domain import WRITABLE, Person
from chalicelib.history import Change, HistoryEntry, HistoryRepository

log = logging.getLogger("people_api")

CREATED: Final = "people.person.created"
UPDATED: Final = "people.person.updated"
DELETED: Final = "people.person.deleted"
EventType = Literal["people.person.created", "people.person.updated", "people.person.deleted"]

PERSON_SK: Final = "PERSON"  # the sort key of person items; every other item is ignored
_PUBLIC_FIELDS: Final = frozenset(Person.__struct_fields__)


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


class MalformedRecord(ValueError):
    """A stream record that is not a person change this publisher can describe."""


_encoder = msgspec.json.Encoder()
_event_decoder = msgspec.json.Decoder(ChangeEvent)


def _value(attribute: Mapping[str, Any]) -> Any:
    """One attribute of DynamoDB's typed JSON (as streams deliver it) as a plain value."""
    ((kind, raw),) = attribute.items()
    if kind == "S" or kind == "BOOL":
        return raw
    if kind == "N":
        return int(raw) if raw.lstrip("-").isdigit() else float(raw)
    if kind == "NULL":
        return None
    if kind == "L":
        return [_value(item) for item in raw]
    if kind == "M":
        return {key: _value(item) for key, item in raw.items()}
    if kind in ("SS", "NS"):
        return [_value({kind[0]: item}) for item in raw]
    raise MalformedRecord(f"unsupported attribute type {kind}")


def plain_image(image: Mapping[str, Any] | None) -> dict[str, Any]:
    """A stream image (typed JSON) as a plain dict."""
    return {name: _value(attribute) for name, attribute in (image or {}).items()}


def _person(image: Mapping[str, Any]) -> Person:
    """Only the public fields: internal attributes (keys, list_owner, TTL) never leave the table."""
    try:
        return msgspec.convert({k: v for k, v in image.items() if k in _PUBLIC_FIELDS}, Person)
    except msgspec.ValidationError as exc:
        raise MalformedRecord(f"not a person image: {exc}") from None


def changed_fields(before: Person | None, after: Person | None) -> list[str]:
    """The client-writable fields whose values differ (a missing person has none set)."""

    def value(person: Person | None, field: str) -> Any:
        return (getattr(person, field) or None) if person is not None else None

    return [field for field in WRITABLE if value(before, field) != value(after, field)]


def build_event(record: Mapping[str, Any], source: str) -> ChangeEvent | None:
    """The change event for one stream record, or None for records that are not person changes.

    INSERT -> created; MODIFY -> updated, or deleted when the new image is soft-deleted.
    Ignored: REMOVE (only DynamoDB's TTL purge of an already deleted person removes items),
    items other than persons (history entries share the table), and changes to an item that
    was already deleted.
    """
    try:
        name = record["eventName"]
        stream = record["dynamodb"]
        keys = plain_image(stream["Keys"])
        event_id = record["eventID"]
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedRecord(f"not a DynamoDB stream record: {exc!r}") from None
    if keys.get("sk") != PERSON_SK or name == "REMOVE":
        return None
    new = plain_image(stream.get("NewImage"))
    old = plain_image(stream.get("OldImage"))
    if not new:
        raise MalformedRecord(f"{name} record {event_id} has no NewImage (is the stream NEW_AND_OLD_IMAGES?)")
    kind: EventType
    if name == "INSERT":
        kind, before, after = CREATED, None, _person(new)
    elif name == "MODIFY":
        if not old:
            raise MalformedRecord(f"MODIFY record {event_id} has no OldImage")
        if "deleted_at" in old:
            return None
        before = _person(old)
        if "deleted_at" in new:
            kind, after = DELETED, None
        else:
            kind, after = UPDATED, _person(new)
    else:
        raise MalformedRecord(f"unknown eventName {name!r}")
    current = _person(new)
    return ChangeEvent(
        specversion="1.0",
        id=event_id,
        source=source,
        type=kind,
        time=str(new.get("deleted_at") or current.updated_at),
        subject=current.id,
        datacontenttype="application/json",
        data=ChangeData(
            owner=current.owner,
            actor=new.get("actor"),
            version=current.version,
            before=before,
            after=after,
            changed_fields=changed_fields(before, after),
        ),
    )


class Invocation(msgspec.Struct):
    """What one invocation of an event handler did, for its log line."""

    records_in: int
    records_out: int = 0  # published (stream) or newly recorded (SNS)
    skipped: int = 0  # not person changes, duplicates, or malformed messages
    failures: int = 0  # left for Lambda to retry


@contextmanager
def logged_invocation(handler: str, request_id: str | None, records_in: int) -> Iterator[Invocation]:
    """One structured JSON log line per handler invocation, also when the handler raises."""
    started = time.perf_counter()
    stats = Invocation(records_in)
    outcome = "ok"
    try:
        yield stats
    except Exception:
        outcome = "error"
        stats.failures = max(stats.failures, records_in - stats.records_out - stats.skipped)
        raise
    finally:
        log.info(
            json.dumps(
                {
                    "event": "invocation",
                    "handler": handler,
                    "request_id": request_id,
                    "records_in": stats.records_in,
                    "records_out": stats.records_out,
                    "skipped": stats.skipped,
                    "failures": stats.failures,
                    "outcome": outcome,
                    "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                }
            )
        )


class Publisher(Protocol):
    def publish(self, event: ChangeEvent) -> None:
        """Deliver one event, raising on failure."""


class SnsPublisher:
    """Publishes change events to the topic: the JSON event as the message, plus filter attributes."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, event: ChangeEvent) -> None:
        self._client.publish(
            TopicArn=self._topic_arn,
            Message=_encoder.encode(event).decode(),
            MessageAttributes={
                "type": {"DataType": "String", "StringValue": event.type},
                "owner": {"DataType": "String", "StringValue": event.data.owner},
            },
        )


def publish_batch(
    records: Iterable[Mapping[str, Any]],
    publisher: Publisher,
    source: str,
    stats: Invocation | None = None,
) -> dict[str, Any]:
    """Publish the batch's person changes in order; report the first failure as a partial batch failure.

    Lambda (with ReportBatchItemFailures) retries from the reported record, so nothing after
    it is published now: a person's events stay in stream order, and nothing is sent twice
    by this invocation. A record that cannot be described is reported too, so after the
    bounded retries it lands in the on-failure destination instead of vanishing.
    """
    stats = stats or Invocation(0)
    pending = list(records)
    for index, record in enumerate(pending):
        sequence = str((record.get("dynamodb") or {}).get("SequenceNumber", ""))
        try:
            event = build_event(record, source)
            if event is not None:
                publisher.publish(event)
        except Exception:
            log.exception("cannot publish stream record %s (sequence %s)", record.get("eventID"), sequence)
            stats.failures = len(pending) - index
            return {"batchItemFailures": [{"itemIdentifier": sequence}]}
        if event is None:
            stats.skipped += 1
        else:
            stats.records_out += 1
    return {"batchItemFailures": []}


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


def _expiry(event_time: str, ttl_days: int) -> datetime:
    return datetime.fromisoformat(event_time) + timedelta(days=ttl_days)


def record_notifications(
    records: Iterable[Mapping[str, Any]],
    history: HistoryRepository,
    *,
    ttl_days: int,
    stats: Invocation | None = None,
) -> int:
    """Record each SNS-delivered change event in its person's history; returns how many were new.

    A malformed message is logged and skipped: retrying cannot fix it, and raising would
    only make Lambda redeliver it. A storage failure raises, so Lambda retries the delivery;
    the conditional put makes that retry (and any SNS redelivery) add nothing twice.
    """
    stats = stats or Invocation(0)
    added = 0
    for record in records:
        sns = record.get("Sns") if isinstance(record, Mapping) else None
        message_id = sns.get("MessageId") if isinstance(sns, Mapping) else None
        try:
            if not isinstance(sns, Mapping):
                raise ValueError("the record has no Sns object")
            event = _event_decoder.decode(sns.get("Message") or "")
            change = history_change(event)
            expires_at = _expiry(event.time, ttl_days)
        except (msgspec.DecodeError, ValueError, TypeError) as exc:
            log.warning(
                json.dumps({"event": "malformed_notification", "message_id": message_id, "error": str(exc)})
            )
            stats.skipped += 1
            continue
        if history.record(change, expires_at=expires_at):
            added += 1
            stats.records_out += 1
        else:
            stats.skipped += 1
    return added
