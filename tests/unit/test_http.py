from __future__ import annotations

import json

import pytest
from chalice.app import Request

from chalicelib import errors
from chalicelib.http import CursorCodec, parse_idempotency_key, parse_if_match, problem_for, read_json_object


def request(body: bytes | None, content_type: str | None = "application/json") -> Request:
    headers = {"content-type": content_type} if content_type else {}
    event = {
        "multiValueQueryStringParameters": None,
        "headers": headers,
        "pathParameters": {},
        "requestContext": {"httpMethod": "POST", "resourcePath": "/people"},
        "body": body,
        "stageVariables": {},
    }
    return Request(event)


def test_cursor_round_trips_within_its_scope() -> None:
    codec = CursorCodec(b"k")
    token = codec.encode("people:alice", "01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert codec.decode("people:alice", token) == "01ARZ3NDEKTSV4RRFFQ69G5FAV"


@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-2], lambda t: "A" + t[1:], lambda t: t + "x", lambda t: "junk"]
)
def test_a_modified_cursor_is_rejected(mangle: object) -> None:
    codec = CursorCodec(b"k")
    token = codec.encode("people:alice", "01ARZ3NDEKTSV4RRFFQ69G5FAV")
    with pytest.raises(errors.InvalidCursor):
        codec.decode("people:alice", mangle(token))  # type: ignore[operator]


def test_a_cursor_from_another_listing_or_key_is_rejected() -> None:
    token = CursorCodec(b"k").encode("people:alice", "01ARZ3NDEKTSV4RRFFQ69G5FAV")
    with pytest.raises(errors.InvalidCursor):
        CursorCodec(b"k").decode("people:bob", token)
    with pytest.raises(errors.InvalidCursor):
        CursorCodec(b"other").decode("people:alice", token)


def test_if_match_forms() -> None:
    assert parse_if_match(None) is None
    assert parse_if_match("*").any_version  # type: ignore[union-attr]
    assert parse_if_match('"3"').versions == {3}  # type: ignore[union-attr]
    assert parse_if_match('"3", "5"').versions == {3, 5}  # type: ignore[union-attr]
    assert parse_if_match('W/"3"').versions == frozenset()  # type: ignore[union-attr]
    assert parse_if_match('"a,b" , , "7"').versions == {7}  # type: ignore[union-attr]
    # Well-formed tags that are not versions of ours match nothing (412), they are not malformed.
    for foreign in ['"abc"', '"' + "9" * 30 + '"', "", '"\xe9"']:
        assert parse_if_match(foreign).versions == frozenset()  # type: ignore[union-attr]
    for bad in ["3", '"', '"1""2"', "W/3", '"a"b', "* , *"]:
        with pytest.raises(errors.MalformedRequest):
            parse_if_match(bad)


def test_read_json_object_checks_size_type_and_syntax() -> None:
    assert read_json_object(request(b'{"name": "A"}')) == {"name": "A"}
    assert read_json_object(request(b'{"a": 1}', "application/json; charset=utf-8")) == {"a": 1}
    with pytest.raises(errors.UnsupportedMediaType):
        read_json_object(request(b'{"a": 1}', "text/plain"))
    with pytest.raises(errors.UnsupportedMediaType):
        read_json_object(request(b'{"a": 1}', None))
    with pytest.raises(errors.MalformedRequest):
        read_json_object(request(b'{"a": '))
    with pytest.raises(errors.MalformedRequest):
        read_json_object(request(b""))
    with pytest.raises(errors.PayloadTooLarge):
        read_json_object(request(b" " * (64 * 1024 + 1)))
    with pytest.raises(errors.ValidationFailed):
        read_json_object(request(b"[1, 2]"))


def test_validation_problems_list_every_field() -> None:
    response = problem_for(errors.ValidationFailed([errors.FieldError("name", "is required")]), "req-1")
    body = json.loads(response.body)
    assert response.status_code == 422 and response.headers["Content-Type"] == "application/problem+json"
    assert body["errors"] == [{"field": "name", "message": "is required"}]
    assert body["status"] == 422 and body["request_id"] == "req-1" and body["type"].startswith("urn:")


def test_every_domain_error_has_a_client_status() -> None:
    def all_subclasses(cls: type) -> list[type]:
        return [cls, *(s for sub in cls.__subclasses__() for s in all_subclasses(sub))]

    for cls in all_subclasses(errors.PeopleApiError):
        if cls in (errors.PeopleApiError,):
            continue
        exc = cls([]) if cls is errors.ValidationFailed else cls("x")
        assert 400 <= problem_for(exc).status_code < 600, cls


@pytest.mark.parametrize(
    ("header", "key"),
    [
        (None, None),
        ("abc-123", "abc-123"),
        ('"8e03978e-40d5-43e8-bc93-6894a57f9324"', "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        ('"with \\"quote\\" and \\\\"', 'with "quote" and \\'),
        ("  padded  ", "padded"),
        ("k" * 255, "k" * 255),
    ],
)
def test_idempotency_keys_are_sf_strings_or_bare(header: str | None, key: str | None) -> None:
    assert parse_idempotency_key(header) == key


@pytest.mark.parametrize(
    "header", ["", "   ", '""', "k" * 256, "caf\u00e9", "a\x00b", '"bad \\n escape"', '"trailing\\"', '"a"b"']
)
def test_malformed_idempotency_keys_are_400(header: str) -> None:
    with pytest.raises(errors.MalformedRequest):
        parse_idempotency_key(header)


def test_idempotency_problems_have_their_statuses() -> None:
    assert problem_for(errors.IdempotencyKeyReused("x")).status_code == 422
    assert problem_for(errors.IdempotentRequestInFlight("x")).status_code == 409
