"""The HTTP routes, as a Chalice Blueprint: each parses the request, calls one use case and
maps the result to a response. Errors leave through `api_view` as problem+json."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from chalice.app import Blueprint, CognitoUserPoolAuthorizer, Request, Response

from chalicelib import services
from chalicelib.config import auth_settings
from chalicelib.domain import Person
from chalicelib.errors import InvalidCursor
from chalicelib.search import parse_query
from chalicelib.web.auth import caller_from_context
from chalicelib.web.headers import parse_idempotency_key, parse_if_match
from chalicelib.web.middleware import api_view
from chalicelib.web.pagination import api_root, next_link, parse_limit
from chalicelib.web.requests import query_params, read_json_object
from chalicelib.web.responses import JSON, MERGE_PATCH, etag, json_response
from chalicelib.wiring import cursors, history_repo, people_repo, webhook_repo

bp = Blueprint(__name__)

_auth = auth_settings()
authorizer: Any
if _auth.mode == "local-jwt":
    # chalice local does not verify Cognito tokens; the local stage's verifier does (dev only).
    from devstack.local_auth import authorize_local

    authorizer = bp.authorizer(name="LocalCognitoVerifier")(authorize_local)
else:
    authorizer = CognitoUserPoolAuthorizer("PeopleUserPool", provider_arns=[_auth.user_pool_arn])

# We check Content-Type ourselves so an unsupported one gets problem+json, not Chalice's 415.
ANY_TYPE = ["*/*"]


def request_id() -> str | None:
    """The Lambda request id, quoted in logs and in 500 responses."""
    return getattr(bp.lambda_context, "aws_request_id", None)


view = api_view(request_id)


def _request() -> Request:
    request = bp.current_request
    assert request is not None  # Chalice sets it before calling a route
    return request


def _caller() -> services.Caller:
    return caller_from_context(_request().context)


def _params(*accepted: str) -> Mapping[str, str]:
    """The request's query parameters; any but `accepted` (or a repeated one) is a 400."""
    return query_params(_request(), *accepted)


def _person_response(person: Person, status: int = 200, **headers: str) -> Response:
    return json_response(person, status, {"ETag": etag(person.version), **headers})


def _page_response(
    items: Sequence[Any],
    last: str | None,
    scope: str,
    path: str,
    limit: int,
    query: Mapping[str, str] | None = None,
) -> Response:
    """A page as a JSON array, with an RFC 8288 `next` link while more remain."""
    headers = {}
    if last is not None:
        next_query = {**(query or {}), "limit": str(limit), "cursor": cursors().encode(scope, last)}
        headers["Link"] = next_link(_request(), path, next_query)
    return json_response(items, 200, headers)


def _cursor(params: Mapping[str, str], scope: str) -> str | None:
    token = params.get("cursor")
    return cursors().decode(scope, token) if token else None


# Every path of the API (a test checks this equals the app's paths). A CORS preflight carries no
# Authorization header, so its OPTIONS route has no authorizer; `with_cors` adds the grant.
PATHS = (
    "/health",
    "/openapi.json",
    "/people",
    "/people/{person_id}",
    "/people/{person_id}/history",
    "/webhooks",
    "/webhooks/{webhook_id}",
    "/webhooks/{webhook_id}/secret",
    "/webhooks/{webhook_id}/test",
    "/webhooks/{webhook_id}/deliveries",
)


def preflight(**_path_params: str) -> Response:
    """Answer a CORS preflight: 204, with the grant (if any) added by the middleware."""
    return Response(body="", status_code=204)


for _path in PATHS:
    bp.route(_path, methods=["OPTIONS"])(preflight)


@bp.route("/health", methods=["GET"])
@view
def health() -> Response:
    _params()
    return json_response({"status": "ok"})


@bp.route("/openapi.json", methods=["GET"])
@view
def openapi_document() -> Response:
    # Imported here: building the document is paid by its first caller, never by a cold start.
    from chalicelib.web import openapi

    _params()
    body = openapi.document_json(api_root(_request(), "/openapi.json"))
    return Response(body=body, status_code=200, headers={"Content-Type": JSON})


