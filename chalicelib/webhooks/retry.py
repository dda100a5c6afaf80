"""Webhook retry policy: backoff with jitter, attempt records, delivery states and endpoint disabling.

Pure functions of their arguments: the caller passes the time (`now`, or an attempt's `at`) and,
for jitter, a random source, so tests drive them with a fake clock.

The schedule (Standard Webhooks' example, shortened to the issue's): the first attempt at once,
then retries after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, each delay stretched or shrunk by
up to 20 % at random so that receivers recovering from an outage are not hit in lockstep. A 2xx
ends the delivery as `succeeded`; after the eighth failed attempt it is `failed` (and kept in the
failure queue). A delivery spans about 28 hours; an endpoint whose every attempt has failed for
5 days (so: across several deliveries) is disabled, and a 410 Gone disables it at once, as the
spec recommends. Re-enabling it (PATCH `enabled: true`) starts its health afresh.

Waiting longer than SQS allows. A message can be delayed by at most 15 minutes (DelaySeconds
<= 900), and the schedule waits up to 10 hours. The deliverer therefore re-enqueues: each queue
message names the delivery, the attempt it is for and when that attempt is due. On receipt,
`on_message` decides:

- `Deliver`: the attempt is due; POST, `record` the attempt (a conditional write on the attempt
  count: if it fails, another copy of the message got there first; drop this one), then, if
  another attempt is scheduled, send a message for it with `sqs_delay(now, next_attempt_at)`, or
  if the delivery failed for good, send it to the failure queue.
- `Wait(attempt_number, delay_seconds)`: not due yet; send a message for that attempt with that
  DelaySeconds (<= 900) and acknowledge this one. A 10 h wait is 40 such hops, about 130 per delivery in the
  worst case: cheap, and every hop is a fresh message, so the queue's redrive policy
  (maxReceiveCount) still counts only real processing failures and moves a poison message to the
  failure queue without blocking the others.
- `Done`: the delivery has finished or already moved past this attempt (a duplicate message, or a
  hop sent twice around a crash); acknowledge and drop it.

The alternative, extending the message's visibility timeout (up to 12 h), was not chosen: each
wait would count as a receive against maxReceiveCount, so a poison message could not be told
from a patient one, and a Lambda event source mapping owns the visibility of the messages it
hands out. EventBridge Scheduler one-off schedules would also work, at the cost of another
service per stage and locally.

At-least-once: a crash before the attempt is recorded re-delivers the same message after its
visibility timeout, and the same attempt is made again with the same `webhook-id`; a crash
after recording but before the next message is sent is recovered when the message comes back:
the attempt count shows the attempt was made, and `on_message` answers `Wait` for the next one.
Nothing is lost; duplicates are possible, as receivers expect.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final, Protocol

import msgspec
from msgspec.structs import replace

SCHEDULE: Final = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS: Final = 1 + len(SCHEDULE)
JITTER: Final = 0.2
SQS_MAX_DELAY_SECONDS: Final = 900
DISABLE_AFTER: Final = timedelta(days=5)
GONE: Final = 410

# A random source: returns a float in [0, 1), like random.random.
Random = Callable[[], float]


class State(enum.StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Outcome(Protocol):
    """What an attempt produced: `outbound.Result` has this shape."""

    @property
    def status(self) -> int | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def duration_ms(self) -> int: ...


class Attempt(msgspec.Struct, frozen=True):
    """One POST: when it started, the HTTP status or the error kind, and how long it took."""

    at: datetime
    status: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return self.status is not None and 200 <= self.status < 300

    def describe(self) -> str:
        """A short account for people: `HTTP 500`, `timeout`."""
        return f"HTTP {self.status}" if self.status is not None else str(self.error or "unknown error")


def attempt_from(outcome: Outcome, at: datetime) -> Attempt:
    """The attempt record of an outbound result."""
    error = None if outcome.status is not None else str(outcome.error or "unknown error")
    return Attempt(at=at, status=outcome.status, error=error, duration_ms=outcome.duration_ms)


class Delivery(msgspec.Struct, frozen=True):
    """One event to one endpoint, under one `webhook-id` for all its attempts."""

    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    created_at: datetime
    state: State = State.PENDING
    attempts: tuple[Attempt, ...] = ()
    next_attempt_at: datetime | None = None
    failure_reason: str | None = None


def new_delivery(id: str, endpoint_id: str, event_id: str, event_type: str, now: datetime) -> Delivery:
    """A pending delivery whose first attempt is due now."""
    return Delivery(id, endpoint_id, event_id, event_type, created_at=now, next_attempt_at=now)


def backoff(retry: int, rng: Random) -> timedelta | None:
    """The wait before retry number `retry` (1 = the first retry), jittered; None past the last."""
    if not 1 <= retry <= len(SCHEDULE):
        return None
    factor = 1 + JITTER * (2 * rng() - 1)
    return SCHEDULE[retry - 1] * factor


def record(delivery: Delivery, attempt: Attempt, rng: Random) -> Delivery:
    """The delivery after an attempt: succeeded, failed for good, or pending with its next time."""
    if delivery.state is not State.PENDING:
        raise ValueError(f"delivery {delivery.id} is {delivery.state}, not pending")
    attempts = (*delivery.attempts, attempt)
    if attempt.ok:
        return replace(delivery, state=State.SUCCEEDED, attempts=attempts, next_attempt_at=None)
    wait = backoff(len(attempts), rng)
    if wait is None:
        reason = f"all {MAX_ATTEMPTS} attempts failed (last: {attempt.describe()})"
        return replace(
            delivery, state=State.FAILED, attempts=attempts, next_attempt_at=None, failure_reason=reason
        )
    return replace(delivery, attempts=attempts, next_attempt_at=attempt.at + wait)


def abandon(delivery: Delivery, reason: str) -> Delivery:
    """Fail a pending delivery without further attempts (its endpoint was disabled or deleted)."""
    if delivery.state is not State.PENDING:
        return delivery
    return replace(delivery, state=State.FAILED, next_attempt_at=None, failure_reason=reason)


# --- the queue --------------------------------------------------------------------------------


class Deliver(msgspec.Struct, frozen=True):
    """Make the attempt now."""


class Wait(msgspec.Struct, frozen=True):
    """Send a message for attempt `attempt_number` with this DelaySeconds, then acknowledge this one."""

    attempt_number: int
    delay_seconds: int


class Done(msgspec.Struct, frozen=True):
    """Nothing to do for this message: acknowledge and drop it."""


Action = Deliver | Wait | Done


def sqs_delay(now: datetime, due: datetime) -> int:
    """The DelaySeconds that brings a message back at `due`, or as close as SQS allows (<= 900)."""
    seconds = math.ceil((due - now).total_seconds())
    return max(0, min(SQS_MAX_DELAY_SECONDS, seconds))


def on_message(delivery: Delivery, attempt_number: int, now: datetime) -> Action:
    """What to do with a queue message for attempt `attempt_number` (1-based) of this delivery."""
    if delivery.state is not State.PENDING:
        return Done()
    made = len(delivery.attempts)
    delay = sqs_delay(now, delivery.next_attempt_at or now)
    if made == attempt_number - 1:
        return Deliver() if delay == 0 else Wait(attempt_number, delay)
    if made == attempt_number:
        # This attempt was recorded, but the message came back: the crash may have come before
        # the next attempt's message was sent, so send it (a duplicate at worst).
        return Wait(attempt_number + 1, delay)
    return Done()


# --- endpoint health --------------------------------------------------------------------------


class EndpointHealth(msgspec.Struct, frozen=True):
    """Whether an endpoint is failing, since when, and whether it was disabled (and why)."""

    failing_since: datetime | None = None
    disabled_at: datetime | None = None
    disabled_reason: str | None = None

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None


def observe(health: EndpointHealth, attempt: Attempt) -> EndpointHealth:
    """The endpoint's health after one of its attempts; disables it when the rules say so.

    Stored, this is: on success REMOVE failing_since; on failure SET failing_since =
    if_not_exists(failing_since, attempt time), then disable when the window has passed.
    """
    if not health.enabled:
        return health
    if attempt.ok:
        return EndpointHealth()
    since = health.failing_since or attempt.at
    if attempt.status == GONE:
        reason = "the receiver answered 410 Gone: it asked for no more deliveries"
        return EndpointHealth(failing_since=since, disabled_at=attempt.at, disabled_reason=reason)
    if attempt.at - since >= DISABLE_AFTER:
        reason = (
            f"every delivery attempt failed from {since.isoformat()} to {attempt.at.isoformat()} "
            f"(last: {attempt.describe()})"
        )
        return EndpointHealth(failing_since=since, disabled_at=attempt.at, disabled_reason=reason)
    return EndpointHealth(failing_since=since)
