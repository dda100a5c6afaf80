"""Stream -> publisher -> SNS -> SQS -> subscriber on the emulator, driven by the local pump.

The pump is stepped by hand here (no threads), so each test decides when the stream and
the queue are read; the handlers it invokes are the real ones from app.py.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import services
from chalicelib.wiring import history_repo, people_repo, sns_client
from devstack.provision import StackInfo, client
from devstack.pump import Pump, app_pump


@pytest.fixture(scope="module")
def pump(stack: StackInfo) -> Pump:
    return app_pump(stack, max_retry_attempts=1000)


@pytest.fixture(scope="module")
def api(chalice_app: Any) -> Iterator[Client]:
    with Client(chalice_app, stage_name="local") as c:
        yield c


def settle(pump: Pump, done: Callable[[], bool], timeout: float = 30) -> None:
    """Step the pump until `done()`; the deadline only keeps a broken pipeline from hanging."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the pipeline did not deliver in time"
        pump.pump_stream()
        pump.pump_queue(wait_seconds=0)


def entries(person_id: str, owner: str) -> list[Any]:
    page = services.person_history(
        services.Caller(owner, True), person_id, history_repo(), limit=100, before=None
    )
    return list(page.items)


def history_count(person_id: str) -> int:
    return len(history_repo().page(person_id, limit=100, before=None).items)


def new_user() -> services.Caller:
    return services.Caller(f"user-{uuid.uuid4()}")


def audit_queue(stack: StackInfo, **attributes: str) -> str:
    """Another subscriber of the topic, as other teams would add."""
    sqs = client("sqs", stack.endpoint)
    url = str(sqs.create_queue(QueueName=f"audit-{uuid.uuid4().hex[:8]}")["QueueUrl"])
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns = client("sns", stack.endpoint)
    arn = sns.subscribe(TopicArn=stack.topic_arn, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
    for name, value in attributes.items():
        sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName=name, AttributeValue=value)
    return url


def drain(stack: StackInfo, url: str) -> list[dict[str, Any]]:
    sqs = client("sqs", stack.endpoint)
    bodies = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_every_write_reaches_the_history_through_stream_sns_and_queue(pump: Pump) -> None:
    owner, admin = new_user(), services.Caller("root", is_admin=True)
    repo = people_repo()
    person = services.create_person(owner, {"name": "Ada"}, repo)
    services.update_person(admin, person.id, {"email": "ada@example.com"}, repo, None, mode="patch")
    services.update_person(owner, person.id, {"name": "Ada L"}, repo, None, mode="replace")
    services.delete_person(owner, person.id, repo, None)
    settle(pump, lambda: history_count(person.id) == 4)
    history = entries(person.id, owner.sub)
    assert [(e.type, e.actor, e.changed_fields) for e in history] == [
        ("people.person.deleted", owner.sub, ["name"]),
        ("people.person.updated", owner.sub, ["name", "email"]),
        ("people.person.updated", admin.sub, ["email"]),
        ("people.person.created", owner.sub, ["name"]),
    ]
    assert history[1].before is not None and history[1].before.email == "ada@example.com"
    assert history[0].after is None


def test_other_subscribers_can_filter_on_the_type_attribute(pump: Pump, stack: StackInfo) -> None:
    deletes = audit_queue(stack, FilterPolicy=json.dumps({"type": ["people.person.deleted"]}))
    owner, repo = new_user(), people_repo()
    person = services.create_person(owner, {"name": "Bo"}, repo)
    services.delete_person(owner, person.id, repo, None)
    settle(pump, lambda: history_count(person.id) == 2)
    received = [json.loads(b["Message"]) for b in drain(stack, deletes)]
    mine = [e for e in received if e["subject"] == person.id]
    assert [e["type"] for e in mine] == ["people.person.deleted"]
    assert all(e["type"] == "people.person.deleted" for e in received)


def test_a_whole_batch_failing_to_publish_is_retried_until_nothing_is_lost(pump: Pump) -> None:
    from botocore.exceptions import EndpointConnectionError

    def outage(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://sns.invalid")

    settle(pump, lambda: pump.pump_stream() == 0)  # start from a drained stream
    sns_events = sns_client().meta.events
    sns_events.register("before-call.sns.Publish", outage, unique_id="outage")
    owner, repo = new_user(), people_repo()
    try:
        people = [services.create_person(owner, {"name": f"P{i}"}, repo) for i in range(3)]
        failures = pump.stats.stream_failures
        settle(pump, lambda: pump.stats.stream_failures >= failures + 2)
        assert all(history_count(p.id) == 0 for p in people)
    finally:
        sns_events.unregister("before-call.sns.Publish", unique_id="outage")
    settle(pump, lambda: all(history_count(p.id) == 1 for p in people))
    for _ in range(3):  # nothing more arrives later either
        pump.pump_stream()
        pump.pump_queue(wait_seconds=0)
    assert [history_count(p.id) for p in people] == [1, 1, 1]
    assert pump.stats.sent_to_on_failure_destination == []


def test_the_same_notification_delivered_three_times_is_recorded_once(pump: Pump, stack: StackInfo) -> None:
    copies = audit_queue(stack)
    owner = new_user()
    person = services.create_person(owner, {"name": "Cy"}, people_repo())
    settle(pump, lambda: history_count(person.id) == 1)
    (notification,) = [b for b in drain(stack, copies) if json.loads(b["Message"])["subject"] == person.id]
    sqs = client("sqs", stack.endpoint)
    invocations = pump.stats.sns_invocations
    for _ in range(3):
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(notification))
    settle(pump, lambda: pump.stats.sns_invocations >= invocations + 3)
    assert history_count(person.id) == 1


