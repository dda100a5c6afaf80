"""The webhook handlers' logic: fan change events out to endpoints, and deliver queued attempts.

Change event (SNS) -> `fan_out`: one delivery record (conditional put, keyed by the stable
`webhook-id`) and one queue message per matching endpoint -> delivery queue -> `deliver_batch`:
what `retry.on_message` says (POST now, wait with another hop, or drop), one attempt record per
POST (conditional on the attempt count), the next message or the failure queue.

At least once, never lost: the fan-out sends its messages even when the delivery record already
existed (SNS redelivered the event after a crash between the two); a delivery whose message
comes back is decided from its stored state; any storage or queue error leaves the message for
SQS to hand out again. A poison message fails alone (partial batch failure) and the queue's
redrive policy moves it to the failure queue after a few receives.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import msgspec
from msgspec.structs import replace

from chalicelib import outbound
from chalicelib.logs import Invocation, log, log_json
from chalicelib.ports import (
    AttemptRecord,
    DeliveryQueue,
    DeliveryRecord,
    HistoryRepository,
    SecretBox,
    WebhookEndpoint,
    WebhookRepository,
)
from chalicelib.webhooks import fanout, retry, service, signing

Post = Callable[[str, bytes, Mapping[str, str], outbound.Policy], outbound.Result]


class Message(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A delivery queue message: which delivery, which attempt of it."""

    endpoint_id: str
    owner: str
    key: str  # the delivery's `<event time>#<webhook-id>`
    attempt: int


_message_decoder = msgspec.json.Decoder(Message)


def message_for(delivery: DeliveryRecord, attempt: int) -> str:
    """The queue message body for attempt `attempt` (1-based) of a delivery."""
    return msgspec.json.encode(Message(delivery.endpoint_id, delivery.owner, delivery.key, attempt)).decode()


def subscription(endpoint: WebhookEndpoint) -> fanout.Subscription:
    return fanout.Subscription(
        id=endpoint.id,
        owner=endpoint.owner,
        events=frozenset(endpoint.events) if endpoint.events is not None else None,
        scope=fanout.Scope(endpoint.scope),
        enabled=endpoint.enabled,
    )


# --- fan-out ----------------------------------------------------------------------------------


def fan_out(
    records: Iterable[Mapping[str, Any]],
    repo: WebhookRepository,
    queue: DeliveryQueue,
    history: HistoryRepository,
    *,
    source: str,
    now: Callable[[], datetime] = service.utc_now,
    stats: Invocation | None = None,
) -> int:
    """Queue one delivery per matching endpoint for each SNS-delivered change event; how many.

    Messages that are malformed or cannot be this stage's changes (`notifications.rejection`)
    are logged and skipped; storage and queue errors raise, so Lambda retries the whole
    delivery, and the conditional puts make the retry create nothing twice.
    """
    from chalicelib.notifications import trusted_events

    stats = stats or Invocation(0)
    queued = 0
    for event, text, _ in trusted_events(records, source, history, stats, lambda event: None):
        owner = event.data.owner
        candidates = [*repo.owned_by(owner), *repo.scope_all()]
        chosen = {s.id for s in fanout.recipients(event.type, owner, map(subscription, candidates))}
        moment = now()
        for endpoint in candidates:
            if endpoint.id not in chosen:
                continue
            chosen.discard(endpoint.id)
            delivery = service.new_delivery(endpoint, event.id, event.type, event.time, text, moment)
            repo.add_delivery(delivery, expires_at=moment + service.DELIVERY_RETENTION)
            queue.send(message_for(delivery, attempt=1), delay_seconds=0)
            queued += 1
        stats.records_out += 1
    return queued


# --- delivery ---------------------------------------------------------------------------------


def _as_retry(delivery: DeliveryRecord) -> retry.Delivery:
    return retry.Delivery(
        id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        created_at=delivery.created_at,
        state=retry.State(delivery.state),
        attempts=tuple(retry.Attempt(a.at, a.status, a.error, a.duration_ms) for a in delivery.attempts),
        next_attempt_at=delivery.next_attempt_at,
        failure_reason=delivery.failure_reason,
    )


def _from_retry(stored: DeliveryRecord, decided: retry.Delivery) -> DeliveryRecord:
    return replace(
        stored,
        state=decided.state.value,
        attempts=tuple(AttemptRecord(a.at, a.status, a.error, a.duration_ms) for a in decided.attempts),
        next_attempt_at=decided.next_attempt_at,
        failure_reason=decided.failure_reason,
    )


