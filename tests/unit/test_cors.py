"""The CORS rules: which origin gets which headers, and which configured lists are refused."""

from __future__ import annotations

import pytest

from chalicelib.config import InvalidOrigins, parse_allowed_origins
from chalicelib.web.cors import add_vary, cors_headers

CONSOLE = "http://127.0.0.1:8001"


def test_an_allowed_origin_is_granted_exactly_with_every_header_a_client_needs() -> None:
    headers = cors_headers(CONSOLE, {CONSOLE})
    assert headers["Access-Control-Allow-Origin"] == CONSOLE
    assert headers["Vary"] == "Origin"
    assert set(headers["Access-Control-Allow-Headers"].split(",")) == {
        "Authorization",
        "Content-Type",
        "If-Match",
        "Idempotency-Key",
    }
    assert set(headers["Access-Control-Expose-Headers"].split(",")) == {
        "ETag",
        "Location",
        "Link",
        "Retry-After",
        "Idempotent-Replayed",
    }
    assert {"GET", "POST", "PUT", "PATCH", "DELETE"} <= set(
        headers["Access-Control-Allow-Methods"].split(",")
    )
    assert int(headers["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in headers


@pytest.mark.parametrize(
    "origin",
    [None, "http://127.0.0.1:8002", "https://127.0.0.1:8001", "http://localhost:8001", "null", "*", ""],
)
def test_any_other_origin_gets_only_vary(origin: str | None) -> None:
    assert cors_headers(origin, {CONSOLE}) == {"Vary": "Origin"}


def test_no_configured_origin_grants_nobody() -> None:
    assert cors_headers(CONSOLE, parse_allowed_origins("")) == {"Vary": "Origin"}


def test_origins_are_read_from_a_comma_or_space_separated_list() -> None:
    assert parse_allowed_origins(" https://Console.Example.com, http://127.0.0.1:8001  http://[::1]:9 ") == {
        "https://console.example.com",
        "http://127.0.0.1:8001",
        "http://[::1]:9",
    }


@pytest.mark.parametrize(
    "entry",
    ["*", "null", "https://console.example.com/", "https://a.example/app", "console.example.com", "ftp://x"],
)
def test_an_entry_that_is_not_an_origin_is_refused(entry: str) -> None:
    with pytest.raises(InvalidOrigins, match="not an origin"):
        parse_allowed_origins(f"http://127.0.0.1:8001,{entry}")


def test_vary_is_merged_into_an_existing_vary() -> None:
    assert add_vary("Accept-Encoding", {"Vary": "Origin"}) == {"Vary": "Accept-Encoding, Origin"}
    assert add_vary("origin", {"Vary": "Origin"}) == {"Vary": "origin"}
    assert add_vary(None, {"Vary": "Origin"}) == {"Vary": "Origin"}
