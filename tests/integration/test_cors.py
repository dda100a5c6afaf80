"""CORS through Chalice's test client: preflights without a token, grants on success and errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from chalice.test import Client

CONSOLE = "http://127.0.0.1:8001"  # the local stage's CORS_ALLOWED_ORIGINS
OTHER = "https://evil.example"


def test_every_path_of_the_api_answers_a_preflight(chalice_app: Any) -> None:
    from chalicelib.web import routes  # after the stack fixture: the routes choose the authorizer at import

    assert set(routes.PATHS) == set(chalice_app.routes)
    for path, entries in chalice_app.routes.items():
        assert entries["OPTIONS"].authorizer is None, path


@pytest.mark.parametrize(
    "path", ["/people", "/people/01J0000000000000000000000A", "/people/x/history", "/health"]
)
def test_a_preflight_from_the_console_is_granted_without_a_token(client: Client, path: str) -> None:
    response = client.http.request(
        "OPTIONS",
        path,
        headers={
            "Origin": CONSOLE,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization,content-type,if-match,idempotency-key",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == CONSOLE
    assert "PATCH" in response.headers["Access-Control-Allow-Methods"]
    allowed = response.headers["Access-Control-Allow-Headers"].lower().split(",")
    assert {"authorization", "content-type", "if-match", "idempotency-key"} <= set(allowed)
    assert response.headers["Vary"] == "Origin"


def test_a_preflight_from_another_origin_gets_no_grant(client: Client) -> None:
    response = client.http.request(
        "OPTIONS", "/people", headers={"Origin": OTHER, "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Headers" not in response.headers
    assert response.headers["Vary"] == "Origin"


def test_success_and_error_responses_carry_the_grant_and_expose_the_headers(
    client: Client, token_for: Callable[..., str]
) -> None:
    auth = {"Authorization": f"Bearer {token_for('cors-user')}", "Origin": CONSOLE}
    created = client.http.post(
        "/people", headers={**auth, "Content-Type": "application/json"}, body=json.dumps({"name": "Grace"})
    )
    assert created.status_code == 201
    assert created.headers["Access-Control-Allow-Origin"] == CONSOLE
    exposed = set(created.headers["Access-Control-Expose-Headers"].split(","))
    assert {"ETag", "Location", "Link", "Retry-After", "Idempotent-Replayed"} <= exposed
    person_id = created.json_body["id"]
    stale = client.http.patch(
        f"/people/{person_id}",
        headers={**auth, "Content-Type": "application/json", "If-Match": '"7"'},
        body=json.dumps({"name": "Grace H."}),
    )
    assert stale.status_code == 412
    assert stale.headers["Access-Control-Allow-Origin"] == CONSOLE
    not_allowed = client.http.request("TRACE", "/people", headers=auth)
    assert not_allowed.status_code == 405
    assert not_allowed.headers["Access-Control-Allow-Origin"] == CONSOLE


def test_responses_to_other_origins_or_no_origin_carry_only_vary(
    client: Client, token_for: Callable[..., str]
) -> None:
    token = token_for("cors-user")
    for headers in ({"Origin": OTHER}, {}):
        response = client.http.get("/people", headers={"Authorization": f"Bearer {token}", **headers})
        assert response.status_code == 200
        assert response.headers["Vary"] == "Origin"
        assert not [h for h in response.headers if h.lower().startswith("access-control-")]
