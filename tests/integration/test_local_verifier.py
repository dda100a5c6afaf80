"""The local stage's verifier tells a bad token (401) from a server that cannot verify any (500)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from chalice.test import Client

from devstack.background import free_port


def test_unreachable_pool_keys_are_a_500_problem_not_a_401(
    chalice_app: Any, token_for: Callable[..., str], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    from chalicelib.config import settings
    from devstack import local_auth

    unreachable = msgspec.structs.replace(
        settings(), jwks_url=f"http://127.0.0.1:{free_port()}/nobody-listens/jwks.json"
    )
    monkeypatch.setattr(local_auth, "_verifier_settings", lambda: unreachable)
    with Client(chalice_app, stage_name="local") as client:
        response = client.http.get("/people", headers={"Authorization": f"Bearer {token_for('alice')}"})
    assert response.status_code == 500, response.body
    assert response.headers["Content-Type"] == "application/problem+json"
    assert json.loads(response.body)["status"] == 500
    (line,) = [r.getMessage() for r in caplog.records if "authorizer_unavailable" in r.getMessage()]
    assert "cannot fetch the user pool's keys" in json.loads(line)["error"]
