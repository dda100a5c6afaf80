"""Standard Webhooks signing: `whsec_` secrets, `v1` HMAC-SHA256 signatures and the three headers.

The signed content is `{webhook-id}.{webhook-timestamp}.{body}` (the exact body bytes sent). During
a secret rotation a delivery carries one signature per live secret, space-separated, and a
receiver accepts it if any one matches. The timestamp is the time of the attempt, not of the
event, so each retry is signed afresh: receivers reject timestamps outside a few minutes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final

SECRET_PREFIX: Final = "whsec_"
# The spec asks for random secrets of 24 to 64 bytes; 32 bytes is one HMAC-SHA256 block's worth.
SECRET_BYTES: Final = 32
MIN_SECRET_BYTES: Final = 24
MAX_SECRET_BYTES: Final = 64

HEADER_ID: Final = "webhook-id"
HEADER_TIMESTAMP: Final = "webhook-timestamp"
HEADER_SIGNATURE: Final = "webhook-signature"

# The id and timestamp are joined with "." before signing, so neither may contain one.
_MESSAGE_ID = re.compile(r"[A-Za-z0-9_\-]{1,128}")


class InvalidSecret(ValueError):
    """A signing secret that is not `whsec_` + base64 of 24 to 64 bytes."""


def generate_secret() -> str:
    """A new random signing secret in the spec's `whsec_<base64>` form."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a `whsec_` secret; raise InvalidSecret if it is malformed."""
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecret("a signing secret starts with 'whsec_'")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecret("a signing secret is base64 after 'whsec_'") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise InvalidSecret(f"a signing secret holds {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of a delivery."""
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ValueError("a webhook id is 1 to 128 characters of [A-Za-z0-9_-]")
    if timestamp < 0:
        raise ValueError("a webhook timestamp is seconds since the epoch")
    signed = b"%s.%d.%s" % (message_id.encode("ascii"), timestamp, body)
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: one signature per distinct secret, space-separated."""
    if not secrets_:
        raise InvalidSecret("a delivery is signed with at least one secret")
    distinct = list(dict.fromkeys(secrets_))
    return " ".join(sign(secret, message_id, timestamp, body) for secret in distinct)


def webhook_headers(secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one delivery attempt."""
    return {
        HEADER_ID: message_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: signature_header(secrets_, message_id, timestamp, body),
    }


def live_secrets(current: str, previous: Iterable[tuple[str, datetime]], now: datetime) -> list[str]:
    """The secrets to sign with now: the current one, then each rotated-out one until it expires."""
    return [current, *(secret for secret, expires_at in previous if now < expires_at)]
