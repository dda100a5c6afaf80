"""Standard Webhooks signing, checked against the spec's published vectors and its reference library."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib.webhooks import signing

# The fixed vector the Standard Webhooks libraries publish in their own test suites
# (Python, JavaScript and Go alike): sign(key, id, timestamp, payload) == expected.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_PAYLOAD = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_published_vector() -> None:
    assert signing.sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD) == VECTOR_SIGNATURE


def test_one_changed_byte_of_the_body_changes_the_signature() -> None:
    other = signing.sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, b'{"test": 2432232315}')
    assert other != VECTOR_SIGNATURE


def test_headers_carry_id_timestamp_and_signature() -> None:
    headers = signing.webhook_headers([VECTOR_SECRET], VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD)
    assert headers == {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": "1614265330",
        "webhook-signature": VECTOR_SIGNATURE,
    }


def test_generated_secrets_are_random_whsec_keys_of_32_bytes() -> None:
    first, second = signing.generate_secret(), signing.generate_secret()
    assert first != second
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 32


def test_the_reference_library_verifies_what_is_signed() -> None:
    secret = signing.generate_secret()
    body = b'{"type":"people.person.created","data":{"name":"Ada L\xc3\xb6velace"}}'
    headers = signing.webhook_headers([secret], "msg_01JABC", int(time.time()), body)
    assert Webhook(secret).verify(body, headers)["type"] == "people.person.created"


def test_during_a_rotation_both_the_old_and_the_new_secret_verify() -> None:
    old, new = signing.generate_secret(), signing.generate_secret()
    body = b'{"type":"webhook.test"}'
    headers = signing.webhook_headers([new, old], "msg_rotating", int(time.time()), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.generate_secret()).verify(body, headers)


def test_a_tampered_body_does_not_verify() -> None:
    secret = signing.generate_secret()
    headers = signing.webhook_headers([secret], "msg_x", int(time.time()), b'{"a":1}')
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"a":2}', headers)


def test_the_same_secret_twice_signs_once() -> None:
    secret = signing.generate_secret()
    header = signing.signature_header([secret, secret], "msg_x", 1, b"{}")
    assert header.count("v1,") == 1


def test_a_delivery_needs_at_least_one_secret() -> None:
    with pytest.raises(signing.InvalidSecret):
        signing.signature_header([], "msg_x", 1, b"{}")


@pytest.mark.parametrize(
    "secret",
    [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # no prefix
        "whsec_",  # empty
        "whsec_not base64!",
        "whsec_" + base64.b64encode(b"x" * 23).decode(),  # shorter than the spec's 24 bytes
        "whsec_" + base64.b64encode(b"x" * 65).decode(),
    ],
)
def test_malformed_secrets_are_refused(secret: str) -> None:
    with pytest.raises(signing.InvalidSecret):
        signing.sign(secret, "msg_x", 1, b"{}")


@pytest.mark.parametrize("message_id", ["", "msg.with.dots", "msg id", "é", "x" * 129])
def test_ids_that_could_shift_the_signed_fields_are_refused(message_id: str) -> None:
    with pytest.raises(ValueError):
        signing.sign(VECTOR_SECRET, message_id, 1, b"{}")


def test_a_rotated_out_secret_signs_until_it_expires() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    previous = [("whsec_old", now + timedelta(hours=24))]
    assert signing.live_secrets("whsec_new", previous, now) == ["whsec_new", "whsec_old"]
    later = now + timedelta(hours=24)
    assert signing.live_secrets("whsec_new", previous, later) == ["whsec_new"]
