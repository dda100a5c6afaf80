"""Pagination: the `limit` parameter, HMAC-signed cursors bound to their listing, RFC 8288 links."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Final

from chalice.app import Request

from chalicelib import errors

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 100


def parse_limit(params: Mapping[str, str]) -> int:
    """The page size from the query (`limit`, 1..MAX_LIMIT, default DEFAULT_LIMIT)."""
    raw = params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    # ASCII digits only (str.isdigit also accepts "²"), and few of them (int() refuses 4,300+).
    if not (0 < len(raw) <= 3 and raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise errors.MalformedRequest(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    """Opaque, tamper-evident page cursors: the last key seen, HMAC-signed with its listing's scope.

    A cursor only continues the listing it came from: one reused for another owner's list
    (or another person's history) fails verification like a modified one.
    """

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, scope: str, payload: bytes) -> bytes:
        return hmac.new(self._secret, scope.encode() + b"\n" + payload, hashlib.sha256).digest()[:16]

    def encode(self, scope: str, last: str) -> str:
        payload = last.encode()
        return f"{_b64(payload)}.{_b64(self._mac(scope, payload))}"

    def decode(self, scope: str, token: str) -> str:
        try:
            payload_part, mac_part = token.split(".")
            payload, mac = _unb64(payload_part), _unb64(mac_part)
            valid = hmac.compare_digest(mac, self._mac(scope, payload))
            last = payload.decode()
        except (ValueError, UnicodeDecodeError):
            valid = False
        if not valid:
            raise errors.InvalidCursor("the cursor is not one this listing issued; start again without it")
        return last


def api_root(request: Request, collection: str = "/people") -> str:
    """The path prefix in front of the API's routes (the API Gateway stage, if any)."""
    path = (request.context or {}).get("path") or ""
    index = path.find(collection)
    return path[:index] if index > 0 else ""


def next_link(request: Request, collection_path: str, query: Mapping[str, str]) -> str:
    """An RFC 8288 Link header value pointing at the next page."""
    from urllib.parse import urlencode

    collection = "/" + collection_path.split("/")[1]  # /people or /webhooks
    return f'<{api_root(request, collection)}{collection_path}?{urlencode(query)}>; rel="next"'
