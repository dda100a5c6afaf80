"""The API's OpenAPI 3.1 document, generated from the msgspec types that validate requests.

The request and response schemas come from `chalicelib.domain`, `chalicelib.ports` and
`chalicelib.web.problems`
through `msgspec.json.schema_components`, so the contract cannot drift from the validation.
Imported and built only when `GET /openapi.json` is first called (never on a cold start).
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

import msgspec

from chalicelib.domain import Person, PersonInput, PersonPatch
from chalicelib.ports import HistoryEntry
from chalicelib.search import COMBINATIONS, MAX_PREFIX_LENGTH, MAX_TAG_LENGTH
from chalicelib.web.headers import IDEMPOTENCY_KEY_PATTERN, IF_MATCH_PATTERN, MAX_HEADER_LENGTH
from chalicelib.web.pagination import DEFAULT_LIMIT, MAX_LIMIT
from chalicelib.web.problems import PROBLEM, Problem, ValidationProblem
from chalicelib.web.requests import MAX_BODY_BYTES
from chalicelib.web.responses import JSON, MERGE_PATCH
from chalicelib.webhooks.service import DeliveryView, SentTest, WebhookInput, WebhookPatch, WebhookView

Schema = dict[str, Any]

REF: Final = "#/components/schemas/{name}"


class Health(msgspec.Struct):
    """The health check's answer."""

    status: str


_MODELS: Final = (
    PersonInput,
    PersonPatch,
    Person,
    HistoryEntry,
    Problem,
    ValidationProblem,
    Health,
    WebhookInput,
    WebhookPatch,
    WebhookView,
    DeliveryView,
    SentTest,
)

_ERROR_TITLES: Final = {
    400: "Malformed request: the body is not JSON, or a query parameter or header is malformed.",
    401: "No token, or a token that is not a valid, unexpired ID token of this API's user pool.",
    403: "Only members of the admins group may list another user's people.",
    404: "No such person, or one the caller may not see.",
    409: "A request with the same Idempotency-Key is still in flight; retry later.",
    412: "If-Match does not match the person's current version (its ETag).",
    413: f"The body is larger than {MAX_BODY_BYTES} bytes.",
    415: "The Content-Type is not one this operation accepts.",
    422: "The body is JSON but breaks the rules; `errors` lists every bad field.",
    500: "An unexpected error; quote `request_id` when reporting it.",
    503: "The data store is throttling or unavailable; retry after `Retry-After` seconds.",
}

_ETAG: Final = {
    "description": "The person's version as a strong entity tag; send it back in If-Match.",
    "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
}
_LINK: Final = {
    "description": 'RFC 8288 link to the next page (`<...>; rel="next"`), present while more remain.',
    "schema": {"type": "string"},
}
_LOCATION: Final = {"description": "The new person's URL.", "schema": {"type": "string"}}
_RETRY_AFTER: Final = {"description": "Seconds to wait before retrying.", "schema": {"type": "string"}}
_WWW_AUTHENTICATE: Final = {"description": "The Bearer challenge.", "schema": {"type": "string"}}

_PERSON_ID: Final = {
    "name": "person_id",
    "in": "path",
    "required": True,
    "description": "The person's id (a ULID; case-insensitive).",
    "schema": {"type": "string", "pattern": "^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$"},
}
_LIMIT: Final = {
    "name": "limit",
    "in": "query",
    "required": False,
    "description": f"Page size (default {DEFAULT_LIMIT}).",
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
}
_CURSOR: Final = {
    "name": "cursor",
    "in": "query",
    "required": False,
    "description": "Opaque cursor from the previous page's `next` link; only valid for that listing.",
    "schema": {"type": "string"},
}
_OWNER: Final = {
    "name": "owner",
    "in": "query",
    "required": False,
    "description": "Whose people to list (a Cognito `sub`); only admins may name someone else.",
    "schema": {"type": "string"},
}
_NAME: Final = {
    "name": "name",
    "in": "query",
    "required": False,
    "description": (
        "Only people whose name starts with this prefix, ignoring case, accents and compatibility "
        "forms (`ad` finds Ada, Ádám and ADRIAN), in that name order. Not with `tag`."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_PREFIX_LENGTH},
}
_TAG: Final = {
    "name": "tag",
    "in": "query",
    "required": False,
    "description": (
        "Only people carrying this tag (compared case-folded), oldest first. Not with `name` or `sort=name`."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_TAG_LENGTH},
}
_SORT: Final = {
    "name": "sort",
    "in": "query",
    "required": False,
    "description": "`created` (the default: oldest first) or `name` (by the folded name).",
    "schema": {"type": "string", "enum": ["created", "name"]},
}
_IF_MATCH: Final = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": (
        "Apply only if the person is at one of these versions: `*` or strong entity tags from ETag "
        '(`"3"`); weak tags never match. Without it the change applies to the current version.'
    ),
    "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
}
_IDEMPOTENCY_KEY: Final = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "draft-ietf-httpapi-idempotency-key-header: a retry with the same key and body within 24 hours "
        "returns the original 201 (same id) without creating a second person; the same key with another "
        "body is 422; while the first request is still in flight, 409. Keys are scoped per user. "
        'An RFC 8941 sf-string (`"8e03978e-40d5-43e8-bc93-6894a57f9324"`, escapes `\\"` and `\\\\`) of '
        "1 to 255 printable ASCII characters, or the bare key: 1 to 255 visible ASCII characters, "
        "no spaces, not starting with a quote. Anything else is 400."
    ),
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_HEADER_LENGTH,
        "pattern": IDEMPOTENCY_KEY_PATTERN,
    },
}


