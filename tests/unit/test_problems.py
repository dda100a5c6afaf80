from __future__ import annotations

import json

from chalicelib import errors
from chalicelib.web.problems import problem_for


def test_validation_problems_list_every_field() -> None:
    response = problem_for(errors.ValidationFailed([errors.FieldError("name", "is required")]), "req-1")
    body = json.loads(response.body)
    assert response.status_code == 422 and response.headers["Content-Type"] == "application/problem+json"
    assert body["errors"] == [{"field": "name", "message": "is required"}]
    assert body["status"] == 422 and body["request_id"] == "req-1" and body["type"].startswith("urn:")


def test_every_domain_error_has_a_client_status() -> None:
    def all_subclasses(cls: type) -> list[type]:
        return [cls, *(s for sub in cls.__subclasses__() for s in all_subclasses(sub))]

    for cls in all_subclasses(errors.PeopleApiError):
        if cls in (errors.PeopleApiError,):
            continue
        exc = cls([]) if cls is errors.ValidationFailed else cls("x")
        assert 400 <= problem_for(exc).status_code < 600, cls


def test_idempotency_problems_have_their_statuses() -> None:
    assert problem_for(errors.IdempotencyKeyReused("x")).status_code == 422
    assert problem_for(errors.IdempotentRequestInFlight("x")).status_code == 409
