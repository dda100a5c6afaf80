"""RFC 9457 problem+json: the one shape of every error response, and the one mapping from errors.

The app, the OpenAPI document, the local stack's gateway-response shim and the deployed gateway
responses all build their bodies from `Problem`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec
from chalice.app import Response

from chalicelib import errors
from chalicelib.errors import FieldError

PROBLEM: Final = "application/problem+json"
RETRY_AFTER_SECONDS: Final = "1"
UNAUTHENTICATED_CHALLENGE: Final = 'Bearer error="invalid_token"'


class Problem(msgspec.Struct, omit_defaults=True, kw_only=True):
    """An RFC 9457 problem details object.

    `status` is left out only by the gateway's catch-all answers, whose status the gateway picks.
    """

    type: str
    title: str
    status: int | msgspec.UnsetType = msgspec.UNSET
    detail: str
    errors: list[FieldError] | msgspec.UnsetType = msgspec.UNSET
    request_id: str | msgspec.UnsetType = msgspec.UNSET


class ValidationProblem(msgspec.Struct, omit_defaults=True, kw_only=True):
    """A 422 problem: the body is JSON but breaks the rules; `errors` lists every bad field."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError]
    request_id: str | msgspec.UnsetType = msgspec.UNSET


_encoder = msgspec.json.Encoder()

# error class -> (status, problem type, title). Subclasses map through their nearest listed base.
PROBLEM_TYPES: Final[dict[type[errors.PeopleApiError], tuple[int, str, str]]] = {
    errors.MalformedRequest: (400, "urn:people-api:problem:malformed-request", "Malformed request"),
    errors.InvalidCursor: (400, "urn:people-api:problem:invalid-cursor", "Invalid cursor"),
    errors.Unauthenticated: (401, "urn:people-api:problem:unauthenticated", "Unauthenticated"),
    errors.ForbiddenOwner: (403, "urn:people-api:problem:forbidden", "Forbidden"),
    errors.PersonNotFound: (404, "urn:people-api:problem:not-found", "Not found"),
    errors.WebhookNotFound: (404, "urn:people-api:problem:not-found", "Not found"),
    errors.IdempotentRequestInFlight: (409, "urn:people-api:problem:request-in-flight", "Request in flight"),
    errors.MethodNotAllowed: (405, "urn:people-api:problem:method-not-allowed", "Method not allowed"),
    errors.TooManyWebhooks: (409, "urn:people-api:problem:webhook-limit", "Webhook limit reached"),
    errors.VersionMismatch: (412, "urn:people-api:problem:precondition-failed", "Precondition failed"),
    errors.PayloadTooLarge: (413, "urn:people-api:problem:payload-too-large", "Payload too large"),
    errors.UnsupportedMediaType: (
        415,
        "urn:people-api:problem:unsupported-media-type",
        "Unsupported media type",
    ),
    errors.ValidationFailed: (422, "urn:people-api:problem:validation-failed", "Validation failed"),
    errors.IdempotencyKeyReused: (
        422,
        "urn:people-api:problem:idempotency-key-reused",
        "Idempotency key reused",
    ),
    errors.ServiceUnavailable: (503, "urn:people-api:problem:unavailable", "Service unavailable"),
}


def encode(problem: Problem) -> bytes:
    """The problem as its JSON document."""
    return _encoder.encode(problem)


def problem_headers(status: int | msgspec.UnsetType) -> dict[str, str]:
    """The headers every problem response of this status carries."""
    headers = {"Content-Type": PROBLEM}
    if status == 503:
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    if status == 401:
        headers["WWW-Authenticate"] = UNAUTHENTICATED_CHALLENGE
    return headers


def problem_response(problem: Problem, headers: Mapping[str, str | list[str]] | None = None) -> Response:
    """A problem as a Chalice response."""
    status = problem.status if isinstance(problem.status, int) else 500
    return Response(
        body=encode(problem).decode(),
        status_code=status,
        headers={**problem_headers(status), **(headers or {})},
    )


def problem_for(exc: errors.PeopleApiError, request_id: str | None = None) -> Response:
    """The problem+json response for a domain or request error."""
    for cls in type(exc).__mro__:
        if cls in PROBLEM_TYPES:
            status, type_, title = PROBLEM_TYPES[cls]
            break
    else:  # pragma: no cover - every PeopleApiError subclass is listed or inherits one
        status, type_, title = 500, "about:blank", "Internal server error"
    extra: dict[str, Any] = {}
    if isinstance(exc, errors.ValidationFailed):
        extra["errors"] = list(exc.errors)
    if request_id:
        extra["request_id"] = request_id
    headers = {}
    if isinstance(exc, errors.IdempotentRequestInFlight):
        headers["Retry-After"] = RETRY_AFTER_SECONDS  # the first request ends within seconds
    return problem_response(
        Problem(type=type_, title=title, status=status, detail=exc.detail, **extra), headers
    )


def internal_error(request_id: str | None) -> Response:
    """The 500 answer: no detail beyond a request id to quote."""
    return problem_response(
        Problem(
            type="about:blank",
            title="Internal server error",
            status=500,
            detail="An unexpected error occurred; quote the request_id when reporting it.",
            request_id=request_id or "unknown",
        )
    )


def gateway_problem(spec: Mapping[str, Any], status: int | None = None, **extra: Any) -> Problem:
    """The problem of one gateway response (infra/gateway-responses.json), as the gateway sends it."""
    code = spec.get("status") or status
    return Problem(
        type=spec["type"],
        title=spec["title"],
        detail=spec["detail"],
        status=code if code is not None else msgspec.UNSET,
        **extra,
    )