@bp.route("/people", methods=["POST"], authorizer=authorizer, content_types=ANY_TYPE)
@view
def create_person() -> Response:
    request = _request()
    _params()
    key = parse_idempotency_key(request.headers.get("idempotency-key"))
    body = read_json_object(request)
    headers = {}
    if key is None:
        person = services.create_person(_caller(), body, people_repo())
    else:
        created = services.create_person_once(_caller(), body, key, people_repo())
        person = created.person
        if created.replayed:
            headers["Idempotent-Replayed"] = "true"
    headers["Location"] = f"{api_root(request)}/people/{person.id}"
    return _person_response(person, 201, **headers)


@bp.route("/people", methods=["GET"], authorizer=authorizer)
@view
def list_people() -> Response:
    params = _params("owner", "limit", "cursor", "name", "tag", "sort")
    caller = _caller()
    owner = services.listing_owner(caller, params.get("owner"))
    limit = parse_limit(params)
    search = parse_query(params.get("name"), params.get("tag"), params.get("sort"))
    scope = search.scope(owner)
    after = _cursor(params, scope)
    page = services.list_people(caller, people_repo(), owner=owner, limit=limit, after=after, query=search)
    # The next page repeats the query as given; its cursor is bound to the normalised query.
    query = {key: params[key] for key in ("name", "tag", "sort") if key in params}
    if owner != caller.sub:
        query["owner"] = owner
    return _page_response(page.items, page.last, scope, "/people", limit, query)


@bp.route("/people/{person_id}", methods=["GET"], authorizer=authorizer)
@view
def get_person(person_id: str) -> Response:
    _params()
    return _person_response(services.get_person(_caller(), person_id, people_repo()))


@bp.route("/people/{person_id}", methods=["PUT"], authorizer=authorizer, content_types=ANY_TYPE)
@view
def replace_person(person_id: str) -> Response:
    return _update(person_id, "replace", (JSON,))


@bp.route("/people/{person_id}", methods=["PATCH"], authorizer=authorizer, content_types=ANY_TYPE)
@view
def patch_person(person_id: str) -> Response:
    return _update(person_id, "patch", (MERGE_PATCH, JSON))


def _update(person_id: str, mode: Literal["replace", "patch"], accepted: tuple[str, ...]) -> Response:
    request = _request()
    _params()
    precondition = parse_if_match(request.headers.get("if-match"))
    body = read_json_object(request, accepted)
    person = services.update_person(_caller(), person_id, body, people_repo(), precondition, mode=mode)
    return _person_response(person)


@bp.route("/people/{person_id}", methods=["DELETE"], authorizer=authorizer)
@view
def delete_person(person_id: str) -> Response:
    _params()
    precondition = parse_if_match(_request().headers.get("if-match"))
    services.delete_person(_caller(), person_id, people_repo(), precondition)
    return json_response({})


@bp.route("/people/{person_id}/history", methods=["GET"], authorizer=authorizer)
@view
def person_history(person_id: str) -> Response:
    params = _params("limit", "cursor")
    limit = parse_limit(params)
    canonical = services.person_id(person_id)
    scope = f"history:{canonical}"
    token = params.get("cursor")
    # A history cursor carries the version to continue before and the owner the first page
    # read from the person item, both signed.
    before, owner = _history_position(cursors().decode(scope, token)) if token else (None, None)
    page = services.person_history(
        _caller(), canonical, history_repo(), limit=limit, before=before, owner=owner
    )
    last = f"{page.last} {page.owner}" if page.last is not None else None
    return _page_response(page.items, last, scope, f"/people/{canonical}/history", limit)


def _history_position(payload: str) -> tuple[int, str]:
    version, _, owner = payload.partition(" ")
    if not (version.isascii() and version.isdigit() and owner):  # pragma: no cover - signed by us
        raise InvalidCursor("the cursor is not one this listing issued; start again without it")
    return int(version), owner


# --- webhooks: the webhook code is imported by these routes only, never on a cold start -------


