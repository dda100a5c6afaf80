"""Faults (throttling, timeouts, bugs) and the structured logs, through Chalice's test client.

DynamoDB's replies are played with botocore's `before-send` hook (tests.support.DynamoRequests):
the SDK's retry logic, PynamoDB, the repository, the routes and the middleware all run for real.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.config import API_GATEWAY_TIMEOUT_SECONDS, ConfigError, load_settings, settings
from tests.support import Api, DynamoRequests, assert_problem, dynamodb_error, person_item, record

PID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


@pytest.fixture(scope="module")
def client(chalice_app: Any) -> Iterator[Client]:
    with Client(chalice_app, stage_name="local") as c:
        yield c


@pytest.fixture
def alice(token_for: Callable[..., str], client: Client) -> Api:
    return Api(client, token_for(f"alice-{uuid.uuid4().hex[:8]}"))


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the SDK's retries (their number is what is checked) but not its sleeps."""
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


def request_lines(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, Any]]:
    lines = []
    for rec in caplog.records:
        if rec.name == "people_api" and rec.getMessage().startswith("{"):
            line = json.loads(rec.getMessage())
            if line.get("event") == event:
                lines.append(line)
    return lines


THROTTLED = [
    ("GET", f"/people/{PID}", None, {}, "GetItem", "ProvisionedThroughputExceededException"),
    ("GET", "/people", None, {}, "Query", "ThrottlingException"),
    ("POST", "/people", {"name": "Ada"}, {}, "PutItem", "ProvisionedThroughputExceededException"),
    ("PATCH", f"/people/{PID}", {"notes": "x"}, {}, "UpdateItem", "RequestLimitExceeded"),
    (
        "POST",
        "/people",
        {"name": "Ada"},
        {"Idempotency_Key": "k"},
        "TransactWriteItems",
        "ThrottlingException",
    ),
]


@pytest.mark.parametrize(("method", "path", "payload", "headers", "operation", "code"), THROTTLED)
@pytest.mark.usefixtures("no_backoff")
def test_throttling_after_the_sdk_retries_is_503_with_retry_after(
    alice: Api, method: str, path: str, payload: Any, headers: dict[str, str], operation: str, code: str
) -> None:
    throttled = dynamodb_error(code, message="Rate of requests exceeds the allowed throughput")
    with DynamoRequests(answer=lambda op: throttled) as sent:
        response = alice.call(method, path, payload, **headers)
    problem = assert_problem(response, 503)
    assert response.headers["Retry-After"] == "1" and problem["type"] == "urn:people-api:problem:unavailable"
    assert sent.operations == [operation] * (1 + settings().ddb_max_attempts)


@pytest.mark.usefixtures("no_backoff")
def test_a_transaction_cancelled_for_throttling_is_503(alice: Api) -> None:
    cancelled = dynamodb_error(
        "TransactionCanceledException",
        message="Transaction cancelled [ThrottlingError, None]",
        CancellationReasons=[{"Code": "ThrottlingError", "Message": "Throughput exceeds"}, {"Code": "None"}],
    )
    with DynamoRequests(answer=lambda op: cancelled):
        response = alice.call("POST", "/people", {"name": "Ada"}, Idempotency_Key="k-throttled")
    assert_problem(response, 503)
    assert response.headers["Retry-After"] == "1"


@pytest.mark.parametrize(("method", "path", "payload", "headers", "operation", "code"), THROTTLED)
@pytest.mark.usefixtures("no_backoff")
def test_a_dynamodb_read_timeout_is_retried_then_503(
    alice: Api, method: str, path: str, payload: Any, headers: dict[str, str], operation: str, code: str
) -> None:
    from botocore.exceptions import ReadTimeoutError

    def time_out(operation: str) -> Any:
        raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")

    with DynamoRequests(answer=time_out) as sent:
        response = alice.call(method, path, payload, **headers)
    assert_problem(response, 503)
    assert response.headers["Retry-After"] == "1"
    assert sent.operations == [operation] * (1 + settings().ddb_max_attempts)


@pytest.mark.usefixtures("no_backoff")
def test_an_unreachable_dynamodb_is_503(alice: Api) -> None:
    from botocore.exceptions import ConnectTimeoutError

    def unreachable(operation: str) -> Any:
        raise ConnectTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")

    with DynamoRequests(answer=unreachable):
        assert_problem(alice.call("GET", "/people"), 503)


def test_the_client_the_app_uses_has_the_configured_timeouts(stack: Any) -> None:
    from chalicelib.adapters.models import MODELS
    from chalicelib.wiring import bind_models, dynamodb_client, dynamodb_connection, sns_client

    bind_models()

    s = settings()
    clients = (dynamodb_client(), dynamodb_connection().client, sns_client())
    for config in (client.meta.config for client in clients):
        assert (config.connect_timeout, config.read_timeout) == (s.ddb_connect_timeout, s.ddb_read_timeout)
    for model in MODELS:
        meta = model.Meta
        assert (meta.connect_timeout_seconds, meta.read_timeout_seconds) == (
            s.ddb_connect_timeout,
            s.ddb_read_timeout,
        )
        assert meta.max_retry_attempts == s.ddb_max_attempts
    assert s.ddb_worst_case_seconds < API_GATEWAY_TIMEOUT_SECONDS


