"""Request bodies: size, media type, strict JSON (valid UTF-8, unique keys), an object at the top."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import msgspec
from chalice.app import Request

from chalicelib import errors
from chalicelib.web.responses import JSON

MAX_BODY_BYTES: Final = 64 * 1024
# No person field nests deeper than 2 (an object holding a list of tags); anything far deeper
# is refused before any recursive step (normalisation, the duplicate-key parse) sees it.
MAX_NESTING: Final = 32

_decoder = msgspec.json.Decoder()


def query_params(request: Request, *accepted: str) -> Mapping[str, str]:
    """The query parameters, if every one is among `accepted` and none repeats; else 400.

    A parameter the route does not read would otherwise be silently ignored, and the client
    would believe it filtered (`GET /people?id=X` returning the whole list).
    """
    params = request.query_params
    if not params:
        return {}
    for name in params:
        if name not in accepted:
            expected = ", ".join(accepted) if accepted else "none"
            raise errors.MalformedRequest(
                f"unknown query parameter {name[:64]!r}; this operation accepts: {expected}"
            )
        if len(params.getlist(name)) > 1:
            raise errors.MalformedRequest(f"the query parameter {name!r} is given more than once")
    return params


def _media_type(request: Request) -> str:
    return (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()


def read_json_object(request: Request, accepted: tuple[str, ...] = (JSON,)) -> dict[str, Any]:
    """The request body as a JSON object, or the matching 400/413/415/422 error."""
    raw = request.raw_body or b""
    if isinstance(raw, str):  # pragma: no cover - Chalice hands bodies over as bytes
        raw = raw.encode()
    if len(raw) > MAX_BODY_BYTES:
        raise errors.PayloadTooLarge(f"the body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}")
    media_type = _media_type(request)
    if media_type not in accepted:
        raise errors.UnsupportedMediaType(
            f"Content-Type {media_type or '(none)'!r} is not accepted here; send {' or '.join(accepted)}"
        )
    if not raw.strip():
        raise errors.MalformedRequest("the request body is empty; send a JSON object")
    try:
        body = _decoder.decode(raw)
    except msgspec.DecodeError as exc:  # also numbers beyond 64 bits and lone surrogates
        raise errors.MalformedRequest(f"the body is not valid JSON: {exc}") from None
    except UnicodeDecodeError:
        raise errors.MalformedRequest("the body is not valid UTF-8") from None
    except RecursionError:
        raise errors.MalformedRequest("the body is nested too deeply") from None
    if not isinstance(body, dict):
        raise errors.ValidationFailed([errors.FieldError("$", "the body must be a JSON object")])
    if _deeper_than(body, MAX_NESTING):
        raise errors.MalformedRequest(f"the body nests objects or arrays deeper than {MAX_NESTING} levels")
    # Every key is followed by a colon, so a duplicate key needs more colons than distinct keys:
    # most bodies skip the second, slower parse that finds duplicates (RFC 8259 leaves them open).
    if raw.count(b":") > len(body):
        _reject_duplicate_keys(raw)
    return body


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and arrays nest deeper than `limit` (iteratively: no recursion to exhaust)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise errors.MalformedRequest(f"the body repeats the key {key[:64]!r}; keys must be unique")
            seen.add(key)
    return obj


def _reject_duplicate_keys(raw: bytes) -> None:
    """MalformedRequest if any object in the (already valid) JSON repeats a key."""
    json.loads(raw, object_pairs_hook=_no_duplicates)
