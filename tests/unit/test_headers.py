from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import errors
from chalicelib.web.headers import IF_MATCH_PATTERN, parse_idempotency_key, parse_if_match
from chalicelib.web.openapi import document


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


@pytest.mark.parametrize(
    ("header", "key"),
    [
        (None, None),
        ("abc-123", "abc-123"),
        ('"8e03978e-40d5-43e8-bc93-6894a57f9324"', "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        ('"with \\"quote\\" and \\\\"', 'with "quote" and \\'),
        ("  padded  ", "padded"),
        ("\tpadded\t", "padded"),
        ("k" * 255, "k" * 255),
        ('"' + "k" * 255 + '"', "k" * 255),
        ('"with spaces inside"', "with spaces inside"),
        ('a"b\\c', 'a"b\\c'),
    ],
)
def test_idempotency_keys_are_sf_strings_or_bare(header: str | None, key: str | None) -> None:
    assert parse_idempotency_key(header) == key


@pytest.mark.parametrize(
    "header",
    [
        "",
        "   ",
        '""',
        "k" * 256,
        '"' + "k" * 256 + '"',
        "caf\u00e9",
        "a\x00b",
        '"bad \\n escape"',
        '"trailing\\"',
        '"a"b"',
        "bare with spaces",
        '"unterminated',
        '"',
    ],
)
def test_malformed_idempotency_keys_are_400(header: str) -> None:
    with pytest.raises(errors.MalformedRequest):
        parse_idempotency_key(header)


def test_headers_over_1_kib_are_refused_before_parsing() -> None:
    for parse in (parse_if_match, parse_idempotency_key):
        with pytest.raises(errors.MalformedRequest, match="limit is 1024"):
            parse('"1", ' * 205)
    assert parse_if_match(('"1",' * 256)[:-1]).versions == {1}  # type: ignore[union-attr]  # 1023 chars


def test_the_if_match_attack_is_rejected_at_once() -> None:
    with pytest.raises(errors.MalformedRequest):
        parse_if_match('", ' * 300 + "x")


_IF_MATCH_ALPHABET = st.sampled_from(
    ['"', ",", " ", "\t", "W", "/", "*", "1", "7", "a", "\xe9", "\x00", '"2"']
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_IF_MATCH_ALPHABET, max_size=40).map("".join))
def test_the_parser_accepts_exactly_what_the_published_pattern_matches(value: str) -> None:
    """The hand-written parser and the pattern in the OpenAPI document agree on every input."""
    try:
        parse_if_match(value)
        accepted = True
    except errors.MalformedRequest:
        accepted = False
    assert accepted == bool(re.fullmatch(IF_MATCH_PATTERN, value)), value


def _published_idempotency_key_schema() -> dict[str, Any]:
    (parameter,) = document()["paths"]["/people"]["post"]["parameters"]
    assert parameter["name"] == "Idempotency-Key"
    return dict(parameter["schema"])


# Pieces that exercise both forms, their escapes and white space, and (through the long
# pieces) the 255-character key limit and the 1,024-character header limit.
_IDEMPOTENCY_KEY_ALPHABET = st.sampled_from(
    ['"', "\\", '\\"', "\\\\", " ", "\t", "a", "Z", "-", "~", "!", "\x7f", "\xe9", "\x00", "\n", "k" * 64]
)


@settings(max_examples=600, deadline=None)
@given(st.lists(_IDEMPOTENCY_KEY_ALPHABET, max_size=24).map("".join))
def test_the_idempotency_key_parser_accepts_exactly_what_the_published_schema_allows(value: str) -> None:
    """The parser and the document's schema (pattern and lengths) agree on every input."""
    schema = _published_idempotency_key_schema()
    try:
        parse_idempotency_key(value)
        accepted = True
    except errors.MalformedRequest:
        accepted = False
    allowed = bool(re.fullmatch(schema["pattern"], value)) and (
        schema["minLength"] <= len(value) <= schema["maxLength"]
    )
    assert accepted == allowed, value


def test_the_readmes_quoted_idempotency_key_matches_the_published_pattern() -> None:
    from devstack import ROOT

    readme = (ROOT / "README.md").read_text()
    examples = re.findall(r"^ *Idempotency-Key: (.+)$", readme, flags=re.MULTILINE)
    assert examples
    for example in examples:
        assert re.fullmatch(_published_idempotency_key_schema()["pattern"], example), example
        assert parse_idempotency_key(example)