def _ref(name: str) -> Schema:
    return {"$ref": REF.format(name=name)}


def _json(schema: Schema, media_type: str = JSON) -> Schema:
    return {"content": {media_type: {"schema": schema}}}


def _problem(status: int, *, schema: str = "Problem", extra_headers: Schema | None = None) -> Schema:
    headers: Schema = dict(extra_headers or {})
    if status == 503:
        headers["Retry-After"] = _RETRY_AFTER
    if status == 401:
        headers["WWW-Authenticate"] = _WWW_AUTHENTICATE
    # A plain reference, not `allOf: [Problem, {status: {const: N}}]`: client generators
    # (openapi-python-client among them) cannot merge a narrowed property into a referenced
    # model and drop the whole response. The status is the response's own code.
    description = f"{_ERROR_TITLES[status]} (problem+json with `status` {status})"
    response: Schema = {"description": description, **_json(_ref(schema), PROBLEM)}
    if headers:
        response["headers"] = headers
    return response


def _errors(*statuses: int) -> Schema:
    """The problem responses of an authenticated operation: the listed ones plus 401, 500, 503."""
    out = {str(status): _problem(status) for status in sorted({*statuses, 401, 500, 503})}
    if "422" in out:
        out["422"] = _problem(422, schema="ValidationProblem")
    return out


def _person(description: str, **headers: Schema) -> Schema:
    return {"description": description, "headers": {"ETag": _ETAG, **headers}, **_json(_ref("Person"))}


def _link(operation_id: str, *, if_match: str | None = None) -> Schema:
    parameters = {"person_id": "$response.body#/id"}
    if if_match is not None:
        parameters["header.If-Match"] = if_match
    return {"operationId": operation_id, "parameters": parameters}


def _links(*operation_ids: str) -> Schema:
    """Links from a person response to the next operations of the create -> ... -> delete chain."""
    names = {
        "get_person": "GetPerson",
        "patch_person": "PatchPerson",
        "replace_person": "ReplacePerson",
        "delete_person": "DeletePerson",
        "person_history": "PersonHistory",
    }
    links: Schema = {}
    for operation_id in operation_ids:
        needs_version = operation_id in {"patch_person", "replace_person", "delete_person"}
        links[names[operation_id]] = _link(
            operation_id, if_match="$response.header.ETag" if needs_version else None
        )
    return links


def _with_links(response: Schema, *operation_ids: str) -> Schema:
    return {**response, "links": _links(*operation_ids)}


def _write_body(schema: str, media_types: tuple[str, ...]) -> Schema:
    return {"required": True, "content": {m: {"schema": _ref(schema)} for m in media_types}}


