"""Request header grammars: If-Match (RFC 9110) and Idempotency-Key (an RFC 8941 sf-string)."""

from __future__ import annotations

import re
from typing import Final

from chalicelib import errors
from chalicelib.domain import Precondition

# Every header the API reads is refused (400) past this length, before it is parsed.
MAX_HEADER_LENGTH: Final = 1024

# RFC 9110 If-Match: "*" or a comma-separated list of entity tags (empty elements allowed).
# Written so that no regular expression engine can backtrack on it: white space is only ever
# matched right after a token (start, tag or comma), and a tag cannot contain a quote, so every
# character has exactly one place it can go. `parse_if_match` does not use it (it scans once,
# by hand); it is the pattern the OpenAPI document publishes.
_ENTITY_TAG = r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"'
IF_MATCH_PATTERN: Final = (
    rf"^[ \t]*(?:\*[ \t]*|(?:{_ENTITY_TAG}[ \t]*)?(?:,[ \t]*(?:{_ENTITY_TAG}[ \t]*)?)*)$"
)
_OWS = " \t"


# RFC 9110 etagc (%x21 / %x23-7E / obs-text), for the characters between a tag's quotes: one
# character class, checked once per tag over a span already bounded by the closing quote.
_ETAGC = re.compile(r"[\x21\x23-\x7e\x80-\xff]*")


def _malformed_if_match(value: str) -> errors.MalformedRequest:
    return errors.MalformedRequest(
        f"If-Match must be '*' or entity tags like '\"3\"', not {value.strip()[:40]!r}"
    )


def _check_length(name: str, value: str) -> None:
    if len(value) > MAX_HEADER_LENGTH:
        raise errors.MalformedRequest(
            f"{name} is {len(value)} characters long; the limit is {MAX_HEADER_LENGTH}"
        )


def parse_if_match(value: str | None) -> Precondition | None:
    """Parse If-Match (RFC 9110): `*` or a list of strong entity tags; weak ones never match.

    One pass over the value, no regular expression. A well-formed tag that is not one of ours
    (`"abc"`) matches no version, so the request fails its precondition (412) rather than being
    malformed (400).
    """
    if value is None:
        return None
    _check_length("If-Match", value)
    text = value.strip(_OWS)
    if text == "*":
        return Precondition(any_version=True)
    versions: set[int] = set()
    i, end = 0, len(text)
    expect_tag = True  # at the start of the list or right after a comma
    while i < end:
        char = text[i]
        if char in _OWS:
            i += 1
        elif char == ",":
            expect_tag = True
            i += 1
        elif expect_tag and (char == '"' or text.startswith('W/"', i)):
            weak = char == "W"
            start = i + (3 if weak else 1)
            close = text.find('"', start)
            if close < 0 or _ETAGC.fullmatch(text, start, close) is None:
                raise _malformed_if_match(value)
            opaque = text[start:close]
            # If-Match uses strong comparison; ours are decimal versions.
            if not weak and opaque.isascii() and opaque.isdigit() and len(opaque) <= 20:
                versions.add(int(opaque))
            expect_tag = False
            i = close + 1
        else:
            raise _malformed_if_match(value)
    return Precondition(versions=frozenset(versions))


MAX_IDEMPOTENCY_KEY_LENGTH: Final = 255

# Idempotency-Key: an RFC 8941 sf-string (`"..."`, where `\"` and `\\` are the only escapes)
# holding 1 to 255 printable ASCII characters, or the bare key: 1 to 255 visible ASCII characters
# (no spaces), not starting with a quote. The two forms begin differently and a bare key has no
# white space, so every character has one place to go: no engine can backtrack on it (the
# ReDoS test checks). This is the pattern the OpenAPI document publishes; `parse_idempotency_key`
# accepts exactly the values it matches, up to MAX_HEADER_LENGTH characters.
_BARE_KEY = rf"[!#-~][!-~]{{0,{MAX_IDEMPOTENCY_KEY_LENGTH - 1}}}"
_SF_STRING_KEY = rf'"(?:[ !#-\[\]-~]|\\["\\]){{1,{MAX_IDEMPOTENCY_KEY_LENGTH}}}"'
IDEMPOTENCY_KEY_PATTERN: Final = rf"^[ \t]*(?:{_BARE_KEY}|{_SF_STRING_KEY})[ \t]*$"


def _sf_string(text: str) -> str:
    """The content of an RFC 8941 sf-string that makes up all of `text` (which starts with a quote)."""
    key: list[str] = []
    i, end = 1, len(text)
    while i < end:
        char = text[i]
        if char == "\\":
            if i + 1 >= end or text[i + 1] not in '"\\':
                raise errors.MalformedRequest('Idempotency-Key: only \\" and \\\\ may be escaped')
            key.append(text[i + 1])
            i += 2
        elif char == '"':
            if i != end - 1:
                raise errors.MalformedRequest("Idempotency-Key: an unescaped quote inside the string")
            return "".join(key)
        elif " " <= char <= "~":
            key.append(char)
            i += 1
        else:
            raise errors.MalformedRequest("Idempotency-Key may contain printable ASCII characters only")
    raise errors.MalformedRequest("Idempotency-Key: the quoted string has no closing quote")


def parse_idempotency_key(value: str | None) -> str | None:
    """The Idempotency-Key header: an sf-string (RFC 8941), or the bare key; None when absent.

    The key must be 1 to 255 printable ASCII characters (a bare key: visible ones, no spaces):
    anything else is a 400, so a client never believes a request is protected by a key the
    server could not use. Accepts exactly what IDEMPOTENCY_KEY_PATTERN matches.
    """
    if value is None:
        return None
    _check_length("Idempotency-Key", value)
    text = value.strip(_OWS)
    if text.startswith('"'):
        key = _sf_string(text)
    else:
        key = text
        if not all("!" <= char <= "~" for char in key):
            raise errors.MalformedRequest(
                "Idempotency-Key: a bare key is visible ASCII characters without spaces "
                '(send it as a quoted string, "...", to include spaces)'
            )
    if not key:
        raise errors.MalformedRequest("Idempotency-Key must not be empty")
    if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise errors.MalformedRequest(
            f"Idempotency-Key is {len(key)} characters long; the limit is {MAX_IDEMPOTENCY_KEY_LENGTH}"
        )
    return key