class Deliverer:
    """Handles delivery queue messages with its collaborators (all passed in, for tests)."""

    def __init__(
        self,
        repo: WebhookRepository,
        box: SecretBox,
        queue: DeliveryQueue,
        policy: outbound.Policy,
        *,
        now: Callable[[], datetime] = service.utc_now,
        rng: retry.Random = random.random,
        post: Post = outbound.post_json,
    ) -> None:
        self.repo = repo
        self.box = box
        self.queue = queue
        self.policy = policy
        self.now = now
        self.rng = rng
        self.post = post

    def handle_batch(
        self, records: Iterable[Mapping[str, Any]], stats: Invocation | None = None
    ) -> dict[str, Any]:
        """Handle each SQS record on its own; report the ones that failed (partial batch failure)."""
        stats = stats or Invocation(0)
        failures = []
        for record in records:
            try:
                if self.handle(str(record.get("body", ""))):
                    stats.records_out += 1
                else:
                    stats.skipped += 1
            except Exception:
                log.exception(
                    "webhook delivery message %s failed; SQS will hand it out again", record.get("messageId")
                )
                failures.append({"itemIdentifier": record.get("messageId")})
        stats.failures = len(failures)
        return {"batchItemFailures": failures}

    def handle(self, body: str) -> bool:
        """Act on one message; True if an attempt was made. Raises to have the message retried."""
        try:
            message = _message_decoder.decode(body)
        except (msgspec.DecodeError, ValueError) as exc:
            # Retrying cannot fix it: keep it where people look at failures, and move on.
            log_json(logging.ERROR, "malformed_delivery_message", error=str(exc))
            self.queue.send_failed(body)
            return False
        delivery = self.repo.get_delivery(message.endpoint_id, message.key)
        if delivery is None:
            log_json(logging.WARNING, "unknown_delivery", endpoint_id=message.endpoint_id, key=message.key)
            return False
        now = self.now()
        action = retry.on_message(_as_retry(delivery), message.attempt, now)
        if isinstance(action, retry.Done):
            return False
        if isinstance(action, retry.Wait):
            self.queue.send(message_for(delivery, action.attempt_number), delay_seconds=action.delay_seconds)
            return False
        endpoint = self.repo.get(delivery.owner, delivery.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            reason = "the endpoint was deleted" if endpoint is None else "the endpoint is disabled"
            abandoned = _from_retry(delivery, retry.abandon(_as_retry(delivery), reason))
            self.repo.save_delivery(abandoned, attempts_before=len(delivery.attempts))
            return False
        return self._attempt(endpoint, delivery, message, now)

    def _attempt(
        self, endpoint: WebhookEndpoint, delivery: DeliveryRecord, message: Message, now: datetime
    ) -> bool:
        body = delivery.payload.encode()
        secrets = service.open_secrets(endpoint, self.box, now)
        headers = signing.webhook_headers(secrets, delivery.id, int(now.timestamp()), body)
        result = self.post(endpoint.url, body, headers, self.policy)
        attempt = retry.attempt_from(result, now)
        decided = retry.record(_as_retry(delivery), attempt, self.rng)
        after = _from_retry(delivery, decided)
        log_json(
            logging.INFO,
            "webhook_attempt",
            webhook_id=delivery.id,
            endpoint_id=endpoint.id,
            url=outbound.loggable_url(endpoint.url),
            attempt=len(after.attempts),
            status=result.status,
            error=result.error.value if result.error is not None else None,
            detail=result.detail[:200],
            duration_ms=result.duration_ms,
            state=after.state,
        )
        if not self.repo.save_delivery(after, attempts_before=len(delivery.attempts)):
            return True  # another copy of this message recorded the attempt first and carries on
        health = retry.EndpointHealth(endpoint.failing_since, endpoint.disabled_at, endpoint.disabled_reason)
        observed = retry.observe(health, attempt)
        if observed != health:
            self.repo.set_health(
                endpoint.owner,
                endpoint.id,
                failing_since=observed.failing_since,
                disabled_at=observed.disabled_at,
                disabled_reason=observed.disabled_reason,
            )
        if after.state == retry.State.PENDING and after.next_attempt_at is not None:
            delay = retry.sqs_delay(now, after.next_attempt_at)
            self.queue.send(message_for(after, message.attempt + 1), delay_seconds=delay)
        elif after.state == retry.State.FAILED:
            self.queue.send_failed(message_for(after, message.attempt))
        return True
