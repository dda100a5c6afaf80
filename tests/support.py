"""Test helpers shared by every layer: free ports, the emulator's signing key, token forging."""

from __future__ import annotations

import gzip
import json
import time
from importlib import resources
from typing import Any

import jwt


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


class DynamoRequests:
    """Counts the HTTP requests (every attempt, retries included) botocore sends to DynamoDB.

    Optionally answers them itself: `answer(operation)` returning an AWSResponse (or raising,
    as botocore's HTTP layer does on a timeout) stands for DynamoDB's reply, or None lets the
    request through. This is how tests produce throttling, timeouts and transaction conflicts
    the emulator cannot. It works at botocore's HTTP layer, below whichever client PynamoDB
    currently holds (PynamoDB may replace its client), so nothing can bypass it.
    """

    def __init__(self, answer: Any = None) -> None:
        self.operations: list[str] = []
        self._answer = answer
        self._original: Any = None

    def __enter__(self) -> DynamoRequests:
        from botocore.endpoint import Endpoint

        original: Any = Endpoint._send
        self._original = original

        def send(endpoint: Any, request: Any) -> Any:
            target = request.headers.get("X-Amz-Target", b"")
            target = target.decode() if isinstance(target, bytes) else str(target)
            if not target.startswith("DynamoDB_"):
                return original(endpoint, request)
            operation = target.rsplit(".", 1)[-1]
            self.operations.append(operation)
            answered = self._answer(operation) if self._answer is not None else None
            return answered if answered is not None else original(endpoint, request)

        Endpoint._send = send  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: Any) -> None:
        from botocore.endpoint import Endpoint

        Endpoint._send = self._original  # type: ignore[method-assign]


def dynamodb_error(code: str, status: int = 400, message: str = "injected", **extra: Any) -> Any:
    """An AWSResponse carrying a DynamoDB JSON error, as the service sends it."""
    from botocore.awsrequest import AWSResponse

    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message, **extra})

    class _Raw:
        def stream(self, **_: Any) -> Any:
            yield body.encode()

    return AWSResponse(  # type: ignore[no-untyped-call]
        "https://dynamodb.local",
        status,
        {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "injected"},
        _Raw(),
    )
