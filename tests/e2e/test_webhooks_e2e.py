"""Webhooks through the real local stack: register a loopback receiver over HTTP, write a person,
receive the signed event, verify it with the `standardwebhooks` library, rotate, verify with both."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from devstack.background import BackgroundStack
from devstack.tokens import id_token
from tests.e2e.http import request
from tests.receivers import Received, answer, http_receiver

pytestmark = pytest.mark.e2e

WAIT_SECONDS = 30


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def of_type(received: list[Received], event_type: str) -> list[Received]:
    return [r for r in received if b'"type":"' + event_type.encode() + b'"' in r.body]


def test_a_write_reaches_a_registered_receiver_signed_and_rotation_signs_with_both(
    local_stack: BackgroundStack,
) -> None:
    token = id_token(local_stack.info, "webhook-e2e-alice")
    api = local_stack.api_url
    with http_receiver(answer(204)) as receiver:
        created = request(api, "POST", "/webhooks", token=token, body={"url": receiver.url})
        assert created.status == 201, created.raw
        endpoint = created.json()
        secret = endpoint["secret"]

        person = request(api, "POST", "/people", token=token, body={"name": "Ada"}).json()
        (seen,) = wait_for(lambda: of_type(receiver.received, "people.person.created"), "the created event")
        payload = Webhook(secret).verify(seen.body, seen.headers)
        assert (payload["subject"], payload["data"]["after"]["name"]) == (person["id"], "Ada")

        rotated = request(api, "POST", f"/webhooks/{endpoint['id']}/secret", token=token)
        assert rotated.status == 200, rotated.raw
        new_secret = rotated.json()["secret"]
        patched = request(
            api,
            "PATCH",
            f"/people/{person['id']}",
            token=token,
            body={"name": "Ada King"},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert patched.status == 200, patched.raw
        (update,) = wait_for(lambda: of_type(receiver.received, "people.person.updated"), "the updated event")
        assert len(update.headers["webhook-signature"].split()) == 2
        for key in (secret, new_secret):
            assert Webhook(key).verify(update.body, update.headers)["data"]["after"]["name"] == "Ada King"

        deliveries = wait_for(
            lambda: [
                d
                for d in request(api, "GET", f"/webhooks/{endpoint['id']}/deliveries", token=token).json()
                if d["state"] == "succeeded"
            ],
            "both deliveries to be recorded",
        )
        assert {d["event_type"] for d in deliveries} >= {"people.person.created"}
        assert all(d["attempts"][-1]["status"] == 204 for d in deliveries)


def test_a_failing_receiver_is_retried_with_the_same_webhook_id(local_stack: BackgroundStack) -> None:
    token = id_token(local_stack.info, "webhook-e2e-bob")
    api = local_stack.api_url
    answers = [503]

    def fail_once(handler: Any, seen: Received) -> None:
        answer(answers.pop(0) if answers else 200)(handler, seen)

    with http_receiver(fail_once) as receiver:
        endpoint = request(api, "POST", "/webhooks", token=token, body={"url": receiver.url}).json()
        sent = request(api, "POST", f"/webhooks/{endpoint['id']}/test", token=token)
        assert sent.status == 202, sent.raw
        # The first retry waits about 5 s: SQS DelaySeconds in the emulator, as on AWS.
        first, second = wait_for(
            lambda: receiver.received[:2] if len(receiver.received) >= 2 else None, "a retry"
        )
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == sent.json()["delivery_id"]
    Webhook(endpoint["secret"]).verify(second.body, second.headers)
    (delivery,) = wait_for(
        lambda: [
            d
            for d in request(api, "GET", f"/webhooks/{endpoint['id']}/deliveries", token=token).json()
            if d["state"] == "succeeded"
        ],
        "the delivery to succeed",
    )
    assert [a["status"] for a in delivery["attempts"]] == [503, 200]
