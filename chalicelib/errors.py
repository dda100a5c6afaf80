"""One error hierarchy for the whole API.

Use cases and request parsing raise these; `chalicelib.web.problems.problem_for` is the one place
that turns them into RFC 9457 problem+json responses.
"""

from __future__ import annotations

import msgspec


class FieldError(msgspec.Struct, frozen=True):
    """One invalid field of a request body."""

    field: str
    message: str


class PeopleApiError(Exception):
    """Base of every error the API reports to a client."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class PersonNotFound(PeopleApiError):
    """The person does not exist, was deleted, or belongs to someone the caller may not see."""


class VersionMismatch(PeopleApiError):
    """The If-Match precondition does not match the person's current version."""


class ForbiddenOwner(PeopleApiError):
    """A non-admin asked for another user's people."""


class Unauthenticated(PeopleApiError):
    """No usable identity reached the route."""


class ValidationFailed(PeopleApiError):
    """The request body is well-formed JSON but its fields break the rules."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} field(s) failed validation")
        self.errors = errors


class MalformedRequest(PeopleApiError):
    """The body is not parseable JSON, or a query parameter or header is malformed."""


class InvalidCursor(MalformedRequest):
    """A pagination cursor was modified, truncated or issued for another listing."""


class UnsupportedMediaType(PeopleApiError):
    """The Content-Type is not one the route accepts."""


class MethodNotAllowed(PeopleApiError):
    """The path exists but does not have this method."""


class PayloadTooLarge(PeopleApiError):
    """The request body exceeds the size limit."""


class ServiceUnavailable(PeopleApiError):
    """The data store is throttling or unreachable after the SDK's retries."""


class IdempotencyKeyReused(PeopleApiError):
    """The Idempotency-Key was already used by this caller with a different request body."""


class IdempotentRequestInFlight(PeopleApiError):
    """A request with the same Idempotency-Key is being processed right now."""


class WebhookNotFound(PeopleApiError):
    """The webhook endpoint does not exist, or belongs to another user."""


class TooManyWebhooks(PeopleApiError):
    """The caller already has the most webhook endpoints a user may have."""
