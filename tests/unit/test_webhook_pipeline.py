"""Fan-out and delivery: change events to deliveries, and deliveries to real receivers on loopback.

The queue is a fake that keeps each message with its delay, and a fake clock moves only when the
queue's next message is due, so a day of backoff runs in milliseconds; the receivers are real
HTTP servers on 127.0.0.1 that fail, time out, redirect, answer slowly or hugely, then recover.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from chalicelib import events, outbound
from chalicelib.ports import WebhookEndpoint
from chalicelib.services import Caller
from chalicelib.webhooks import pipeline, retry, service, signing
from tests.fakes import FakeDeliveryQueue, FakeSecretBox, InMemoryHistoryRepository, InMemoryWebhookRepository
from tests.receivers import Received, answer, http_receiver
from tests.support import OWNER, PID, build_event, person_item, record

SOURCE = "people-api/local"
LOCAL = outbound.Policy(allow_loopback=True, timeout=1.0)
ALICE = Caller(OWNER)
ADMIN = Caller("admin-sub", is_admin=True)


class Clock:
    def __init__(self) -> None:
        # Real time, so the standardwebhooks library accepts the first attempt's timestamp.
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class World:
    """The pipeline with fakes around it, and a queue driven by the fake clock."""

    def __init__(self) -> None:
        self.repo = InMemoryWebhookRepository()
        self.box = FakeSecretBox()
        self.queue = FakeDeliveryQueue()
        self.history = InMemoryHistoryRepository({PID: OWNER})
        self.clock = Clock()
        self.deliverer = pipeline.Deliverer(
            self.repo, self.box, self.queue, LOCAL, now=self.clock, rng=lambda: 0.5
        )
        # (due time, body) of messages not yet handed to the deliverer
        self.pending: list[tuple[datetime, str]] = []

    def register(self, url: str, caller: Caller = ALICE, **fields: Any) -> service.WebhookView:
        return service.create_webhook(
            caller, {"url": url, **fields}, self.repo, self.box, LOCAL, clock=self.clock
        )

    def endpoint(self, view: service.WebhookView, owner: str = OWNER) -> WebhookEndpoint:
        found = self.repo.get(owner, view.id)
        assert found is not None
        return found

    def publish(self, kind: str = "INSERT", seq: int = 1, owner: str = OWNER) -> int:
        old = person_item(owner=owner) if kind != "INSERT" else None
        new = person_item(version=2 if old else 1, owner=owner, name="Ada B") if kind != "REMOVE" else None
        event = build_event(record(kind, old, new, seq), SOURCE)
        assert event is not None
        return self.fan_out(events.encode(event))

    def fan_out(self, message: str) -> int:
        sns = {"Sns": {"MessageId": "m-1", "Message": message}}
        return pipeline.fan_out([sns], self.repo, self.queue, self.history, source=SOURCE, now=self.clock)

    def collect(self) -> None:
        for body, delay in self.queue.sent:
            self.pending.append((self.clock.now + timedelta(seconds=delay), body))
        self.queue.sent.clear()

    def run(self, until: datetime | None = None) -> list[timedelta]:
        """Hand out every message when due (up to `until`), moving the clock; the waits between them."""
        waits = []
        self.collect()
        for _ in range(1000):
            self.pending.sort(key=lambda p: p[0])
            if not self.pending or (until is not None and self.pending[0][0] > until):
                if until is not None:
                    self.clock.now = max(self.clock.now, until)
                return waits
            due, body = self.pending.pop(0)
            if due > self.clock.now:
                waits.append(due - self.clock.now)
                self.clock.now = due
            assert self.deliverer.handle_batch([{"messageId": "x", "body": body}]) == {
                "batchItemFailures": []
            }
            self.collect()
        raise AssertionError("the queue never drained")

    def deliveries(self, view: service.WebhookView) -> list[Any]:
        return self.repo.deliveries(view.id, limit=100, after=None).items


@pytest.fixture
def world() -> World:
    return World()


def attempt_statuses(delivery: Any) -> list[int | str | None]:
    return [a.status if a.status is not None else a.error for a in delivery.attempts]


# --- fan-out ----------------------------------------------------------------------------------


def test_an_owners_event_reaches_their_endpoints_and_admins_scope_all_but_nobody_elses(world: World) -> None:
    mine = world.register("http://127.0.0.1:9/a")
    created_only = world.register("http://127.0.0.1:9/b", events=["people.person.created"])
    deletes_only = world.register("http://127.0.0.1:9/c", events=["people.person.deleted"])
    everyone = world.register("http://127.0.0.1:9/d", ADMIN, scope="all")
    admins_own = world.register("http://127.0.0.1:9/e", ADMIN)
    someone_elses = world.register("http://127.0.0.1:9/f", Caller("bob"))
    assert world.publish("INSERT") == 3
    reached = {json.loads(body)["endpoint_id"] for body, _ in world.queue.sent}
    assert reached == {mine.id, created_only.id, everyone.id}
    assert not {deletes_only.id, admins_own.id, someone_elses.id} & reached


def test_a_disabled_endpoint_gets_nothing(world: World) -> None:
    view = world.register("http://127.0.0.1:9/a")
    world.repo.update(OWNER, view.id, {"enabled": False}, at=world.clock.now)
    assert world.publish() == 0


def test_a_redelivered_event_creates_one_delivery_and_one_post_under_one_webhook_id(world: World) -> None:
    with http_receiver(answer(200)) as receiver:
        view = world.register(receiver.url)
        world.publish(seq=7)
        world.publish(seq=7)  # SNS delivers at least once
        (delivery,) = world.deliveries(view)
        bodies = [json.loads(body) for body, _ in world.queue.sent]
        # Both messages are sent (a crash may have come between the put and the send) and name one delivery.
        assert len(bodies) == 2 and {b["key"] for b in bodies} == {delivery.key}
        world.run()
    (delivery,) = world.deliveries(view)
    assert len(delivery.attempts) == 1 and len(receiver.received) == 1


@pytest.mark.parametrize(
    "tamper",
    [
        lambda e: {**e, "source": "people-api/prod"},
        lambda e: {**e, "data": {**e["data"], "owner": "bob"}},  # not the owner the table records
        lambda e: {**e, "subject": "not-a-person"},
    ],
)
def test_events_that_cannot_be_this_stages_changes_are_skipped(world: World, tamper: Any) -> None:
    world.register("http://127.0.0.1:9/a")
    world.register("http://127.0.0.1:9/b", Caller("bob"))
    event = build_event(record("INSERT", None, person_item()), SOURCE)
    assert event is not None
    forged = json.dumps(tamper(json.loads(events.encode(event))))
    assert world.fan_out(forged) == 0 and world.queue.sent == []


def test_a_malformed_notification_is_skipped(world: World) -> None:
    world.register("http://127.0.0.1:9/a")
    assert world.fan_out("{not json") == 0


# --- delivery to real receivers -------------------------------------------------------------


def test_a_delivery_is_signed_to_the_standard_and_succeeds(world: World) -> None:
    with http_receiver(answer(204)) as receiver:
        view = world.register(receiver.url)
        world.publish()
        world.run()
    (seen,) = receiver.received
    payload = Webhook(view.secret).verify(seen.body, seen.headers)
    assert payload["type"] == "people.person.created" and payload["subject"] == PID
    (delivery,) = world.deliveries(view)
    assert seen.headers["webhook-id"] == delivery.id
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["User-Agent"].startswith("people-api-webhooks/")
    assert (delivery.state, attempt_statuses(delivery)) == ("succeeded", [204])


def test_failures_are_retried_on_the_schedule_until_the_receiver_recovers(world: World) -> None:
    answers = [500, 503, 502, 200]

    def flaky(handler: BaseHTTPRequestHandler, seen: Received) -> None:
        answer(answers.pop(0))(handler, seen)

    with http_receiver(flaky) as receiver:
        view = world.register(receiver.url)
        world.publish()
        waits = world.run()
    assert sum(waits, timedelta()) == timedelta(seconds=5) + timedelta(minutes=5) + timedelta(minutes=30)
    (delivery,) = world.deliveries(view)
    assert (delivery.state, attempt_statuses(delivery)) == ("succeeded", [500, 503, 502, 200])
    assert {r.headers["webhook-id"] for r in receiver.received} == {delivery.id}
    assert world.queue.failed == []
    endpoint = world.endpoint(view)
    assert (endpoint.failing_since, endpoint.enabled) == (None, True)


def test_no_more_than_15_minutes_is_asked_of_sqs_and_a_long_wait_is_hopped(world: World) -> None:
    with http_receiver(answer(500)) as receiver:
        view = world.register(receiver.url)
        world.publish()
        world.run()
    (delivery,) = world.deliveries(view)
    assert (delivery.state, len(delivery.attempts)) == ("failed", retry.MAX_ATTEMPTS)
    assert len(receiver.received) == retry.MAX_ATTEMPTS
    gaps = [b.at - a.at for a, b in zip(delivery.attempts, delivery.attempts[1:], strict=False)]
    assert gaps == list(retry.SCHEDULE)  # jitter pinned to zero by rng=0.5
    assert delivery.failure_reason is not None and "HTTP 500" in delivery.failure_reason
    (failed,) = world.queue.failed
    assert json.loads(failed)["key"] == delivery.key


def test_a_receiver_that_is_too_slow_times_out_and_is_retried(world: World) -> None:
    calls = []

    def slow_then_fine(handler: BaseHTTPRequestHandler, seen: Received) -> None:
        calls.append(seen)
        if len(calls) == 1:
            time.sleep(LOCAL.timeout + 0.5)
        answer(200)(handler, seen)

    with http_receiver(slow_then_fine) as receiver:
        view = world.register(receiver.url)
        world.publish()
        world.run()
        receiver.release.set()
    (delivery,) = world.deliveries(view)
    assert attempt_statuses(delivery) == ["timeout", 200]
    assert delivery.state == "succeeded"


def test_a_redirect_is_a_failed_attempt_and_is_not_followed(world: World) -> None:
    with http_receiver(answer(200)) as target:
        answers = [answer(302, headers={"Location": target.url}), answer(200)]

        def redirect_then_ok(handler: BaseHTTPRequestHandler, seen: Received) -> None:
            answers.pop(0)(handler, seen)

        with http_receiver(redirect_then_ok) as receiver:
            view = world.register(receiver.url)
            world.publish()
            world.run()
    assert target.received == []
    (delivery,) = world.deliveries(view)
    assert attempt_statuses(delivery) == [302, 200]


def test_a_huge_answer_is_read_only_up_to_the_limit(world: World) -> None:
    with http_receiver(answer(200, b"x" * (5 * 1024 * 1024))) as receiver:
        view = world.register(receiver.url)
        world.publish()
        world.run()
    (delivery,) = world.deliveries(view)
    assert (delivery.state, attempt_statuses(delivery)) == ("succeeded", [200])


def test_410_gone_disables_the_endpoint_and_its_owner_sees_why(world: World) -> None:
    with http_receiver(answer(410)) as receiver:
        view = world.register(receiver.url)
        world.publish(seq=1)
        world.run()
        world.publish("MODIFY", seq=2)  # not fanned out: the endpoint is disabled
        world.run()
    assert len(receiver.received) == 1
    shown = service.view(world.endpoint(view))
    assert shown.enabled is False and shown.disabled_reason is not None and "410" in shown.disabled_reason


def test_an_endpoint_failing_for_five_days_is_disabled_and_pending_deliveries_stop(world: World) -> None:
    with http_receiver(answer(500)) as receiver:
        view = world.register(receiver.url)
        world.publish(seq=1)
        for seq in range(2, 8):  # a new event each day, and every attempt fails
            world.run(until=world.clock.now + timedelta(days=1))
            world.publish(seq=seq)
        world.run()
    endpoint = world.endpoint(view)
    assert endpoint.enabled is False and endpoint.disabled_reason is not None
    assert "every delivery attempt failed" in endpoint.disabled_reason
    states = {d.state for d in world.deliveries(view)}
    assert states == {"failed"}
    abandoned = [d for d in world.deliveries(view) if d.failure_reason == "the endpoint is disabled"]
    assert abandoned, "deliveries still pending when the endpoint was disabled stop there"
    assert len(receiver.received) < 7 * retry.MAX_ATTEMPTS


def test_after_rotation_deliveries_verify_with_either_secret_for_a_day(world: World) -> None:
    with http_receiver(answer(200)) as receiver:
        view = world.register(receiver.url)
        rotated = service.rotate_secret(ALICE, view.id, world.repo, world.box, clock=world.clock)
        world.publish()
        world.run()
        world.clock.now += service.ROTATION_OVERLAP
        body = b'{"late": true}'
        headers = signing.webhook_headers(
            service.open_secrets(world.endpoint(view), world.box, world.clock.now), "msg_x", 0, body
        )
    (seen,) = receiver.received
    assert len(seen.headers["webhook-signature"].split()) == 2
    for secret in (view.secret, rotated.secret):
        assert isinstance(secret, str)
        assert Webhook(secret).verify(seen.body, seen.headers)["type"] == "people.person.created"
    assert len(headers["webhook-signature"].split()) == 1  # after 24 h: the new secret only
    assert rotated.previous_secret_expires_at is not None
    assert service.view(world.endpoint(view), now=world.clock.now).previous_secret_expires_at is None


def test_a_poison_message_fails_alone_and_a_malformed_one_goes_to_the_failure_queue(world: World) -> None:
    with http_receiver(answer(200)) as receiver:
        view = world.register(receiver.url)
        world.publish()
        ((good, _),) = world.queue.sent
        world.queue.sent.clear()
        real_get = world.repo.get_delivery

        def broken(endpoint_id: str, key: str) -> Any:
            if key.endswith("poison"):
                raise RuntimeError("storage exploded")
            return real_get(endpoint_id, key)

        world.repo.get_delivery = broken  # type: ignore[method-assign]
        poison = json.dumps({**json.loads(good), "key": "x#poison"})
        result = world.deliverer.handle_batch(
            [
                {"messageId": "1", "body": poison},
                {"messageId": "2", "body": "not json"},
                {"messageId": "3", "body": good},
            ]
        )
    assert result == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert world.queue.failed == ["not json"]
    assert len(receiver.received) == 1
    (delivery,) = world.deliveries(view)
    assert delivery.state == "succeeded"


def test_a_deleted_endpoints_delivery_is_dropped(world: World) -> None:
    with http_receiver(answer(200)) as receiver:
        view = world.register(receiver.url)
        world.publish()
        service.delete_webhook(ALICE, view.id, world.repo)
        world.run()
    assert receiver.received == []


def test_a_test_event_is_delivered_to_the_one_endpoint(world: World) -> None:
    with http_receiver(answer(200)) as receiver:
        view = world.register(receiver.url)
        other = world.register(receiver.url.replace("/hooks", "/other"))
        sent = service.send_test(ALICE, view.id, world.repo, world.queue, source=SOURCE, clock=world.clock)
        world.run()
    (seen,) = receiver.received
    payload = Webhook(view.secret).verify(seen.body, seen.headers)
    assert (payload["type"], payload["data"]["webhook_id"], seen.headers["webhook-id"]) == (
        "webhook.test",
        view.id,
        sent.delivery_id,
    )
    assert world.deliveries(other) == []


def test_secrets_never_reach_the_log(world: World, caplog: pytest.LogCaptureFixture) -> None:
    with http_receiver(answer(500)) as receiver:
        view = world.register(receiver.url + "?token=hush")
        world.publish()
        world.run()
    text = caplog.text
    assert isinstance(view.secret, str) and view.secret not in text and "hush" not in text
    assert "webhook_attempt" in text
