"""Hostile and odd request bodies and paths: each a clear 4xx problem+json, and nothing stored."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.test import Client

PERSON_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
LIMIT = 64 * 1024
PERSIAN_WITH_ZWNJ = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"


@pytest.fixture(scope="module")
def client(chalice_app: Any) -> Iterator[Client]:
    with Client(chalice_app, stage_name="local") as c:
        yield c


@pytest.fixture
def call(client: Client, token_for: Callable[..., str]) -> Callable[..., Any]:
    """A fresh user per test, so "nothing stored" means their list stays empty."""
    token = token_for(f"fuzzy-{uuid.uuid4().hex[:8]}")

    def do(method: str, path: str, raw: bytes = b"", content_type: str = "application/json") -> Any:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
        return client.http.request(method, path, headers=headers, body=raw)

    return do


def _obj(text: str) -> bytes:
    """JSON written with escapes (the text holds a backslash-u, not the character)."""
    return text.encode()


BAD_BODIES: dict[str, tuple[bytes, int]] = {
    "invalid UTF-8 in a string": (b'{"name": "Ada \xff\xfe"}', 400),
    "invalid UTF-8 outside strings": (b'{"name": "Ada"}\xc3', 400),
    "overlong UTF-8 encoding of '/'": (b'{"name": "\xc0\xaf"}', 400),
    "a raw NUL byte inside a string": (b'{"name": "Ada\x00"}', 400),
    "a raw NUL byte after the object": (b'{"name": "Ada"}\x00', 400),
    "an escaped NUL in the name": (_obj('{"name": "Ada\\u0000"}'), 422),
    "an escaped NUL in the notes": (_obj('{"name": "Ada", "notes": "a\\u0000b"}'), 422),
    "a lone surrogate": (_obj('{"name": "Ada \\ud800"}'), 400),
    "deeply nested arrays": (b'{"name": "Ada", "tags": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", 400),
    "deeply nested objects": (b'{"name": "Ada", "x": ' + b'{"a":' * 10_000 + b"1" + b"}" * 10_001, 400),
    "moderately nested arrays": (b'{"name": "Ada", "tags": ' + b"[" * 50 + b"]" * 50 + b"}", 400),
    "500 levels of tags in 1 KiB": (b'{"name": "x", "tags": ' + b"[" * 500 + b"]" * 500 + b"}", 400),
    "940 levels after a key with a colon": (
        b'{"name": "a:b", "x": ' + b'{"k":' * 940 + b"1" + b"}" * 941,
        400,
    ),
    "a zero-width space as the name": (_obj('{"name": "\\u200b"}'), 422),
    "a word joiner and a BOM as the name": (_obj('{"name": "\\u2060\\ufeff"}'), 422),
    "a right-to-left override in the name": (_obj('{"name": "\\u202eevil"}'), 422),
    "a zero-width space in a tag": (_obj('{"name": "Ada", "tags": ["x", "x\\u200b"]}'), 422),
    "punctuation only as the name": (_obj('{"name": "-- . --"}'), 422),
    "a huge integer": (b'{"name": ' + b"9" * 5000 + b"}", 400),
    "a number beyond float range": (b'{"name": "Ada", "tags": [1e400]}', 400),
    "a large float name": (b'{"name": 1.5e300}', 422),
    "duplicate keys": (b'{"name": "Ada", "name": "Eve"}', 400),
    "duplicate keys with spacing": (b'{"name" : "Ada", "email" :null, "name"\n:\t"Eve"}', 400),
    "duplicate keys in a nested object": (b'{"name": "Ada", "x": {"a": 1, "a": 2}}', 400),
    "a number as the name": (b'{"name": 5}', 422),
    "a boolean as the email": (b'{"name": "Ada", "email": true}', 422),
    "a string as the tags": (b'{"name": "Ada", "tags": "math"}', 422),
    "numbers as tags": (b'{"name": "Ada", "tags": [1, 2]}', 422),
    "an object as the notes": (b'{"name": "Ada", "notes": {"a": "b"}}', 422),
    "an array body": (b'[{"name": "Ada"}]', 422),
    "a string body": (b'"Ada"', 422),
    "null body": (b"null", 422),
    "a BEL in the name": (_obj('{"name": "Ada\\u0007"}'), 422),
    "an escape sequence in the name": (_obj('{"name": "Ada\\u001b[31m"}'), 422),
    "a C1 control in a tag": (_obj('{"name": "Ada", "tags": ["a\\u0085b"]}'), 422),
    "DEL in the notes": (_obj('{"name": "Ada", "notes": "a\\u007fb"}'), 422),
    "a newline in the name": (_obj('{"name": "Ada\\nLovelace"}'), 422),
    "only white space as the name": (_obj('{"name": " \\u3000\\t "}'), 422),
    "a body just over 64 KiB": (b'{"name": "Ada", "notes": "' + b"x" * LIMIT + b'"}', 413),
    "a body of exactly 64 KiB + 1": (b'{"name": "' + b"a" * (LIMIT - 11) + b'"}', 413),
    "trailing garbage": (b'{"name": "Ada"} {"name": "Eve"}', 400),
    "a comment": (b'{"name": "Ada" /* hi */}', 400),
    "NaN": (b'{"name": NaN}', 400),
    "single quotes": (b"{'name': 'Ada'}", 400),
    "a UTF-8 byte order mark": (b'\xef\xbb\xbf{"name": "Ada"}', 400),
    "UTF-16": ('{"name": "Ada"}'.encode("utf-16"), 400),
}


def assert_problem(response: Any, status: int, case: str) -> dict[str, Any]:
    assert response.status_code == status, (case, response.body[:300])
    assert response.headers["Content-Type"] == "application/problem+json", case
    problem = json.loads(response.body)
    assert problem["status"] == status and problem["detail"] and problem["title"], case
    return dict(problem)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_every_bad_body_is_a_clear_4xx_and_nothing_is_stored(call: Callable[..., Any], method: str) -> None:
    created = call("POST", "/people", b'{"name": "Original"}')
    assert created.status_code == 201
    person = json.loads(created.body)
    path = "/people" if method == "POST" else f"/people/{person['id']}"
    for case, (raw, status) in BAD_BODIES.items():
        assert_problem(call(method, path, raw), status, case)
    listed = json.loads(call("GET", "/people").body)
    assert listed == [person], "a rejected request changed what is stored"


def test_the_422_lists_the_offending_fields(call: Callable[..., Any]) -> None:
    problem = assert_problem(
        call("POST", "/people", _obj('{"name": "A\\u0007", "tags": ["ok", "ok"], "email": 3}')), 422, "fields"
    )
    assert {e["field"] for e in problem["errors"]} == {"name", "tags", "email"}


def test_a_body_of_exactly_64_kib_is_accepted(call: Callable[..., Any]) -> None:
    notes = "x" * 2000
    filler = " " * (LIMIT - len(json.dumps({"name": "Ada", "notes": notes})))
    raw = (json.dumps({"name": "Ada", "notes": notes}) + filler).encode()
    assert len(raw) == LIMIT
    assert call("POST", "/people", raw).status_code == 201


@pytest.mark.parametrize(
    "name, stored",
    [
        ("Ame\u0301lie", "Amélie"),  # e + combining acute -> é
        ("\u1100\u1161\u11a8", "\uac01"),  # Hangul jamo -> one syllable
        ("A\u030a", "\u00c5"),  # A + ring -> Å (not the Ångström sign)
        ("\u212b", "\u00c5"),  # the Ångström sign's canonical equivalent
        ("  \u00a0Zoë\u2003 ", "Zoë"),  # Unicode spaces are trimmed
        ("👩\u200d🔬 Ada", "👩\u200d🔬 Ada"),  # ZWJ sequences are kept
        (PERSIAN_WITH_ZWNJ, PERSIAN_WITH_ZWNJ),  # zero-width non-joiners belong to Persian spelling
    ],
)
def test_odd_unicode_in_names_is_stored_nfc_normalised(
    call: Callable[..., Any], name: str, stored: str
) -> None:
    created = call("POST", "/people", json.dumps({"name": name, "tags": [name]}).encode())
    assert created.status_code == 201, created.body
    person = json.loads(created.body)
    assert person["name"] == stored and person["tags"] == [stored]
    assert json.loads(call("GET", f"/people/{person['id']}").body)["name"] == stored


@pytest.mark.parametrize("length", [27, 200, 2000, 8000])
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_very_long_ids_in_the_path_are_404_problem_json(
    call: Callable[..., Any], method: str, length: int
) -> None:
    long_id = (PERSON_ID * (length // 26 + 1))[:length]
    body = b'{"name": "Ada"}' if method in {"PUT", "PATCH"} else b""
    problem = assert_problem(call(method, f"/people/{long_id}", body), 404, f"{method} {length}")
    assert len(problem["detail"]) < 200
    assert_problem(call("GET", f"/people/{long_id}/history"), 404, f"history {length}")
    assert json.loads(call("GET", "/people").body) == []
