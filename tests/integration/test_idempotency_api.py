"""Idempotency-Key on POST /people through Chalice's test client, on the emulator."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from chalice.test import Client

from tests.support import Api, DynamoRequests, assert_problem, body, dynamodb_error


@pytest.fixture
def users(token_for: Callable[..., str], client: Client) -> dict[str, Api]:
    tag = uuid.uuid4().hex[:8]
    return {name: Api(client, token_for(f"{name}-{tag}")) for name in ("alice", "bob")}


def post(api: Api, key: str | None, **fields: Any) -> Any:
    headers = {"Idempotency_Key": key} if key is not None else {}
    return api.call("POST", "/people", {"name": "Ada", **fields}, **headers)


def listed(api: Api) -> list[str]:
    response = api.call("GET", "/people")
    assert response.status_code == 200
    return [p["id"] for p in body(response)]


def test_a_retry_with_the_same_key_gets_the_original_response(users: dict[str, Api]) -> None:
    first = post(users["alice"], '"order-1"', email="ada@example.com")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = post(users["alice"], '"order-1"', email="ada@example.com")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert body(again) == body(first)
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["ETag"] == first.headers["ETag"] == '"1"'
    assert listed(users["alice"]) == [body(first)["id"]]


def test_a_replay_returns_the_response_as_created_even_after_later_changes(users: dict[str, Api]) -> None:
    first = body(post(users["alice"], "k-2"))
    patched = users["alice"].call("PATCH", f"/people/{first['id']}", {"notes": "later"})
    assert patched.status_code == 200
    again = post(users["alice"], "k-2")
    assert again.status_code == 201 and body(again) == first


def test_key_order_and_spacing_of_the_body_do_not_matter(users: dict[str, Api]) -> None:
    first = users["alice"].call("POST", "/people", raw=b'{"name":"Ada","notes":"n"}', Idempotency_Key="k")
    again = users["alice"].call(
        "POST", "/people", raw=b'{ "notes": "n",\n "name": "Ada" }', Idempotency_Key="k"
    )
    assert first.status_code == again.status_code == 201 and body(again)["id"] == body(first)["id"]


def test_the_same_key_with_another_body_is_422_and_creates_nothing(users: dict[str, Api]) -> None:
    first = post(users["alice"], "k-3")
    problem = assert_problem(post(users["alice"], "k-3", name="Bea"), 422)
    assert problem["type"] == "urn:people-api:problem:idempotency-key-reused"
    assert listed(users["alice"]) == [body(first)["id"]]


def test_keys_are_scoped_per_user(users: dict[str, Api]) -> None:
    alices = post(users["alice"], "shared-key")
    bobs = post(users["bob"], "shared-key", name="Bob")
    assert alices.status_code == bobs.status_code == 201
    assert "Idempotent-Replayed" not in bobs.headers and body(bobs)["owner"] != body(alices)["owner"]
    assert listed(users["bob"]) == [body(bobs)["id"]]


@pytest.mark.parametrize(
    "key",
    ["", '""', "x" * 256, '"' + "x" * 256 + '"', "caf\u00e9", "tab\tkey", '"unterminated\\"', '"a"b"'],
)
def test_a_malformed_key_is_400_and_creates_nothing(users: dict[str, Api], key: str) -> None:
    assert_problem(post(users["alice"], key), 400)
    assert listed(users["alice"]) == []


def test_a_255_character_key_is_accepted(users: dict[str, Api]) -> None:
    assert post(users["alice"], "k" * 255).status_code == 201


def test_a_duplicate_while_the_first_is_in_flight_is_409(users: dict[str, Api]) -> None:
    # DynamoDB cancels a transaction touching an item another transaction is writing with a
    # TransactionConflict reason; the emulator applies transactions one at a time, so its
    # reply is played here.
    conflict = dynamodb_error(
        "TransactionCanceledException",
        message="Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[TransactionConflict, None]",
        CancellationReasons=[
            {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"},
            {"Code": "None"},
        ],
    )
    with DynamoRequests(answer=lambda op: conflict if op == "TransactWriteItems" else None) as sent:
        conflicted = post(users["alice"], "k-busy")
    problem = assert_problem(conflicted, 409)
    assert problem["type"] == "urn:people-api:problem:request-in-flight"
    assert conflicted.headers["Retry-After"] == "1"
    assert sent.operations == ["TransactWriteItems"]  # not retried by the SDK: the client retries
    assert listed(users["alice"]) == []
    assert post(users["alice"], "k-busy").status_code == 201


def test_dynamodb_requests_per_post(users: dict[str, Api]) -> None:
    with DynamoRequests() as plain:
        assert post(users["alice"], None).status_code == 201
    with DynamoRequests() as first:
        assert post(users["alice"], "k-count").status_code == 201
    with DynamoRequests() as replay:
        assert post(users["alice"], "k-count").status_code == 201
    with DynamoRequests() as reuse:
        assert post(users["alice"], "k-count", name="Other").status_code == 422
    assert plain.operations == ["PutItem"]
    assert first.operations == replay.operations == reuse.operations == ["TransactWriteItems"]