def test_a_malformed_notification_is_skipped_without_poisoning_the_subscription(
    pump: Pump, stack: StackInfo
) -> None:
    sqs = client("sqs", stack.endpoint)
    bad = {"Type": "Notification", "MessageId": "bad-1", "TopicArn": stack.topic_arn, "Message": "{oops"}
    failures = pump.stats.sns_failures
    sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(bad))
    owner = new_user()
    person = services.create_person(owner, {"name": "Di"}, people_repo())
    settle(pump, lambda: history_count(person.id) == 1)
    assert pump.stats.sns_failures == failures


def test_a_poison_record_goes_to_the_on_failure_destination_after_bounded_retries(stack: StackInfo) -> None:
    import app as app_module

    strict = Pump(stack, app_module.publish_changes, app_module.record_notification, max_retry_attempts=2)
    owner = new_user()
    person = services.create_person(owner, {"name": "Ed"}, people_repo())
    poisoned: list[str] = []

    def fail_on_ed(payload: dict[str, Any], context: Any) -> Any:
        for item in payload["Records"]:
            if item["dynamodb"]["Keys"]["pk"]["S"] == f"PERSON#{person.id}":
                poisoned.append(item["dynamodb"]["SequenceNumber"])
                return {"batchItemFailures": [{"itemIdentifier": poisoned[-1]}]}
        return {"batchItemFailures": []}

    strict.stream_handler = fail_on_ed
    settle(strict, lambda: bool(strict.stats.sent_to_on_failure_destination))
    (sent,) = strict.stats.sent_to_on_failure_destination
    assert sent["sequence"] == poisoned[0]
    assert len(poisoned) == 3  # the first attempt and two retries, then the shard moves on
    settle(strict, lambda: strict.pump_stream() == 0)
    assert len(poisoned) == 3


def test_history_pages_newest_first_for_the_owner_and_admins_only(
    pump: Pump, api: Client, token_for: Callable[..., str]
) -> None:
    tag = uuid.uuid4().hex[:8]
    owner, other, admin = (
        token_for(f"h-owner-{tag}"),
        token_for(f"h-other-{tag}"),
        token_for("root", "admins"),
    )

    def call(method: str, path: str, token: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        return api.http.request(
            method, path, headers=headers, body=json.dumps(body).encode() if body else b""
        )

    person = json.loads(call("POST", "/people", owner, {"name": "Fay"}).body)
    for n in range(3):
        call("PATCH", f"/people/{person['id']}", admin if n == 1 else owner, {"notes": f"n{n}"})
    call("DELETE", f"/people/{person['id']}", owner)
    settle(pump, lambda: history_count(person["id"]) == 5)

    seen, path = [], f"/people/{person['id']}/history?limit=2"
    while path:
        response = call("GET", path, owner)
        assert response.status_code == 200
        seen.extend(json.loads(response.body))
        link = response.headers.get("Link")
        path = link[1 : link.index(">")] if link else ""
    assert [(e["type"], (e["after"] or {}).get("notes")) for e in seen] == [
        ("people.person.deleted", None),
        ("people.person.updated", "n2"),
        ("people.person.updated", "n1"),
        ("people.person.updated", "n0"),
        ("people.person.created", None),
    ]
    assert set(seen[0]) == {"id", "type", "time", "actor", "changed_fields", "before", "after"}
    assert call("GET", f"/people/{person['id']}/history", admin).status_code == 200
    assert call("GET", f"/people/{person['id']}/history", other).status_code == 404
    first = call("GET", f"/people/{person['id']}/history?limit=1", owner).headers["Link"]
    cursor = first[first.index("cursor=") + 7 : first.index(">")]
    stranger = json.loads(call("POST", "/people", owner, {"name": "Gus"}).body)
    reused = call("GET", f"/people/{stranger['id']}/history?cursor={cursor}", owner)
    assert reused.status_code == 400


def test_an_idempotent_create_and_its_replays_publish_one_created_event(pump: Pump, stack: StackInfo) -> None:
    # The key record shares the table (and the stream) with the person: it must publish nothing.
    created_events = audit_queue(stack)
    owner, repo = new_user(), people_repo()
    first = services.create_person_once(owner, {"name": "Ida"}, "key-1", repo).person
    for _ in range(2):
        assert services.create_person_once(owner, {"name": "Ida"}, "key-1", repo).replayed
    settle(pump, lambda: history_count(first.id) == 1)
    for _ in range(3):  # nothing more arrives later either
        pump.pump_stream()
        pump.pump_queue(wait_seconds=0)
    received = [json.loads(b["Message"]) for b in drain(stack, created_events)]
    mine = [e for e in received if e["data"]["owner"] == owner.sub]
    assert [(e["type"], e["subject"]) for e in mine] == [("people.person.created", first.id)]
    assert [e.type for e in entries(first.id, owner.sub)] == ["people.person.created"]
