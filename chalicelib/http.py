"""HTTP edges: request parsing, problem+json, ETag/If-Match, cursors and Link headers.

`problem_for` is the one place where errors become responses.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import logging
import re
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from chalice.app import Request, Response

from chalicelib import errors
from chalicelib.services import Precondition

log = logging.getLogger("people_api")
# Lambda's root logger passes only WARNING and above; our request lines are INFO.
log.setLevel(logging.INFO)

MAX_BODY_BYTES = 64 * 1024
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
PROBLEM = "application/problem+json"
DEFAULT_LIMIT = 50
MAX_LIMIT = 100

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()

# error class -> (status, problem type, title). Subclasses map through their nearest listed base.
_PROBLEMS: dict[type[errors.PeopleApiError], tuple[int, str, str]] = {
    errors.MalformedRequest: (400, "urn:people-api:problem:malformed-request", "Malformed request"),
    errors.InvalidCursor: (400, "urn:people-api:problem:invalid-cursor", "Invalid cursor"),
    errors.Unauthenticated: (401, "urn:people-api:problem:unauthenticated", "Unauthenticated"),
    errors.ForbiddenOwner: (403, "urn:people-api:problem:forbidden", "Forbidden"),
    errors.PersonNotFound: (404, "urn:people-api:problem:not-found", "Not found"),
    errors.VersionMismatch: (412, "urn:people-api:problem:precondition-failed", "Precondition failed"),
    errors.PayloadTooLarge: (413, "urn:people-api:problem:payload-too-large", "Payload too large"),
    errors.UnsupportedMediaType: (
        415,
        "urn:people-api:problem:unsupported-media-type",
        "Unsupported media type",
    ),
    errors.ValidationFailed: (422, "urn:people-api:problem:validation-failed", "Validation failed"),
    errors.IdempotentRequestInFlight: (
        409,
        "urn:people-api:problem:request-in-flight",
        "Request in flight",
    ),
    errors.IdempotencyKeyReused: (
        422,
        "urn:people-api:problem:idempotency-key-reused",
        "Idempotency key reused",
    ),
    errors.ServiceUnavailable: (503, "urn:people-api:problem:unavailable", "Service unavailable"),
}
RETRY_AFTER_SECONDS = "1"


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response encoded with msgspec."""
    return Response(
        body=_encoder.encode(body).decode(),
        status_code=status,
        headers={"Content-Type": JSON, **(headers or {})},
    )


def problem(status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any) -> Response:
    """An RFC 9457 problem+json response."""
    body = {"type": type_, "title": title, "status": status, "detail": detail, **extra}
    headers: dict[str, str | list[str]] = {"Content-Type": PROBLEM}
    if status == 503:
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return Response(body=_encoder.encode(body).decode(), status_code=status, headers=headers)


def problem_for(exc: errors.PeopleApiError, request_id: str | None = None) -> Response:
    """The problem+json response for a domain or request error."""
    for cls in type(exc).__mro__:
        if cls in _PROBLEMS:
            status, type_, title = _PROBLEMS[cls]
            break
    else:  # pragma: no cover - every PeopleApiError subclass is listed or inherits one
        status, type_, title = 500, "about:blank", "Internal server error"
    extra: dict[str, Any] = {}
    if isinstance(exc, errors.ValidationFailed):
        extra["errors"] = [{"field": e.field, "message": e.message} for e in exc.errors]
    if request_id:
        extra["request_id"] = request_id
    response = problem(status, title, exc.detail, type_, **extra)
    if isinstance(exc, errors.IdempotentRequestInFlight):
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS  # the first request ends within seconds
    return response


def internal_error(request_id: str | None) -> Response:
    return problem(
        500,
        "Internal server error",
        "An unexpected error occurred; quote the request_id when reporting it.",
        request_id=request_id or "unknown",
    )


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
    # Every key is followed by a colon, so a duplicate key needs more colons than distinct keys:
    # most bodies skip the second, slower parse that finds duplicates (RFC 8259 leaves them open).
    if raw.count(b":") > len(body):
        _reject_duplicate_keys(raw)
    return body


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


def etag(version: int) -> str:
    return f'"{version}"'


# RFC 9110 If-Match: "*" or a comma-separated list of entity tags (empty elements allowed).
_ENTITY_TAG = r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"'
IF_MATCH_PATTERN = rf"^[ \t]*(?:\*|(?:{_ENTITY_TAG})?(?:[ \t]*,[ \t]*(?:{_ENTITY_TAG})?)*)[ \t]*$"
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


MAX_IDEMPOTENCY_KEY_LENGTH = 255


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


def parse_limit(request: Request) -> int:
    params: Mapping[str, str] = request.query_params or {}
    raw = params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
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

    def decode_int(self, scope: str, token: str) -> int:
        """A cursor whose key is a non-negative integer (a version)."""
        last = self.decode(scope, token)
        if not last.isdigit():
            raise errors.InvalidCursor("the cursor is not one this listing issued; start again without it")
        return int(last)


def api_root(request: Request, collection: str = "/people") -> str:
    """The path prefix in front of the API's routes (the API Gateway stage, if any)."""
    path = (request.context or {}).get("path") or ""
    index = path.find(collection)
    return path[:index] if index > 0 else ""


def next_link(request: Request, collection_path: str, query: Mapping[str, str]) -> str:
    """An RFC 8288 Link header value pointing at the next page."""
    from urllib.parse import urlencode

    return f'<{api_root(request)}{collection_path}?{urlencode(query)}>; rel="next"'


def api_view(
    request_id: Callable[[], str | None],
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Wrap a route so every error leaves as problem+json and never as a traceback."""

    def decorate(view: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            try:
                return view(*args, **kwargs)
            except errors.PeopleApiError as exc:
                return problem_for(exc, request_id())
            except Exception as exc:
                rid = request_id()
                # One JSON record, traceback included as a field, so the log stays one line each.
                log.error(
                    json.dumps(
                        {
                            "event": "unhandled_error",
                            "request_id": rid,
                            "view": view.__name__,
                            "error": type(exc).__name__,
                            "traceback": traceback.format_exc(),
                        }
                    )
                )
                return internal_error(rid)

        return wrapper

    return decorate


def _chalice_error_to_problem(response: Response) -> Response:
    """Chalice answers some requests itself (405, 415, 500) with {Code, Message}; reshape them."""
    body = response.body
    if isinstance(body, dict) and "Code" in body and "Message" in body:
        status = response.status_code
        reshaped = problem(status, str(body["Code"]), str(body["Message"]))
        reshaped.headers.update({k: v for k, v in response.headers.items() if k.lower() == "allow"})
        return reshaped
    return response


def log_and_shape(
    request: Request, get_response: Callable[[Request], Response], request_id: str | None
) -> Response:
    """Middleware body: one structured log line per request, and problem+json for Chalice's own errors."""
    started = time.perf_counter()
    response = _chalice_error_to_problem(get_response(request))
    if not log.isEnabledFor(logging.INFO):
        return response  # nobody would read the line: skip building it on the hot path
    context = request.context or {}
    claims = (context.get("authorizer") or {}).get("claims") or {}
    log.info(
        json.dumps(
            {
                "event": "request",
                "request_id": request_id,
                "method": request.method,
                "route": context.get("resourcePath"),
                "status": response.status_code,
                "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                "sub": claims.get("sub"),
            }
        )
    )
    return response