def _webhook_response(endpoint: Any, status: int = 200, **headers: str) -> Response:
    from chalicelib.webhooks import service as webhooks

    shown = endpoint if isinstance(endpoint, webhooks.WebhookView) else webhooks.view(endpoint)
    return json_response(shown, status, headers)


@bp.route("/webhooks", methods=["POST"], authorizer=authorizer, content_types=ANY_TYPE)
@view
def create_webhook() -> Response:
    from chalicelib.webhooks import service as webhooks
    from chalicelib.wiring import secret_box, webhook_policy

    request = _request()
    _params()
    body = read_json_object(request)
    created = webhooks.create_webhook(_caller(), body, webhook_repo(), secret_box(), webhook_policy())
    return _webhook_response(created, 201, Location=f"{api_root(request, '/webhooks')}/webhooks/{created.id}")


@bp.route("/webhooks", methods=["GET"], authorizer=authorizer)
@view
def list_webhooks() -> Response:
    from chalicelib.webhooks import service as webhooks

    params = _params("limit", "cursor")
    caller = _caller()
    limit = parse_limit(params)
    scope = f"webhooks:{caller.sub}"
    page = webhooks.list_webhooks(caller, webhook_repo(), limit=limit, after=_cursor(params, scope))
    return _page_response([webhooks.view(e) for e in page.items], page.last, scope, "/webhooks", limit)


@bp.route("/webhooks/{webhook_id}", methods=["GET"], authorizer=authorizer)
@view
def get_webhook(webhook_id: str) -> Response:
    from chalicelib.webhooks import service as webhooks

    _params()
    return _webhook_response(webhooks.get_webhook(_caller(), webhook_id, webhook_repo()))


@bp.route("/webhooks/{webhook_id}", methods=["PATCH"], authorizer=authorizer, content_types=ANY_TYPE)
@view
def update_webhook(webhook_id: str) -> Response:
    from chalicelib.webhooks import service as webhooks
    from chalicelib.wiring import webhook_policy

    request = _request()
    _params()
    body = read_json_object(request, (MERGE_PATCH, JSON))
    updated = webhooks.update_webhook(_caller(), webhook_id, body, webhook_repo(), webhook_policy())
    return _webhook_response(updated)


@bp.route("/webhooks/{webhook_id}", methods=["DELETE"], authorizer=authorizer)
@view
def delete_webhook(webhook_id: str) -> Response:
    from chalicelib.webhooks import service as webhooks

    _params()
    webhooks.delete_webhook(_caller(), webhook_id, webhook_repo())
    return json_response({})


@bp.route("/webhooks/{webhook_id}/secret", methods=["POST"], authorizer=authorizer, content_types=ANY_TYPE)
@view
def rotate_webhook_secret(webhook_id: str) -> Response:
    from chalicelib.webhooks import service as webhooks
    from chalicelib.wiring import secret_box

    _params()
    return _webhook_response(webhooks.rotate_secret(_caller(), webhook_id, webhook_repo(), secret_box()))


@bp.route("/webhooks/{webhook_id}/test", methods=["POST"], authorizer=authorizer, content_types=ANY_TYPE)
@view
def test_webhook(webhook_id: str) -> Response:
    from chalicelib.config import settings
    from chalicelib.webhooks import service as webhooks
    from chalicelib.wiring import delivery_queue

    _params()
    sent = webhooks.send_test(
        _caller(), webhook_id, webhook_repo(), delivery_queue(), source=settings().event_source
    )
    return json_response(sent, 202)


@bp.route("/webhooks/{webhook_id}/deliveries", methods=["GET"], authorizer=authorizer)
@view
def list_webhook_deliveries(webhook_id: str) -> Response:
    from chalicelib.webhooks import service as webhooks

    params = _params("limit", "cursor")
    caller = _caller()
    limit = parse_limit(params)
    canonical = webhooks.webhook_id(webhook_id)
    scope = f"deliveries:{caller.sub}:{canonical}"
    page = webhooks.list_deliveries(
        caller, canonical, webhook_repo(), limit=limit, after=_cursor(params, scope)
    )
    items = [webhooks.delivery_view(d) for d in page.items]
    return _page_response(items, page.last, scope, f"/webhooks/{canonical}/deliveries", limit)
