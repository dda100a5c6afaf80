"""Test helpers shared by every layer: free ports, the emulator's signing key, token forging."""

from __future__ import annotations

import gzip
import json
import socket
import time
from importlib import resources
from typing import Any

import jwt


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def emulator_signing_key() -> Any:
    """The private key the emulated user pool signs its tokens with (shipped inside moto)."""
    raw = resources.files("moto.cognitoidp").joinpath("resources/jwks-private.json.gz").read_bytes()
    return jwt.PyJWK.from_dict(json.loads(gzip.decompress(raw))).key


def sign(claims: dict[str, Any], key: Any = None, *, kid: str = "dummy", alg: str = "RS256") -> str:
    """A token over `claims`, signed by `key` (default: the emulated pool's own key)."""
    return jwt.encode(claims, key or emulator_signing_key(), algorithm=alg, headers={"kid": kid})


def claims_of(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def id_claims(issuer: str, audience: str, sub: str = "forged-sub", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        "token_use": "id",
        "iat": now,
        "auth_time": now,
        "exp": now + 3600,
        "email": f"{sub}@example.com",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}