def test_timeouts_that_could_outlast_api_gateway_fail_fast() -> None:
    base = {"TABLE_NAME": "t", "CURSOR_SECRET": "s"}
    assert load_settings(base).ddb_worst_case_seconds == 4 * (1 + 3) + (1 + 2 + 4)
    with pytest.raises(ConfigError, match="API Gateway"):
        load_settings({**base, "DDB_READ_TIMEOUT": "10"})
    with pytest.raises(ConfigError):
        load_settings({**base, "DDB_READ_TIMEOUT": "0"})


def test_an_unexpected_error_is_500_and_its_traceback_is_one_log_record(
    alice: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from chalicelib import services

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(services, "get_person", boom)
    with caplog.at_level(logging.INFO, logger="people_api"):
        response = alice.call("GET", f"/people/{PID}")
    problem = assert_problem(response, 500)
    assert "secret internals" not in response.body.decode()
    (error,) = request_lines(caplog, "unhandled_error")
    assert error["request_id"] == problem["request_id"] and error["error"] == "RuntimeError"
    assert "secret internals" in error["traceback"] and "Traceback" in error["traceback"]
    (line,) = request_lines(caplog, "request")
    assert line["status"] == 500 and line["request_id"] == problem["request_id"]


def test_each_request_logs_one_json_line_with_its_caller_and_never_the_token(
    alice: Api, caplog: pytest.LogCaptureFixture
) -> None:
    assert alice.token is not None
    sub = json.loads(__import__("base64").urlsafe_b64decode(alice.token.split(".")[1] + "==="))["sub"]
    with caplog.at_level(logging.DEBUG):
        created = alice.call("POST", "/people", {"name": "Ada"})
        missing = alice.call("GET", f"/people/{PID}")
        anonymous = Api(alice.client, None).call("GET", "/people")
        bad_token = Api(alice.client, "not-a-token").call("GET", "/people")
    assert (created.status_code, missing.status_code) == (201, 404)
    assert (anonymous.status_code, bad_token.status_code) == (401, 401)
    lines = request_lines(caplog, "request")
    assert [(line["method"], line["route"], line["status"]) for line in lines[:2]] == [
        ("POST", "/people", 201),
        ("GET", "/people/{person_id}", 404),
    ]
    for line in lines[:2]:
        assert line["sub"] == sub and line["request_id"] and line["latency_ms"] >= 0
    # Every logger, at DEBUG: the caller's token appears nowhere. (botocore's own DEBUG wire log
    # shows the SigV4 Authorization header of its requests to AWS; our lines never carry one.)
    everything = "\n".join(f"{rec.getMessage()} {rec.exc_text or ''}" for rec in caplog.records)
    assert alice.token not in everything and "not-a-token" not in everything
    ours = "\n".join(rec.getMessage() for rec in caplog.records if rec.name == "people_api")
    assert "bearer" not in ours.lower() and "authorization" not in ours.lower()


def test_the_stream_handler_logs_one_line_per_invocation(
    client: Client, stack: Any, caplog: pytest.LogCaptureFixture
) -> None:
    person = person_item(id=PID, pk=f"PERSON#{PID}")
    key_record = {"pk": "IDEMPOTENCY#x#y", "sk": "IDEMPOTENCY", "person_id": PID}
    event = {"Records": [record("INSERT", None, person, seq=1), record("INSERT", None, key_record, seq=2)]}
    with caplog.at_level(logging.INFO, logger="people_api"):
        result = client.lambda_.invoke("publish_changes", event)
    assert result.payload == {"batchItemFailures": []}
    (line,) = request_lines(caplog, "invocation")
    assert line["handler"] == "publish_changes" and line["request_id"]
    assert (line["records_in"], line["records_out"], line["skipped"], line["failures"]) == (2, 1, 1, 0)
    assert line["outcome"] == "ok" and line["latency_ms"] >= 0


def test_the_sns_handler_logs_one_line_per_invocation_also_when_storage_fails(
    client: Client, stack: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from chalicelib.domain import Person, new_id
    from chalicelib.errors import ServiceUnavailable
    from chalicelib.wiring import people_repo
    from tests.support import OWNER, build_event

    pid, now = new_id(), "2026-01-01T00:00:00.000Z"
    people_repo().add(
        Person(id=pid, owner=OWNER, name="Ada", created_at=now, updated_at=now, version=1), actor=OWNER
    )
    item = person_item(id=pid, pk=f"PERSON#{pid}")
    change = build_event(record("INSERT", None, item, seq=7), settings().event_source)
    assert change is not None
    import msgspec

    message = msgspec.json.encode(change).decode()
    sns_event = client.events.generate_sns_event(message=message)
    malformed = client.events.generate_sns_event(message="{not json")
    event = {"Records": sns_event["Records"] + malformed["Records"]}
    with caplog.at_level(logging.INFO, logger="people_api"):
        client.lambda_.invoke("record_notification", event)
        throttled = dynamodb_error("ProvisionedThroughputExceededException")
        with DynamoRequests(answer=lambda op: throttled), pytest.raises(ServiceUnavailable):
            client.lambda_.invoke("record_notification", sns_event)
    first, second = request_lines(caplog, "invocation")
    assert (first["handler"], first["records_in"], first["records_out"], first["skipped"]) == (
        "record_notification",
        2,
        1,
        1,
    )
    assert (first["failures"], first["outcome"]) == (0, "ok")
    assert (second["records_in"], second["records_out"], second["failures"], second["outcome"]) == (
        1,
        0,
        1,
        "error",
    )