def _paths() -> Schema:
    no_auth: list[Schema] = []
    person_ops = {
        "get": {
            "operationId": "get_person",
            "summary": "Get a person",
            "parameters": [_PERSON_ID],
            "responses": {
                "200": _with_links(_person("The person."), "patch_person", "person_history"),
                **_errors(404),
            },
        },
        "put": {
            "operationId": "replace_person",
            "summary": "Replace every writable field (omitted optional fields are cleared)",
            "parameters": [_PERSON_ID, _IF_MATCH],
            "requestBody": _write_body("PersonInput", (JSON,)),
            "responses": {
                "200": _with_links(_person("The replaced person."), "delete_person"),
                **_errors(400, 404, 412, 413, 415, 422),
            },
        },
        "patch": {
            "operationId": "patch_person",
            "summary": "Apply a JSON Merge Patch (RFC 7396) atomically",
            "parameters": [_PERSON_ID, _IF_MATCH],
            "requestBody": _write_body("PersonPatch", (MERGE_PATCH, JSON)),
            "responses": {
                "200": _with_links(_person("The patched person."), "replace_person"),
                **_errors(400, 404, 412, 413, 415, 422),
            },
        },
        "delete": {
            "operationId": "delete_person",
            "summary": "Delete a person",
            "parameters": [_PERSON_ID, _IF_MATCH],
            "responses": {
                "200": {
                    "description": "Deleted; the body is an empty object.",
                    **_json({"type": "object", "maxProperties": 0}),
                },
                **_errors(400, 404, 412),
            },
        },
    }
    create_errors = _errors(400, 409, 413, 415, 422)
    create_errors["422"] = {
        "description": _ERROR_TITLES[422] + " Also: an Idempotency-Key reused with a different body.",
        **_json({"anyOf": [_ref("ValidationProblem"), _ref("Problem")]}, PROBLEM),
    }
    return {
        "/health": {
            "get": {
                "operationId": "health",
                "summary": "Health check",
                "security": no_auth,
                "responses": {"200": {"description": "The API is up.", **_json(_ref("Health"))}},
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi_document",
                "summary": "This OpenAPI document",
                "security": no_auth,
                "responses": {
                    "200": {"description": "The OpenAPI 3.1 document.", **_json({"type": "object"})}
                },
            }
        },
        "/people": {
            "post": {
                "operationId": "create_person",
                "summary": "Create a person owned by the caller",
                "parameters": [_IDEMPOTENCY_KEY],
                "requestBody": _write_body("PersonInput", (JSON,)),
                "responses": {
                    "201": _with_links(
                        _person("Created.", Location=_LOCATION),
                        "get_person",
                        "patch_person",
                        "replace_person",
                        "delete_person",
                        "person_history",
                    ),
                    **create_errors,
                },
            },
            "get": {
                "operationId": "list_people",
                "summary": "List or search a user's people: oldest first, by name, by name prefix or by tag",
                "description": (
                    "Each page is one query on one index, so only these combinations exist: "
                    + "; ".join(COMBINATIONS)
                    + ". Any other is a 400 that lists them. Every one takes `owner`, `limit` and `cursor`; "
                    "a cursor only continues the query (normalised) it came from."
                ),
                "parameters": [_OWNER, _NAME, _TAG, _SORT, _LIMIT, _CURSOR],
                "responses": {
                    "200": {
                        "description": "One page of people.",
                        "headers": {"Link": _LINK},
                        **_json({"type": "array", "items": _ref("Person")}),
                    },
                    **_errors(400, 403),
                },
            },
        },
        "/people/{person_id}": person_ops,
        "/people/{person_id}/history": {
            "get": {
                "operationId": "person_history",
                "summary": "A person's change history, newest first (also after deletion)",
                "parameters": [_PERSON_ID, _LIMIT, _CURSOR],
                "responses": {
                    "200": {
                        "description": "One page of history entries.",
                        "headers": {"Link": _LINK},
                        **_json({"type": "array", "items": _ref("HistoryEntry")}),
                    },
                    **_errors(400, 404),
                },
            }
        },
    }


_WEBHOOK_ID: Final = {
    "name": "webhook_id",
    "in": "path",
    "required": True,
    "description": "The webhook endpoint's id (a ULID; case-insensitive).",
    "schema": {"type": "string", "pattern": "^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$"},
}


def _webhook_errors(*statuses: int) -> Schema:
    out = _errors(*statuses)
    if "404" in out:
        out["404"] = {**out["404"], "description": "No such webhook endpoint, or another user's."}
    if "409" in out:
        out["409"] = {**out["409"], "description": "The caller already has 10 webhook endpoints."}
    if "422" in out:
        out["422"] = {
            **out["422"],
            "description": "A bad field: the URL (https only, at most 2,000 characters, no internal "
            "address), unknown event types, scope `all` for a non-admin; `errors` lists each.",
        }
    return out


def _webhook(description: str, status: str = "200") -> Schema:
    return {status: {"description": description, **_json(_ref("WebhookView"))}}


