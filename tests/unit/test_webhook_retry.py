"""The retry policy, driven by a fake clock: schedule, jitter, states, SQS hops and endpoint disabling."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler

import msgspec
import pytest

from chalicelib import outbound
from chalicelib.webhooks import retry, signing
from chalicelib.webhooks.retry import Attempt, Deliver, Done, EndpointHealth, State, Wait
from tests.receivers import Received, answer, http_receiver

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def no_jitter() -> float:
    return 0.5


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def advance(self, by: timedelta) -> datetime:
        self.now += by
        return self.now


def failed(at: datetime, status: int | None = 500, error: str | None = None) -> Attempt:
    return Attempt(at=at, status=status, error=error if status is None else None, duration_ms=12)


def succeeded(at: datetime) -> Attempt:
    return Attempt(at=at, status=204, error=None, duration_ms=8)


def test_a_failing_delivery_follows_the_schedule_then_fails() -> None:
    clock = FakeClock()
    delivery = retry.new_delivery("msg_1", "ep_1", "ev_1", "people.person.created", clock.now)
    assert delivery.next_attempt_at == START
    waits = []
    while delivery.state is State.PENDING:
        assert delivery.next_attempt_at is not None
        clock.now = delivery.next_attempt_at
        before = clock.now
        delivery = retry.record(delivery, failed(clock.now), no_jitter)
        if delivery.next_attempt_at:
            waits.append(delivery.next_attempt_at - before)
    assert waits == [
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=10),
    ]
    assert delivery.state is State.FAILED
    assert len(delivery.attempts) == retry.MAX_ATTEMPTS == 8
    assert delivery.next_attempt_at is None
    assert delivery.failure_reason == "all 8 attempts failed (last: HTTP 500)"


def test_jitter_spreads_each_wait_within_twenty_percent() -> None:
    rng = random.Random(7).random
    for retry_number, base in enumerate(retry.SCHEDULE, start=1):
        waits = {retry.backoff(retry_number, rng) for _ in range(50)}
        assert len(waits) > 40, "jitter should vary the wait"
        assert all(w is not None and base * 0.8 <= w <= base * 1.2 for w in waits)
    assert retry.backoff(1, lambda: 0.0) == timedelta(seconds=4)
    assert retry.backoff(len(retry.SCHEDULE) + 1, rng) is None
    assert retry.backoff(0, rng) is None


def test_a_success_ends_the_delivery() -> None:
    delivery = retry.new_delivery("msg_1", "ep_1", "ev_1", "people.person.created", START)
    delivery = retry.record(delivery, failed(START), no_jitter)
    delivery = retry.record(delivery, succeeded(START + timedelta(seconds=5)), no_jitter)
    assert (delivery.state, delivery.next_attempt_at, len(delivery.attempts)) == (State.SUCCEEDED, None, 2)
    with pytest.raises(ValueError):
        retry.record(delivery, succeeded(START + timedelta(minutes=1)), no_jitter)


def test_a_redirect_or_a_timeout_is_a_failed_attempt() -> None:
    delivery = retry.new_delivery("msg_1", "ep_1", "ev_1", "t", START)
    for attempt in (failed(START, 302), failed(START, None, "timeout"), failed(START, 429)):
        delivery = retry.record(delivery, attempt, no_jitter)
        assert delivery.state is State.PENDING


def test_attempt_records_come_from_outbound_results() -> None:
    http_500 = outbound.Result(500, None, "Internal Server Error", 31)
    timed_out = outbound.Result(None, outbound.ErrorKind.TIMEOUT, "no answer", 10000)
    assert retry.attempt_from(http_500, START) == Attempt(START, 500, None, 31)
    assert retry.attempt_from(timed_out, START) == Attempt(START, None, "timeout", 10000)
    assert retry.attempt_from(timed_out, START).describe() == "timeout"


def test_abandoning_fails_a_pending_delivery_only() -> None:
    pending = retry.new_delivery("msg_1", "ep_1", "ev_1", "t", START)
    gone = retry.abandon(pending, "endpoint disabled")
    assert (gone.state, gone.failure_reason, gone.next_attempt_at) == (
        State.FAILED,
        "endpoint disabled",
        None,
    )
    done = retry.record(pending, succeeded(START), no_jitter)
    assert retry.abandon(done, "endpoint disabled") == done


# --- SQS hops ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wait", "delay"),
    [(timedelta(0), 0), (timedelta(seconds=-30), 0), (timedelta(seconds=1.2), 2), (timedelta(hours=10), 900)],
)
def test_sqs_delays_never_exceed_fifteen_minutes(wait: timedelta, delay: int) -> None:
    assert retry.sqs_delay(START, START + wait) == delay


def test_a_ten_hour_wait_is_forty_hops_then_the_attempt() -> None:
    clock = FakeClock()
    delivery = retry.new_delivery("msg_1", "ep_1", "ev_1", "t", START)
    delivery = retry.record(delivery, failed(START), lambda: 0.5)
    due = START + timedelta(hours=10)
    delivery = msgspec.structs.replace(delivery, next_attempt_at=due)
    hops = 0
    while isinstance(action := retry.on_message(delivery, 2, clock.now), Wait):
        assert action.attempt_number == 2
        assert 0 < action.delay_seconds <= 900
        clock.advance(timedelta(seconds=action.delay_seconds))
        hops += 1
    assert action == Deliver()
    assert (hops, clock.now) == (40, due)


def test_duplicate_and_stale_messages_send_nothing_twice() -> None:
    delivery = retry.new_delivery("msg_1", "ep_1", "ev_1", "t", START)
    assert retry.on_message(delivery, 1, START) == Deliver()
    delivery = retry.record(delivery, failed(START), no_jitter)
    # The message for attempt 1 comes back after the attempt was recorded (a crash before the
    # next message was sent): it re-sends the message for attempt 2, due in 5 s.
    assert retry.on_message(delivery, 1, START) == Wait(2, 5)
    assert retry.on_message(delivery, 2, START + timedelta(seconds=5)) == Deliver()
    delivery = retry.record(delivery, failed(START + timedelta(seconds=5)), no_jitter)
    assert retry.on_message(delivery, 1, START + timedelta(seconds=6)) == Done()
    delivery = retry.record(delivery, succeeded(START + timedelta(minutes=6)), no_jitter)
    assert retry.on_message(delivery, 3, START + timedelta(minutes=7)) == Done()
    assert retry.on_message(delivery, 4, START + timedelta(minutes=7)) == Done()


# --- endpoint health --------------------------------------------------------------------------


def test_an_endpoint_failing_continuously_for_five_days_is_disabled() -> None:
    clock = FakeClock()
    health = EndpointHealth()
    while clock.now < START + timedelta(days=5) - timedelta(hours=1):
        health = retry.observe(health, failed(clock.now, 503))
        assert health.enabled
        clock.advance(timedelta(hours=6))
    health = retry.observe(health, failed(START + timedelta(days=5), 503))
    assert not health.enabled
    assert health.disabled_at == START + timedelta(days=5)
    assert health.disabled_reason is not None
    assert "HTTP 503" in health.disabled_reason
    assert START.isoformat() in health.disabled_reason


def test_one_success_restarts_the_five_days() -> None:
    health = EndpointHealth()
    health = retry.observe(health, failed(START))
    health = retry.observe(health, succeeded(START + timedelta(days=3)))
    assert health == EndpointHealth()
    health = retry.observe(health, failed(START + timedelta(days=4)))
    health = retry.observe(health, failed(START + timedelta(days=6)))
    assert health.enabled
    assert health.failing_since == START + timedelta(days=4)


def test_410_gone_disables_at_once_and_stays_disabled() -> None:
    health = retry.observe(EndpointHealth(), failed(START, 410))
    assert not health.enabled
    assert health.disabled_reason is not None
    assert "410" in health.disabled_reason
    assert retry.observe(health, succeeded(START + timedelta(minutes=1))) == health


# --- the policy driving real deliveries ------------------------------------------------------


@dataclass(order=True)
class Message:
    visible_at: datetime
    seq: int
    attempt_number: int = field(compare=False)


class FakeQueue:
    """SQS as the deliverer sees it: messages become visible after their delay (at most 900 s)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.messages: list[Message] = []
        self.sent = 0

    def send(self, attempt_number: int, delay_seconds: int) -> None:
        assert 0 <= delay_seconds <= retry.SQS_MAX_DELAY_SECONDS
        self.sent += 1
        when = self.clock.now + timedelta(seconds=delay_seconds)
        heapq.heappush(self.messages, Message(when, self.sent, attempt_number))

    def receive(self) -> Message | None:
        if not self.messages:
            return None
        message = heapq.heappop(self.messages)
        self.clock.now = max(self.clock.now, message.visible_at)
        return message


