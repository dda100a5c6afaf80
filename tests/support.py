"""Test helpers shared by every layer: tokens, DynamoDB faults, stream records, the API client."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

import jwt
from chalice.test import Client

from chalicelib import events
from chalicelib.adapters.stream import read_change
from devstack import ROOT


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


# --- stream records, as Lambda delivers them ------------------------------------------

OWNER = "owner-sub"
PID = "01JD0000000000000000000000"


def typed(value: Any) -> dict[str, Any]:
    """A plain value in DynamoDB's typed JSON, as stream images carry it."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, list):
        return {"L": [typed(v) for v in value]}
    return {"S": value}


def image(**fields: Any) -> dict[str, Any]:
    return {k: typed(v) for k, v in fields.items()}


def person_item(version: int = 1, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "pk": f"PERSON#{PID}",
        "sk": "PERSON",
        "id": PID,
        "owner": OWNER,
        "list_owner": OWNER,
        "name": "Ada",
        "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": "2026-01-01T00:00:00.000Z",
        "version": version,
        "actor": OWNER,
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def record(name: str, old: dict[str, Any] | None, new: dict[str, Any] | None, seq: int = 1) -> dict[str, Any]:
    keys = old or new or {}
    stream: dict[str, Any] = {
        "ApproximateCreationDateTime": 1767225600,
        "Keys": image(pk=keys["pk"], sk=keys["sk"]),
        "SequenceNumber": str(seq),
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if old is not None:
        stream["OldImage"] = image(**old)
    if new is not None:
        stream["NewImage"] = image(**new)
    return {
        "eventID": f"event-{seq}",
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": stream,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x",
    }


def build_event(stream_record: dict[str, Any], source: str) -> events.ChangeEvent | None:
    """The event the stream handler publishes for one record (None: not a person change)."""
    change = read_change(stream_record)
    return None if change is None else events.change_event(change, source)


# --- the API through Chalice's test client ---------------------------------------------

Json = dict[str, Any]


class Api:
    """A thin JSON helper over chalice.test.Client with a bearer token."""

    def __init__(self, client: Client, token: str | None) -> None:
        self.client = client
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
        **headers: str,
    ) -> Any:
        sent = {k.replace("_", "-"): v for k, v in headers.items()}
        if self.token is not None:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if payload is not None:
            sent.setdefault("Content-Type", content_type)
        return self.client.http.request(method, path, headers=sent, body=payload or b"")


def body(response: Any) -> Any:
    return json.loads(response.body)


def create(api: Api, **fields: Any) -> Json:
    response = api.call("POST", "/people", {"name": "Ada", **fields})
    assert response.status_code == 201, response.body
    return dict(body(response))


def assert_problem(response: Any, status: int) -> Json:
    assert response.status_code == status, response.body
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = dict(body(response))
    assert problem["status"] == status and problem["title"] and problem["detail"] and problem["type"]
    assert "Traceback" not in response.body.decode()
    return problem


# The oldest SDK we accept from the Lambda python3.11 runtime (AWS updates the runtime's
# boto3 over time; raise this when AWS's runtime table moves on) and the one pinned for dev.
RUNTIME_SDK_RANGE = ("1.34.145", "1.44.5")


def runtime_sdk(version: str) -> Path:
    """boto3/botocore at `version` in a directory of their own, installed once."""
    target = ROOT / "build" / f"lambda-sdk-{version}"
    if not (target / "botocore").is_dir():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--target", str(target), f"boto3=={version}", f"botocore=={version}"],
            check=True,
        )  # fmt: skip
    return target


def assert_people_routes_use_pool(swagger: dict[str, Any], pool_arn: Any) -> None:
    """Every `/people` method of a Swagger document Chalice made needs the stage's Cognito user
    pool authorizer; `/health` needs none."""
    schemes = swagger["securityDefinitions"]
    people = [
        (path, method, spec)
        for path, methods in swagger["paths"].items()
        if path.startswith("/people")
        for method, spec in methods.items()
        if method != "options"
    ]
    assert len(people) >= 6
    for path, method, spec in people:
        names = [name for requirement in spec.get("security", []) for name in requirement]
        assert names, f"{method.upper()} {path} has no authorizer"
        for name in names:
            authorizer = schemes[name]["x-amazon-apigateway-authorizer"]
            assert authorizer["type"] == "cognito_user_pools", (path, method)
            assert authorizer["providerARNs"] == [pool_arn], (path, method)
    assert "security" not in swagger["paths"]["/health"]["get"]
