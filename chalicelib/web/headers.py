"""Request header grammars: If-Match (RFC 9110) and Idempotency-Key (an RFC 8941 sf-string)."""

from __future__ import annotations

import re
from typing import Final

from chalicelib import errors
from chalicelib.domain import Precondition

# RFC 9110 If-Match: "*" or a comma-separated list of entity tags (empty elements allowed).
_ENTITY_TAG = r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"'
IF_MATCH_PATTERN: Final = rf"^[ \t]*(?:\*|(?:{_ENTITY_TAG})?(?:[ \t]*,[ \t]*(?:{_ENTITY_TAG})?)*)[ \t]*$"
_IF_MATCH = re.compile(IF_MATCH_PATTERN)
_TAGS = re.compile(r'(W/)?"([^"]*)"')


def parse_if_match(value: str | None) -> Precondition | None:
    """Parse If-Match (RFC 9110): `*` or a list of strong entity tags; weak ones never match.

    A well-formed tag that is not one of ours (`"abc"`) matches no version, so the request
    fails its precondition (412) rather than being malformed (400).
    """
    if value is None:
        return None
    if not _IF_MATCH.match(value):
        raise errors.MalformedRequest(
            f"If-Match must be '*' or entity tags like '\"3\"', not {value.strip()[:40]!r}"
        )
    if value.strip() == "*":
        return Precondition(any_version=True)
    versions: set[int] = set()
    for weak, opaque in _TAGS.findall(value):
        # If-Match uses strong comparison; ours are decimal versions.
        if not weak and opaque.isascii() and opaque.isdigit() and len(opaque) <= 20:
            versions.add(int(opaque))
    return Precondition(versions=frozenset(versions))


MAX_IDEMPOTENCY_KEY_LENGTH: Final = 255


def parse_idempotency_key(value: str | None) -> str | None:
    """The Idempotency-Key header: an sf-string (RFC 8941), also accepted bare; None when absent.

    The key must be 1 to 255 printable ASCII characters: anything else is a 400, so a client
    never believes a request is protected by a key the server could not use.
    """
    if value is None:
        return None
    key = value.strip()
    if len(key) >= 2 and key[0] == '"' and key[-1] == '"':
        inner, key, escaped = key[1:-1], "", False
        for char in inner:
            if escaped:
                if char not in '"\\':
                    raise errors.MalformedRequest('Idempotency-Key: only \\" and \\\\ may be escaped')
                key, escaped = key + char, False
            elif char == "\\":
                escaped = True
            elif char == '"':
                raise errors.MalformedRequest("Idempotency-Key: an unescaped quote inside the string")
            else:
                key += char
        if escaped:
            raise errors.MalformedRequest("Idempotency-Key: the string ends with a lone backslash")
    if not key:
        raise errors.MalformedRequest("Idempotency-Key must not be empty")
    if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise errors.MalformedRequest(
            f"Idempotency-Key is {len(key)} characters long; the limit is {MAX_IDEMPOTENCY_KEY_LENGTH}"
        )
    if not all(" " <= char <= "~" for char in key):
        raise errors.MalformedRequest("Idempotency-Key may contain printable ASCII characters only")
    return key