def deliver_until_done(
    url: str, secret: str, clock: FakeClock, *, duplicate_first: bool = False
) -> tuple[retry.Delivery, int]:
    """Run the deliverer's loop for one delivery on a fake clock; returns it and the messages sent."""
    body = b'{"type":"people.person.created"}'
    delivery = retry.new_delivery("msg_sim", "ep_1", "ev_1", "people.person.created", clock.now)
    queue = FakeQueue(clock)
    queue.send(1, 0)
    if duplicate_first:
        queue.send(1, 0)  # SQS may deliver a message twice
    policy = outbound.Policy(allow_loopback=True)
    while (message := queue.receive()) is not None:
        action = retry.on_message(delivery, message.attempt_number, clock.now)
        if isinstance(action, Wait):
            queue.send(action.attempt_number, action.delay_seconds)
        elif isinstance(action, Deliver):
            timestamp = int(clock.now.timestamp())
            headers = signing.webhook_headers([secret], delivery.id, timestamp, body)
            result = outbound.post_json(url, body, headers, policy)
            delivery = retry.record(delivery, retry.attempt_from(result, clock.now), random.Random(1).random)
            if delivery.next_attempt_at is not None:
                queue.send(message.attempt_number + 1, retry.sqs_delay(clock.now, delivery.next_attempt_at))
    return delivery, queue.sent


