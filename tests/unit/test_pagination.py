from __future__ import annotations

import pytest

from chalicelib import errors
from chalicelib.web.pagination import CursorCodec


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
