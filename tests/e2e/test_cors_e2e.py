"""CORS over real HTTP against the local stack, for the console's origin and for others."""

from __future__ import annotations

import uuid

import pytest

from devstack.background import BackgroundStack
from devstack.tokens import id_token
from tests.e2e.http import request

pytestmark = pytest.mark.e2e

OTHER = "https://evil.example"


def _granted(headers: dict[str, str], origin: str) -> bool:
    assert "origin" in headers["vary"].lower()
    return headers.get("access-control-allow-origin") == origin


def test_a_preflight_from_the_console_is_answered_without_a_token(local_stack: BackgroundStack) -> None:
    reply = request(
        local_stack.api_url,
        "OPTIONS",
        "/people/01J0000000000000000000000A",
        headers={
            "Origin": local_stack.console_url,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization,content-type,if-match",
        },
    )
    assert reply.status == 204
    assert _granted(reply.headers, local_stack.console_url)
    assert "if-match" in reply.headers["access-control-allow-headers"].lower()


def test_the_console_origin_follows_its_port_and_other_origins_get_no_grant(
    local_stack: BackgroundStack,
) -> None:
    # The stack serves the console on a free port: the default origin is not granted then.
    for origin in (OTHER, "http://127.0.0.1:8001"):
        reply = request(
            local_stack.api_url,
            "OPTIONS",
            "/people",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        assert not _granted(reply.headers, origin)
        assert "access-control-allow-headers" not in reply.headers


def test_the_gateways_own_answers_carry_the_grant(local_stack: BackgroundStack) -> None:
    origin = local_stack.console_url
    no_token = request(local_stack.api_url, "GET", "/people", headers={"Origin": origin})
    assert no_token.status == 401
    assert _granted(no_token.headers, origin)
    unknown = request(local_stack.api_url, "GET", "/nowhere", headers={"Origin": origin})
    assert unknown.status == 404
    assert _granted(unknown.headers, origin)
    assert not _granted(
        request(local_stack.api_url, "GET", "/people", headers={"Origin": OTHER}).headers, OTHER
    )


def test_a_created_person_exposes_its_location_and_etag_to_the_console(local_stack: BackgroundStack) -> None:
    origin = local_stack.console_url
    token = id_token(local_stack.info, f"cors-{uuid.uuid4().hex[:8]}")
    reply = request(
        local_stack.api_url, "POST", "/people", token=token, body={"name": "Ada"}, headers={"Origin": origin}
    )
    assert reply.status == 201
    assert _granted(reply.headers, origin)
    exposed = reply.headers["access-control-expose-headers"].lower().split(",")
    assert {"etag", "location"} <= set(exposed)


def test_the_console_is_served_on_its_own_origin_with_the_stacks_settings(
    local_stack: BackgroundStack,
) -> None:
    page = request(local_stack.console_url, "GET", "/")
    assert page.status == 200
    assert b"<title>" in page.raw
    config = request(local_stack.console_url, "GET", "/config.js")
    assert local_stack.api_url.encode() in config.raw
    assert local_stack.info.app_client_id.encode() in config.raw
    assert local_stack.api_url in config.headers["content-security-policy"]
    assert request(local_stack.console_url, "GET", "/../devstack/__init__.py").status == 404
