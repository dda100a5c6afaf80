from __future__ import annotations

import pytest

from chalicelib import errors
from chalicelib.web.pagination import CursorCodec, parse_limit


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


@pytest.mark.parametrize("raw", ["²", "1²", "٣", "0", "101", "-1", "+5", " 5", "", "5" * 5000, "1e2", "0x10"])
def test_limit_accepts_ascii_digits_from_1_to_100_only(raw: str) -> None:
    with pytest.raises(errors.MalformedRequest):
        parse_limit({"limit": raw})


def test_limit_defaults_and_bounds() -> None:
    assert parse_limit({}) == 50
    assert parse_limit({"limit": "1"}) == 1
    assert parse_limit({"limit": "100"}) == 100
    assert parse_limit({"limit": "007"}) == 7
