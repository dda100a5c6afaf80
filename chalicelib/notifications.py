"""The change pipeline's handlers: stream records -> one SNS message per change -> history.

A write to a person item -> DynamoDB stream record -> `publish_batch` (one CloudEvent per
person change) -> SNS topic -> `record_notifications` (one history entry per change,
idempotent by change). The collaborators (stream reader, publisher, history) are passed in.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import msgspec

from chalicelib import events
from chalicelib.domain import canonical_id
from chalicelib.logs import Invocation, log, log_json
from chalicelib.ports import HistoryRepository, PersonChange, Publisher, StreamReader, TagIndex
from chalicelib.search import tag_moves

T = TypeVar("T")


def index_tags(change: PersonChange, tags: TagIndex) -> None:
    """Bring the person's tag entries up to this change, as DynamoDB brings a GSI up to a write:
    a copy of the person under every tag they now have, none under the tags they lost (all of
    them on delete). Each write is conditional on the person's version, so a redelivered or
    older change changes nothing."""
    moves = tag_moves(change.before, change.after)
    for tag in sorted(moves.remove):
        tags.remove(change.owner, tag, change.person_id, version=change.version)
    if change.after is not None:
        for tag in sorted(moves.write):
            tags.write(tag, change.after)


def publish_batch(
    records: Iterable[Mapping[str, Any]],
    read: StreamReader,
    publisher: Publisher,
    source: str,
    stats: Invocation | None = None,
    tags: TagIndex | None = None,
) -> dict[str, Any]:
    """Publish the batch's person changes in order; report the first failure as a partial batch failure.

    With `tags`, each change first updates the tag entries (`index_tags`), then is published:
    a failure of either is the record's failure, and the retry repeats the tag writes (which
    are conditional on the version, so they change nothing twice) before publishing once.

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
            change = read(record)
            if change is not None:
                if tags is not None:
                    index_tags(change, tags)
                event = events.change_event(change, source)
                publisher.publish(events.encode(event), events.attributes(event))
        except Exception:
            log.exception("cannot publish stream record %s (sequence %s)", record.get("eventID"), sequence)
            stats.failures = len(pending) - index
            return {"batchItemFailures": [{"itemIdentifier": sequence}]}
        if change is None:
            stats.skipped += 1
        else:
            stats.records_out += 1
    return {"batchItemFailures": []}


def rejection(event: events.ChangeEvent, source: str, history: HistoryRepository) -> str | None:
    """Why an event cannot be a change this stage's stream published, or None if it can.

    Only the stream handler may publish to the topic (its policy says so), but the handler
    trusts no message: the source must be this stage's, the subject a person id, and the owner
    the one the table records for that person (one consistent read).
    """
    if event.source != source:
        return f"source {event.source[:80]!r} is not {source!r}"
    if canonical_id(event.subject) != event.subject:
        return "the subject is not a person id"
    if history.owner_of(event.subject) != event.data.owner:
        return "the owner is not the one the table records for this person"
    return None


def trusted_events(
    records: Iterable[Mapping[str, Any]],
    source: str,
    history: HistoryRepository,
    stats: Invocation,
    parse: Callable[[events.ChangeEvent], T],
) -> Iterator[tuple[events.ChangeEvent, str, T]]:
    """The change events of SNS records, with their message text and what `parse` makes of them.

    Every subscriber of the topic reads its records through this: a malformed message (including
    one `parse` refuses with ValueError or TypeError) and one that cannot be this stage's change
    (`rejection`) are logged and counted as skipped, never raised.
    """
    for record in records:
        sns = record.get("Sns") if isinstance(record, Mapping) else None
        message_id = sns.get("MessageId") if isinstance(sns, Mapping) else None
        try:
            if not isinstance(sns, Mapping):
                raise ValueError("the record has no Sns object")
            text = sns.get("Message") or ""
            event = events.decode(text)
            parsed = parse(event)
        except (msgspec.DecodeError, ValueError, TypeError) as exc:
            log_json(logging.WARNING, "malformed_notification", message_id=message_id, error=str(exc))
            stats.skipped += 1
            continue
        rejected = rejection(event, source, history)
        if rejected is not None:
            log_json(
                logging.WARNING,
                "rejected_notification",
                message_id=message_id,
                event_id=event.id,
                reason=rejected,
            )
            stats.skipped += 1
            continue
        yield event, text, parsed


def record_notifications(
    records: Iterable[Mapping[str, Any]],
    history: HistoryRepository,
    *,
    ttl_days: int,
    source: str,
    stats: Invocation | None = None,
) -> int:
    """Record each SNS-delivered change event in its person's history; returns how many were new.

    A malformed message, or one that cannot be this stage's change (`rejection`), is logged
    and skipped: retrying cannot fix it, and raising would only make Lambda redeliver it. A
    storage failure raises, so Lambda retries the delivery; the conditional put makes that
    retry (and any SNS redelivery) add nothing twice.
    """
    stats = stats or Invocation(0)
    added = 0
    expiring = functools.partial(events.history_expiry, ttl_days=ttl_days)
    for event, _, expires_at in trusted_events(records, source, history, stats, expiring):
        if history.record(events.history_change(event), expires_at=expires_at):
            added += 1
            stats.records_out += 1
        else:
            stats.skipped += 1
    return added
