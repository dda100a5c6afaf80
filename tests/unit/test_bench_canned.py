"""The benchmark's canned AWS answers for the webhook handlers: the items read back as the app
reads them, and every cold-start target runs whole in a fresh process on them."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest

from devstack import ROOT


def test_the_canned_endpoint_reads_back_through_the_model() -> None:
    from bench import canned
    from chalicelib.adapters import keys, webhook_items
    from chalicelib.adapters.models import WebhookModel

    item = canned.webhook_item()
    assert (item["pk"]["S"], item["sk"]["S"]) == (
        keys.owner_pk(canned.OWNER),
        keys.webhook_sk(canned.ENDPOINT_ID),
    )
    assert WebhookModel.from_raw_data(item).id == canned.ENDPOINT_ID
    endpoint = webhook_items.endpoint_of(item)  # as the app reads it
    assert (endpoint.id, endpoint.owner, endpoint.scope) == (canned.ENDPOINT_ID, canned.OWNER, "own")
    assert endpoint.enabled and endpoint.events is None and endpoint.secret == canned.SEALED_SECRET
    assert canned._SCOPE_ALL.decode() == keys.SCOPE_ALL_LISTING


def test_the_canned_delivery_is_the_one_the_fan_out_makes_and_is_due() -> None:
    from bench import canned
    from chalicelib import events
    from chalicelib.adapters import keys, webhook_items
    from chalicelib.adapters.models import DeliveryModel
    from chalicelib.webhooks import fanout, pipeline, retry

    event = events.decode(canned.change_message())
    assert fanout.delivery_id(event.id, canned.ENDPOINT_ID) == canned.DELIVERY_ID
    assert event.time == canned.EVENT_TIME
    assert DeliveryModel.from_raw_data(canned.delivery_item()).id == canned.DELIVERY_ID
    delivery = webhook_items.delivery_of(canned.delivery_item())  # as the app reads it
    item = canned.delivery_item()
    assert (item["pk"]["S"], item["sk"]["S"]) == (
        keys.deliveries_pk(canned.ENDPOINT_ID),
        keys.delivery_sk(delivery.key),
    )
    assert (delivery.id, delivery.endpoint_id, delivery.owner) == (
        canned.DELIVERY_ID,
        canned.ENDPOINT_ID,
        canned.OWNER,
    )
    assert delivery.payload == canned.change_message()
    message = pipeline._message_decoder.decode(canned.delivery_message())
    assert message == pipeline._message_decoder.decode(pipeline.message_for(delivery, attempt=1))
    action = retry.on_message(pipeline._as_retry(delivery), message.attempt, delivery.created_at)
    assert isinstance(action, retry.Deliver)
    done = webhook_items.delivery_of(canned.delivery_item("succeeded", attempts=1))
    assert done.state == retry.State.SUCCEEDED


def test_the_canned_decrypt_answer_is_a_signing_secret() -> None:
    from bench import canned
    from chalicelib.webhooks import signing

    assert base64.b64decode(canned.SECRET_PLAINTEXT_B64).decode() == canned.SECRET
    assert len(signing.secret_key(canned.SECRET)) == signing.SECRET_BYTES


def test_the_webhook_statuses_need_the_whole_work(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import canned, cold_child

    monkeypatch.setattr(canned, "SENT", dict(cold_child.DELIVER_SENT))
    assert cold_child._deliver_status({"batchItemFailures": []}) == 200
    # A failed POST queues the retry; no POST reached the receiver.
    monkeypatch.setattr(canned, "SENT", {**cold_child.DELIVER_SENT, "POST": 0, "SendMessage": 1})
    assert cold_child._deliver_status({"batchItemFailures": []}) == 500
    monkeypatch.setattr(canned, "SENT", dict(cold_child.FAN_OUT_SENT))
    assert cold_child._fan_out_status() == 200
    monkeypatch.setattr(
        canned, "SENT", {k: v for k, v in cold_child.FAN_OUT_SENT.items() if k != "SendMessage"}
    )
    assert cold_child._fan_out_status() == 500


def test_every_cold_start_target_exists() -> None:
    from bench import cold_child, coldstart

    named = {t for c in coldstart.COLD_STARTS for t in (c.target, c.floor)} | {coldstart.BARE}
    assert named <= set(cold_child.TARGETS)
    assert {"webhook_fan_out", "webhook_deliver"} <= named


@pytest.mark.parametrize(
    "target", ["webhook_fan_out", "floor_webhook_fan_out", "webhook_deliver", "floor_webhook_deliver"]
)
def test_the_webhook_cold_starts_do_the_whole_work(target: str) -> None:
    from bench import canned

    # What the function sees and nothing else, as in `make bench`.
    base = {k: os.environ[k] for k in ("PATH", "HOME", "SYSTEMROOT") if k in os.environ}
    env = {**base, **canned.lambda_environment(), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "bench.cold_child", target],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["status"] == 200, result.stderr
