"""The OpenAPI document: served without auth, valid OpenAPI 3.1, and exactly the app's routes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client
from openapi_spec_validator import validate

from devstack import ROOT
from devstack.provision import StackInfo

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
def client(chalice_app: Any) -> Iterator[Client]:
    with Client(chalice_app, stage_name="local") as c:
        yield c


@pytest.fixture(scope="module")
def document(client: Client) -> dict[str, Any]:
    response = client.http.get("/openapi.json")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    return dict(json.loads(response.body))


def test_the_document_is_served_without_a_token_and_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_route_of_the_app_is_documented_and_nothing_else(
    chalice_app: Any, document: dict[str, Any]
) -> None:
    # CORS preflights (OPTIONS, chalicelib/web/routes.py) are transport, not operations of the API.
    routes = {
        (path, method.lower())
        for path, entries in chalice_app.routes.items()
        for method in entries
        if method != "OPTIONS"
    }
    documented = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    assert documented == routes


def test_operation_ids_are_the_route_functions(chalice_app: Any, document: dict[str, Any]) -> None:
    names = {
        (path, method.lower()): entry.view_name
        for path, entries in chalice_app.routes.items()
        for method, entry in entries.items()
        if method != "OPTIONS"
    }
    for (path, method), name in names.items():
        assert document["paths"][path][method]["operationId"] == name


def test_protected_routes_require_the_token_and_open_ones_do_not(
    chalice_app: Any, document: dict[str, Any]
) -> None:
    assert document["components"]["securitySchemes"]["CognitoIdToken"]["name"] == "Authorization"
    for path, entries in chalice_app.routes.items():
        for method, entry in entries.items():
            if method == "OPTIONS":
                continue
            operation = document["paths"][path][method.lower()]
            protected = entry.authorizer is not None
            security = operation.get("security", document["security"])
            assert bool(security) == protected, (path, method)
            assert ("401" in operation["responses"]) == protected, (path, method)


def test_headers_and_problems_are_described(document: dict[str, Any]) -> None:
    paths = document["paths"]
    create = paths["/people"]["post"]
    assert {"ETag", "Location"} <= set(create["responses"]["201"]["headers"])
    assert {p["name"] for p in create["parameters"]} == {"Idempotency-Key"}
    assert {"409", "422", "503"} <= set(create["responses"])
    assert "Link" in paths["/people"]["get"]["responses"]["200"]["headers"]
    assert "Link" in paths["/people/{person_id}/history"]["get"]["responses"]["200"]["headers"]
    for method in ("put", "patch", "delete"):
        operation = paths["/people/{person_id}"][method]
        assert "If-Match" in {p["name"] for p in operation["parameters"]}
        assert "412" in operation["responses"]
    patch = paths["/people/{person_id}"]["patch"]["requestBody"]["content"]
    assert set(patch) == {"application/merge-patch+json", "application/json"}
    validation = document["components"]["schemas"]["ValidationProblem"]
    assert "errors" in validation["required"]
    problem = paths["/people/{person_id}"]["put"]["responses"]["422"]["content"]["application/problem+json"]
    assert problem["schema"] == {"$ref": "#/components/schemas/ValidationProblem"}
    assert "Retry-After" in create["responses"]["503"]["headers"]


def test_request_schemas_are_the_validating_types(document: dict[str, Any]) -> None:
    import msgspec

    from chalicelib.domain import PersonInput, PersonPatch

    _, components = msgspec.json.schema_components([PersonInput, PersonPatch])
    schemas = document["components"]["schemas"]
    assert schemas["PersonInput"] == json.loads(msgspec.json.encode(components["PersonInput"]))
    assert schemas["PersonPatch"] == json.loads(msgspec.json.encode(components["PersonPatch"]))


def test_the_create_chain_is_linked_for_stateful_testing(document: dict[str, Any]) -> None:
    links = document["paths"]["/people"]["post"]["responses"]["201"]["links"]
    assert {link["operationId"] for link in links.values()} >= {"get_person", "patch_person", "delete_person"}
    get_links = document["paths"]["/people/{person_id}"]["get"]["responses"]["200"]["links"]
    assert get_links["PatchPerson"]["parameters"]["header.If-Match"] == "$response.header.ETag"


def test_the_document_is_not_built_or_imported_on_a_cold_start(stack: StackInfo) -> None:
    probe = "import sys, app; print('chalicelib.web.openapi' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=dict(os.environ), capture_output=True, check=True
    )
    assert result.stdout.strip() == b"False"


def test_the_document_is_built_once_and_reused(client: Client) -> None:
    from chalicelib.web import openapi

    first = client.http.get("/openapi.json").body
    hits = openapi.document_json.cache_info().hits
    assert client.http.get("/openapi.json").body == first
    assert openapi.document_json.cache_info().hits == hits + 1
