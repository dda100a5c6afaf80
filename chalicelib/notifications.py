"""The change pipeline's handlers: stream records -> one SNS message per change -> history.

A write to a person item -> DynamoDB stream record -> `publish_batch` (one CloudEvent per
person change) -> SNS topic -> `record_notifications` (one history entry per change,
idempotent by change). The collaborators (stream reader, publisher, history) are passed in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from chalicelib import events
from chalicelib.logs import Invocation, log, log_json
from chalicelib.ports import HistoryRepository, Publisher, StreamReader


def publish_batch(
    records: Iterable[Mapping[str, Any]],
    read: StreamReader,
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
            change = read(record)
            if change is not None:
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
            event = events.decode(sns.get("Message") or "")
            change = events.history_change(event)
            expires_at = events.history_expiry(event, ttl_days)
        except (msgspec.DecodeError, ValueError, TypeError) as exc:
            log_json(logging.WARNING, "malformed_notification", message_id=message_id, error=str(exc))
            stats.skipped += 1
            continue
        if history.record(change, expires_at=expires_at):
            added += 1
            stats.records_out += 1
        else:
            stats.skipped += 1
    return added
