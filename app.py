"""people-api: the Chalice app. A table of contents: authorizer, routes, event handlers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice.app import Chalice, CognitoUserPoolAuthorizer, Request, Response

from chalicelib import services
from chalicelib.auth import authorize_local, caller_from_context
from chalicelib.config import auth_settings
from chalicelib.domain import Person
from chalicelib.http import (
    JSON,
    MERGE_PATCH,
    api_root,
    api_view,
    etag,
    json_response,
    log_and_shape,
    next_link,
    parse_if_match,
    parse_limit,
    read_json_object,
)
from chalicelib.wiring import cursors, people_repo

app = Chalice(app_name="people-api")

_auth = auth_settings()
authorizer: Any
if _auth.mode == "local-jwt":
    # chalice local does not verify Cognito tokens; this verifies them for real (see auth.py).
    authorizer = app.authorizer(name="LocalCognitoVerifier")(authorize_local)
else:
    authorizer = CognitoUserPoolAuthorizer("PeopleUserPool", provider_arns=[_auth.user_pool_arn])

# We check Content-Type ourselves so an unsupported one gets problem+json, not Chalice's 415.
ANY_TYPE = ["*/*"]


def _request_id() -> str | None:
    context = app.lambda_context
    return getattr(context, "aws_request_id", None)


view = api_view(_request_id)


@app.middleware("http")
def shape_and_log(event: Any, get_response: Any) -> Response:
    return log_and_shape(event, get_response, _request_id())


def _request() -> Request:
    request = app.current_request
    assert request is not None  # Chalice sets it before calling a route
    return request


def _caller() -> services.Caller:
    return caller_from_context(_request().context)


def _person_response(person: Person, status: int = 200, **headers: str) -> Response:
    return json_response(person, status, {"ETag": etag(person.version), **headers})


@app.route("/health", methods=["GET"])
@view
def health() -> Response:
    return json_response({"status": "ok"})


@app.route("/people", methods=["POST"], authorizer=authorizer, content_types=ANY_TYPE)
@view
def create_person() -> Response:
    request = _request()
    person = services.create_person(_caller(), read_json_object(request), people_repo())
    return _person_response(person, 201, Location=f"{api_root(request)}/people/{person.id}")


@app.route("/people", methods=["GET"], authorizer=authorizer)
@view
def list_people() -> Response:
    request = _request()
    caller = _caller()
    params: Mapping[str, str] = request.query_params or {}
    owner = params.get("owner") or caller.sub
    limit = parse_limit(request)
    scope = f"people:{owner}"
    cursor = params.get("cursor")
    after = cursors().decode(scope, cursor) if cursor else None
    page = services.list_people(caller, people_repo(), owner=owner, limit=limit, after=after)
    headers = {}
    if page.last is not None:
        query = {"limit": str(limit), "cursor": cursors().encode(scope, page.last)}
        if owner != caller.sub:
            query = {"owner": owner, **query}
        headers["Link"] = next_link(request, "/people", query)
    return json_response(page.items, 200, headers)


@app.route("/people/{person_id}", methods=["GET"], authorizer=authorizer)
@view
def get_person(person_id: str) -> Response:
    return _person_response(services.get_person(_caller(), person_id, people_repo()))


@app.route("/people/{person_id}", methods=["PUT"], authorizer=authorizer, content_types=ANY_TYPE)
@view
def replace_person(person_id: str) -> Response:
    request = _request()
    precondition = parse_if_match(request.headers.get("if-match"))
    body = read_json_object(request)
    person = services.replace_person(_caller(), person_id, body, people_repo(), precondition)
    return _person_response(person)


@app.route("/people/{person_id}", methods=["PATCH"], authorizer=authorizer, content_types=ANY_TYPE)
@view
def patch_person(person_id: str) -> Response:
    request = _request()
    precondition = parse_if_match(request.headers.get("if-match"))
    body = read_json_object(request, (MERGE_PATCH, JSON))
    person = services.patch_person(_caller(), person_id, body, people_repo(), precondition)
    return _person_response(person)


@app.route("/people/{person_id}", methods=["DELETE"], authorizer=authorizer)
@view
def delete_person(person_id: str) -> Response:
    precondition = parse_if_match(_request().headers.get("if-match"))
    services.delete_person(_caller(), person_id, people_repo(), precondition)
    return json_response({})
