"""Authorization header values that a verifier must refuse, one per way of attacking it."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from devstack.provision import StackInfo, client, create_user_pool
from devstack.tokens import LOCAL_PASSWORD, ensure_user, id_token
from tests.support import id_claims, sign


def issuer(stack: StackInfo) -> str:
    return f"https://cognito-idp.{stack.region}.amazonaws.com/{stack.user_pool_id}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def attack_headers(stack: StackInfo) -> dict[str, str | None]:
    """Authorization header values that must all be refused (None: no header at all)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.support import emulator_signing_key

    now = int(time.time())
    good = id_claims(issuer(stack), stack.app_client_id)
    real = id_token(stack, f"victim-{uuid.uuid4().hex[:8]}")
    header, payload, signature = real.split(".")
    claims = json.loads(_unb64(payload))
    forged_payload = _b64(json.dumps({**claims, "sub": "someone-else"}).encode())
    public_pem = (
        emulator_signing_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    hs256 = _unsigned({"alg": "HS256", "typ": "JWT", "kid": "dummy"}, good)
    hs256 += "." + _b64(hmac.new(public_pem, hs256.encode(), hashlib.sha256).digest())

    # A real user of another pool in the same emulator (moto signs every pool with one key).
    other_pool, other_client = create_user_pool(stack.endpoint)
    other = dataclasses.replace(stack, user_pool_id=other_pool, app_client_id=other_client)
    cognito = client("cognito-idp", stack.endpoint)
    email = ensure_user(stack, f"access-{uuid.uuid4().hex[:8]}")
    access = cognito.initiate_auth(
        ClientId=stack.app_client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": LOCAL_PASSWORD},
    )["AuthenticationResult"]["AccessToken"]

    return {
        "no token": None,
        "empty": "",
        "empty bearer": "Bearer ",
        "garbage": "garbage",
        "garbage bearer": "Bearer x.y.z",
        "three empty parts": "..",
        "three garbage parts": "a.b.c",
        "the word Bearer alone": "Bearer",
        "tampered payload": f"{header}.{forged_payload}.{signature}",
        "tampered signature": f"{header}.{payload}.{signature[:-6]}AAAAAA",
        "signature removed": f"{header}.{payload}.",
        "alg none": _unsigned({"alg": "none", "typ": "JWT", "kid": "dummy"}, good) + ".",
        "HS256 signed with the JWKS public key": hs256,
        "signed with another key": sign(good, rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "expired beyond the leeway": sign({**good, "iat": now - 4000, "exp": now - 120}),
        "issued in the future": sign({**good, "iat": now + 300, "exp": now + 3900}),
        "not valid before the future": sign({**good, "nbf": now + 300}),
        "wrong issuer": sign({**good, "iss": issuer(stack) + "x"}),
        "wrong audience": sign({**good, "aud": "another-client"}),
        "no audience": sign({**good, "aud": None}),
        "no sub": sign({**good, "sub": None}),
        "forged access token": sign({**good, "token_use": "access"}),
        "the pool's real access token": f"Bearer {access}",
        "a token from another user pool": f"Bearer {id_token(other, 'mallory')}",
        "an unknown key id": sign(good, kid="unknown-key-id"),
    }