def flaky_until(clock: FakeClock, recovers_at: datetime, seen: list[datetime]) -> Callable[..., None]:
    def respond(handler: BaseHTTPRequestHandler, received: Received) -> None:
        seen.append(clock.now)
        answer(500 if clock.now < recovers_at else 200)(handler, received)

    return respond


def test_a_receiver_down_for_an_hour_gets_the_event_once_it_recovers() -> None:
    clock = FakeClock()
    seen: list[datetime] = []
    secret = signing.generate_secret()
    with http_receiver(flaky_until(clock, START + timedelta(hours=1), seen)) as receiver:
        delivery, sent = deliver_until_done(receiver.url, secret, clock)
    assert delivery.state is State.SUCCEEDED
    # Immediately, ~5 s, ~5 min, ~30 min fail; the retry ~2 h 35 min in succeeds.
    assert [a.ok for a in delivery.attempts] == [False, False, False, False, True]
    assert len(receiver.received) == 5
    assert {r.headers["webhook-id"] for r in receiver.received} == {"msg_sim"}
    offsets = [a.at - START for a in delivery.attempts]
    assert timedelta(hours=2) < offsets[-1] < timedelta(hours=3, minutes=15)
    assert sent > 5  # the 2 h wait took hops of at most 15 minutes
    # Each attempt was signed afresh at its own (fake) time, under the same webhook-id.
    stamps = [int(r.headers["webhook-timestamp"]) for r in receiver.received]
    assert stamps == sorted(stamps) and len(set(stamps)) == 5
    for received, stamp in zip(receiver.received, stamps, strict=True):
        expected = signing.signature_header([secret], "msg_sim", stamp, received.body)
        assert received.headers["webhook-signature"] == expected


def test_a_message_delivered_twice_posts_once_when_the_first_succeeded() -> None:
    clock = FakeClock()
    with http_receiver(answer(204)) as receiver:
        delivery, _ = deliver_until_done(receiver.url, signing.generate_secret(), clock, duplicate_first=True)
    assert delivery.state is State.SUCCEEDED
    assert len(delivery.attempts) == 1
    assert len(receiver.received) == 1


def test_a_delivery_round_trips_through_json_for_queue_and_table() -> None:
    delivery = retry.new_delivery("msg_1", "ep_1", "ev_1", "people.person.created", START)
    delivery = retry.record(delivery, failed(START, None, "timeout"), no_jitter)
    encoded = msgspec.json.encode(delivery)
    assert msgspec.json.decode(encoded, type=retry.Delivery) == delivery
    assert msgspec.json.decode(encoded)["state"] == "pending"