def _webhook_paths() -> Schema:
    page = {"description": "One page.", "headers": {"Link": _LINK}}
    return {
        "/webhooks": {
            "post": {
                "operationId": "create_webhook",
                "summary": "Register a webhook endpoint (its signing secret is shown only in this answer)",
                "requestBody": _write_body("WebhookInput", (JSON,)),
                "responses": {
                    "201": {
                        "description": "Registered; `secret` (whsec_...) is shown only in this answer.",
                        "headers": {
                            "Location": {"description": "The endpoint's URL.", "schema": {"type": "string"}}
                        },
                        **_json(_ref("WebhookView")),
                    },
                    **_webhook_errors(400, 409, 413, 415, 422),
                },
            },
            "get": {
                "operationId": "list_webhooks",
                "summary": "The caller's webhook endpoints, oldest first",
                "parameters": [_LIMIT, _CURSOR],
                "responses": {
                    "200": {**page, **_json({"type": "array", "items": _ref("WebhookView")})},
                    **_webhook_errors(400),
                },
            },
        },
        "/webhooks/{webhook_id}": {
            "get": {
                "operationId": "get_webhook",
                "summary": "A webhook endpoint, with why it was disabled if it was",
                "parameters": [_WEBHOOK_ID],
                "responses": {**_webhook("The endpoint."), **_webhook_errors(404)},
            },
            "patch": {
                "operationId": "update_webhook",
                "summary": "Change url, events, description or enabled (enabling forgets past failures)",
                "parameters": [_WEBHOOK_ID],
                "requestBody": _write_body("WebhookPatch", (MERGE_PATCH, JSON)),
                "responses": {
                    **_webhook("The changed endpoint."),
                    **_webhook_errors(400, 404, 413, 415, 422),
                },
            },
            "delete": {
                "operationId": "delete_webhook",
                "summary": "Remove a webhook endpoint",
                "parameters": [_WEBHOOK_ID],
                "responses": {
                    "200": {
                        "description": "Deleted; the body is an empty object.",
                        **_json({"type": "object", "maxProperties": 0}),
                    },
                    **_webhook_errors(404),
                },
            },
        },
        "/webhooks/{webhook_id}/secret": {
            "post": {
                "operationId": "rotate_webhook_secret",
                "summary": "Rotate the signing secret: the new one is shown once; both sign for 24 hours",
                "parameters": [_WEBHOOK_ID],
                "responses": {**_webhook("The endpoint with its new `secret`."), **_webhook_errors(404)},
            }
        },
        "/webhooks/{webhook_id}/test": {
            "post": {
                "operationId": "test_webhook",
                "summary": "Send a webhook.test event to the endpoint",
                "parameters": [_WEBHOOK_ID],
                "responses": {
                    "202": {"description": "Queued; find it in the deliveries.", **_json(_ref("SentTest"))},
                    **_webhook_errors(404),
                },
            }
        },
        "/webhooks/{webhook_id}/deliveries": {
            "get": {
                "operationId": "list_webhook_deliveries",
                "summary": "The endpoint's deliveries, newest first: attempts, state, next retry",
                "parameters": [_WEBHOOK_ID, _LIMIT, _CURSOR],
                "responses": {
                    "200": {**page, **_json({"type": "array", "items": _ref("DeliveryView")})},
                    **_webhook_errors(400, 404),
                },
            }
        },
    }


def document(root: str = "") -> Schema:
    """The OpenAPI 3.1 document as a dict; `root` is the path prefix in front of the routes."""
    _, components = msgspec.json.schema_components(_MODELS, ref_template=REF)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "people-api",
            "version": "1.0.0",
            "description": (
                "A /people REST API. Errors are RFC 9457 problem+json. Authenticate with a Cognito ID "
                "token in `Authorization` (raw or `Bearer <token>`)."
            ),
        },
        "servers": [{"url": root or "/"}],
        "security": [{"CognitoIdToken": []}],
        "paths": {**_paths(), **_webhook_paths()},
        "components": {
            "schemas": components,
            "securitySchemes": {
                "CognitoIdToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": (
                        "A Cognito user pool ID token (not an access token), raw or as `Bearer <token>`. "
                        "A token stays valid until it expires, even after its user is disabled or deleted."
                    ),
                }
            },
        },
    }


@cache
def document_json(root: str = "") -> str:
    """The document, JSON-encoded once per process (and path prefix: in practice, one)."""
    return msgspec.json.encode(document(root)).decode()
